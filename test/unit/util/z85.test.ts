// Z85 against RFC 32's test vector and the CURVE key pairs libzmq's own tests use, whose public
// halves must be the X25519 public keys of their secret halves.
import { describe, expect, test } from "bun:test";
import { z85Decode, z85Encode } from "../../../lib/util/z85.ts";
import { loadCurveCrypto } from "../../../lib/zmtp/curve-crypto.ts";

/** RFC 32 §"Test Case": 8 bytes and their Z85 text. */
const RFC32_BYTES = Uint8Array.of(0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b);
const RFC32_TEXT = "HelloWorld";

/** Key pairs from libzmq's test_security_curve.cpp (Z85, as zmq_curve_keypair writes them). */
const LIBZMQ_PAIRS = [
  {
    publicKey: "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
    secretKey: "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
  },
  {
    publicKey: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
    secretKey: "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
  },
];

describe("z85", () => {
  test("RFC 32 test vector, both directions", () => {
    expect(z85Encode(RFC32_BYTES)).toBe(RFC32_TEXT);
    expect(z85Decode(RFC32_TEXT)).toEqual(RFC32_BYTES);
  });

  test("extremes of a 4-byte group", () => {
    expect(z85Encode(new Uint8Array(4))).toBe("00000");
    expect(z85Encode(Uint8Array.of(255, 255, 255, 255))).toBe("%nSc0");
    expect(z85Decode("%nSc0")).toEqual(Uint8Array.of(255, 255, 255, 255));
  });

  test("round trip of every byte value", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = z85Encode(bytes) as string;
    expect(text.length).toBe(320);
    expect(z85Decode(text)).toEqual(bytes);
  });

  test("libzmq's key pairs decode to 32 bytes and match under X25519", async () => {
    for (const backend of ["libsodium-native", "libsodium", "noble"] as const) {
      const crypto = await loadCurveCrypto(backend);
      for (const pair of LIBZMQ_PAIRS) {
        const secret = z85Decode(pair.secretKey) as Uint8Array;
        expect(secret.length).toBe(32);
        expect(z85Encode(crypto.publicKeyOf(secret))).toBe(pair.publicKey);
      }
    }
  });

  test("refuses wrong lengths, characters outside the alphabet and groups above 2^32", () => {
    expect(z85Encode(new Uint8Array(3))).toBeNull();
    expect(z85Decode("Hello")).not.toBeNull();
    expect(z85Decode("Hell")).toBeNull();
    expect(z85Decode("Hell,")).toBeNull(); // ',' is not in the alphabet
    expect(z85Decode("Hell\u00e9")).toBeNull();
    expect(z85Decode("#####")).toBeNull(); // 85^5 - 1 > 2^32 - 1
    expect(z85Decode("%nSc1")).toBeNull(); // 2^32
  });
});
