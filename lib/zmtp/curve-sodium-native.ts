// The system's libsodium (the C library libzmq uses; Debian package libsodium23) called through
// bun:ffi: the fastest CURVE backend, about 2x the WebAssembly build on 64-byte frames and 5x on
// 4 KiB ones (bench/curve-crypto.ts). Null when the library cannot be loaded.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { type CurveCrypto, MAC_BYTES } from "./curve.ts";

/** Debian's soname first, then the development symlink and other platforms' names. */
const LIBRARY_NAMES = ["libsodium.so.23", "libsodium.so", "libsodium.dylib"];

const symbols = {
  sodium_init: { args: [], returns: FFIType.i32 },
  crypto_scalarmult_base: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  crypto_box_beforenm: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  crypto_box_easy_afternm: {
    args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i32,
  },
  crypto_box_open_easy_afternm: {
    args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr],
    returns: FFIType.i32,
  },
} as const;

type Library = ReturnType<typeof dlopen<typeof symbols>>;

let cached: CurveCrypto | null | undefined;

function open(): Library | null {
  for (const name of LIBRARY_NAMES) {
    try {
      return dlopen(name, symbols);
    } catch {
      // try the next name
    }
  }
  return null;
}

/** The native backend, or null when this system has no libsodium. Loaded once. */
export function loadNativeSodium(): CurveCrypto | null {
  if (cached !== undefined) return cached;
  const library = open();
  // sodium_init returns 0, or 1 when already initialised; -1 is a failure.
  if (library === null || library.symbols.sodium_init() < 0) {
    cached = null;
    return null;
  }
  const lib = library.symbols;
  // bun:ffi passes a zero-length typed array as a null pointer; libsodium then reads nothing,
  // but an empty plaintext still needs a valid address, so it gets one spare byte.
  const nonEmpty = (bytes: Uint8Array): Uint8Array =>
    bytes.length > 0 ? bytes : new Uint8Array(1);
  cached = {
    name: "libsodium-native",
    publicKeyOf(secretKey) {
      const out = new Uint8Array(32);
      lib.crypto_scalarmult_base(out, secretKey);
      return out;
    },
    boxKey(publicKey, secretKey) {
      const out = new Uint8Array(32);
      return lib.crypto_box_beforenm(out, publicKey, secretKey) === 0 ? out : null;
    },
    seal(plaintext, nonce, key) {
      const out = new Uint8Array(plaintext.length + MAC_BYTES);
      lib.crypto_box_easy_afternm(out, nonEmpty(plaintext), plaintext.length, nonce, key);
      return out;
    },
    open(box, nonce, key) {
      if (box.length < MAC_BYTES) return null;
      const out = new Uint8Array(box.length - MAC_BYTES);
      const rc = lib.crypto_box_open_easy_afternm(nonEmpty(out), box, box.length, nonce, key);
      return rc === 0 ? out : null;
    },
    // libsodium's easy functions allow the output to overlap the input (it moves the data
    // first when the buffers overlap), which is what these two rely on.
    // Raw pointers (ptr) instead of subarrays: cheaper, and these run once per frame.
    sealInPlace(buffer, at, length, nonce, key) {
      if (length <= MAC_BYTES) {
        buffer.set(this.seal(new Uint8Array(0), nonce, key), at);
        return;
      }
      const box = ptr(buffer, at);
      const plaintext = ptr(buffer, at + MAC_BYTES);
      lib.crypto_box_easy_afternm(box, plaintext, length - MAC_BYTES, nonce, key);
    },
    openInPlace(buffer, at, length, nonce, key) {
      if (length < MAC_BYTES) return false;
      if (length === MAC_BYTES) {
        return this.open(buffer.subarray(at, at + length), nonce, key) !== null;
      }
      const box = ptr(buffer, at);
      const plaintext = ptr(buffer, at + MAC_BYTES);
      return lib.crypto_box_open_easy_afternm(plaintext, box, length, nonce, key) === 0;
    },
  };
  return cached;
}
