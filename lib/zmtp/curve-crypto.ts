// The few NaCl operations CurveZMQ needs (RFC 26: crypto_box with a precomputed key, secretbox,
// X25519), each taken from an audited library, never written here. Two interchangeable backends:
// libsodium (WebAssembly; the default, see bench/curve-crypto.ts for why) and @noble/*.
// Pure computation: no I/O, no randomness (the caller supplies keys and nonces).
import { hsalsa, xsalsa20poly1305 } from "@noble/ciphers/salsa.js";
import { x25519 } from "@noble/curves/ed25519.js";
import sodium from "libsodium-wrappers";

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const MAC_BYTES = 16;

export interface CurveCrypto {
  readonly name: "libsodium" | "noble";
  /** X25519 base-point multiplication: the public key of a 32-byte secret key. */
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  /**
   * crypto_box_beforenm: the symmetric key a box between two key pairs uses. Null when the
   * peer's key is a low-order point (the shared secret would be all zeros).
   */
  boxKey(publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array | null;
  /** XSalsa20-Poly1305 (crypto_secretbox_easy = crypto_box_easy_afternm): MAC then ciphertext. */
  seal(plaintext: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  /** The inverse of seal; null when the MAC does not verify. */
  open(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
}

const nobleCrypto: CurveCrypto = {
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
  open(box, nonce, key) {
    if (box.length < MAC_BYTES) return null;
    try {
      return xsalsa20poly1305(key, nonce).decrypt(box);
    } catch {
      return null;
    }
  },
};

function libsodiumCrypto(): CurveCrypto {
  return {
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
    open(box, nonce, key) {
      if (box.length < MAC_BYTES) return null;
      try {
        return sodium.crypto_box_open_easy_afternm(box, nonce, key);
      } catch {
        return null;
      }
    },
  };
}

let loaded: Promise<CurveCrypto> | undefined;

/**
 * The crypto backend for CURVE sockets. libsodium must compile its WebAssembly first (about
 * 20 ms), hence the promise; load it once at startup and pass it in the socket options.
 */
export function loadCurveCrypto(backend: "libsodium" | "noble" = "libsodium"): Promise<CurveCrypto> {
  if (backend === "noble") return Promise.resolve(nobleCrypto);
  loaded ??= sodium.ready.then(libsodiumCrypto);
  return loaded;
}
