// What the CURVE fuzz tests share: reproducible key pairs and random bytes chosen by fast-check
// (a "world"), the system libsodium nodes run, and commands a peer might send. No I/O beyond
// loading the crypto backend.
import fc from "fast-check";
import { encodeMetadata, parseProperties } from "../../../lib/zmtp/codec.ts";
import type { RandomBytes } from "../../../lib/zmtp/curve.ts";
import { loadCurveCrypto } from "../../../lib/zmtp/curve-crypto.ts";
import { bytesArb } from "../../harness/fuzz.ts";

export const crypto = await loadCurveCrypto();

/** Reproducible bytes from a seed (xorshift32): fast-check picks the seed, so runs replay. */
export function seededRandom(seed: number): RandomBytes {
  let x = seed >>> 0 || 1;
  return (length) =>
    Uint8Array.from({ length }, () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x & 0xff;
    });
}

export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function keyPair(seed: number): KeyPair {
  const secretKey = seededRandom(seed)(32);
  return { publicKey: crypto.publicKeyOf(secretKey), secretKey };
}

export interface World {
  server: KeyPair;
  client: KeyPair;
  serverRandom: number;
  clientRandom: number;
  identity: Uint8Array;
}

export const seedArb = fc.integer({ min: 1, max: 0xffff_ffff });
export const worldArb: fc.Arbitrary<World> = fc
  .record({
    server: seedArb,
    client: seedArb,
    serverRandom: seedArb,
    clientRandom: seedArb,
    identity: bytesArb(255),
  })
  .filter((w) => w.server !== w.client)
  .map((w) => ({ ...w, server: keyPair(w.server), client: keyPair(w.client) }));

export const serverMetadata = encodeMetadata("ROUTER", new Uint8Array(0));
export const serverProperties = parseProperties(serverMetadata) as Map<string, Uint8Array>;

/** Commands a peer might send: the handshake's names and others, data of every telling size. */
export const commandArb = fc.record({
  name: fc.oneof(
    fc.constantFrom("HELLO", "WELCOME", "INITIATE", "READY", "ERROR", "MESSAGE"),
    fc.string({ maxLength: 10 }),
  ),
  data: fc.oneof(
    bytesArb(400),
    // HELLO, WELCOME, READY's minimum, INITIATE's minimum and a little more.
    fc.constantFrom(194, 160, 24, 248, 300)
      .chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
    // A HELLO with the right version, so the version check is passed.
    fc.uint8Array({ minLength: 192, maxLength: 192 }).map((rest) => Uint8Array.of(1, 0, ...rest)),
  ),
});

/** HELLO's 72 padding bytes (data offsets 2-73) are not authenticated, as in libzmq. */
export const HELLO_PADDING = { start: 2, end: 74 };
