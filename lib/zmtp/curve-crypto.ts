// The few NaCl operations CurveZMQ needs (RFC 26: crypto_box with a precomputed key, secretbox,
// X25519), each taken from an audited library, never written here. Three interchangeable
// backends, fastest first (figures in bench/curve-crypto.ts and docs/benchmarks.md):
// - libsodium-native: the system's libsodium (Debian libsodium23, which libzmq itself uses)
//   through bun:ffi;
// - libsodium: the same C code compiled to WebAssembly (libsodium-wrappers), when the system
//   has no libsodium;
// - noble: @noble/curves + @noble/ciphers, pure JavaScript, for comparison.
// Loading a backend touches the file system (dlopen) or compiles WebAssembly; the operations
// themselves are pure computation (the caller supplies keys and nonces).
// The JavaScript and WebAssembly libraries are imported only when asked for, so a process that
// never speaks CURVE does not load them.
import { type CurveCrypto, MAC_BYTES } from "./curve.ts";
import { loadNativeSodium } from "./curve-sodium-native.ts";

export type { CurveCrypto } from "./curve.ts";
export type CurveBackend = "libsodium-native" | "libsodium" | "noble";

/** What a backend that works on copies supplies; `decrypt` may throw on a forged box. */
interface CopyingBackend {
  readonly name: CurveCrypto["name"];
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  boxKey(publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array | null;
  seal(plaintext: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  decrypt(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
}

/**
 * A CurveCrypto from a backend that cannot work in place: `open` answers null for a short or
 * forged box instead of throwing, and the in-place operations go through copies.
 */
function copyingCrypto(base: CopyingBackend): CurveCrypto {
  const open = (box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null => {
    if (box.length < MAC_BYTES) return null;
    try {
      return base.decrypt(box, nonce, key);
    } catch {
      return null;
    }
  };
  return {
    name: base.name,
    publicKeyOf: base.publicKeyOf,
    boxKey: base.boxKey,
    seal: base.seal,
    open,
    sealInPlace(buffer, at, length, nonce, key) {
      const plaintext = buffer.slice(at + MAC_BYTES, at + length);
      buffer.set(base.seal(plaintext, nonce, key), at);
    },
    openInPlace(buffer, at, length, nonce, key) {
      const plaintext = open(buffer.subarray(at, at + length), nonce, key);
      if (plaintext === null) return false;
      buffer.set(plaintext, at + MAC_BYTES);
      return true;
    },
  };
}

async function nobleCrypto(): Promise<CurveCrypto> {
  const { hsalsa, xsalsa20poly1305 } = await import("@noble/ciphers/salsa.js");
  const { x25519 } = await import("@noble/curves/ed25519.js");
  return copyingCrypto({
    name: "noble",
    publicKeyOf: (secretKey) => x25519.getPublicKey(secretKey),
    boxKey(publicKey, secretKey) {
      let shared: Uint8Array;
      try {
        shared = x25519.getSharedSecret(secretKey, publicKey);
      } catch {
        return null; // noble refuses low-order points
      }
      // crypto_box_beforenm is HSalsa20 keyed by the X25519 output, with an all-zero input.
      const sigma = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
      const key = new Uint32Array(8);
      hsalsa(sigma, new Uint32Array(shared.slice().buffer), new Uint32Array(4), key);
      return new Uint8Array(key.buffer);
    },
    seal: (plaintext, nonce, key) => xsalsa20poly1305(key, nonce).encrypt(plaintext),
    decrypt: (box, nonce, key) => xsalsa20poly1305(key, nonce).decrypt(box),
  });
}

async function libsodiumCrypto(): Promise<CurveCrypto> {
  const { default: sodium } = await import("libsodium-wrappers");
  await sodium.ready;
  return copyingCrypto({
    name: "libsodium",
    publicKeyOf: (secretKey) => sodium.crypto_scalarmult_base(secretKey),
    boxKey(publicKey, secretKey) {
      try {
        return sodium.crypto_box_beforenm(publicKey, secretKey);
      } catch {
        return null; // libsodium refuses low-order points
      }
    },
    seal: (plaintext, nonce, key) => sodium.crypto_box_easy_afternm(plaintext, nonce, key),
    decrypt: (box, nonce, key) => sodium.crypto_box_open_easy_afternm(box, nonce, key),
  });
}

let wasm: Promise<CurveCrypto> | undefined;

/**
 * The crypto backend for CURVE sockets: by default the system's libsodium, else its
 * WebAssembly build (which must compile first, about 20 ms: hence the promise). Load it once at
 * startup and pass it in the socket options.
 */
export async function loadCurveCrypto(backend?: CurveBackend): Promise<CurveCrypto> {
  if (backend === "noble") return nobleCrypto();
  if (backend === undefined || backend === "libsodium-native") {
    const native = loadNativeSodium();
    if (native !== null) return native;
    if (backend === "libsodium-native") throw new Error("the system has no usable libsodium");
  }
  wasm ??= libsodiumCrypto();
  return wasm;
}
