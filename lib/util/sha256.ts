// SHA-256 (FIPS 180-4) in plain TypeScript. It exists so that pure cores such as placement can
// hash without importing node:crypto or bun:*. It owns nothing else: no I/O, no state between
// calls. It is not meant for bulk data; callers hash a few bytes at a time.

// Round constants: the first 32 bits of the fractional parts of the cube roots of the first 64
// primes (FIPS 180-4 §4.2.2).
const roundConstants = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// Initial hash value: the first 32 bits of the fractional parts of the square roots of the first
// eight primes (FIPS 180-4 §5.3.3).
const initialHash = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
] as const;

const blockBytes = 64;
const digestBytes = 32;

function rotateRight(word: number, bits: number): number {
  return (word >>> bits) | (word << (32 - bits));
}

// Mixes one 64-byte block (read big-endian from `view` at `offset`) into `state`.
function compress(state: Uint32Array, schedule: Uint32Array, view: DataView, offset: number): void {
  for (let t = 0; t < 16; t++) schedule[t] = view.getUint32(offset + t * 4, false);
  for (let t = 16; t < 64; t++) {
    const w15 = schedule[t - 15] ?? 0;
    const w2 = schedule[t - 2] ?? 0;
    const sigma0 = rotateRight(w15, 7) ^ rotateRight(w15, 18) ^ (w15 >>> 3);
    const sigma1 = rotateRight(w2, 17) ^ rotateRight(w2, 19) ^ (w2 >>> 10);
    schedule[t] = (schedule[t - 16] ?? 0) + sigma0 + (schedule[t - 7] ?? 0) + sigma1;
  }
  let a = state[0] ?? 0;
  let b = state[1] ?? 0;
  let c = state[2] ?? 0;
  let d = state[3] ?? 0;
  let e = state[4] ?? 0;
  let f = state[5] ?? 0;
  let g = state[6] ?? 0;
  let h = state[7] ?? 0;
  for (let t = 0; t < 64; t++) {
    const bigSigma1 = rotateRight(e, 6) ^ rotateRight(e, 11) ^ rotateRight(e, 25);
    const choose = (e & f) ^ (~e & g);
    const temp1 = (h + bigSigma1 + choose + (roundConstants[t] ?? 0) + (schedule[t] ?? 0)) | 0;
    const bigSigma0 = rotateRight(a, 2) ^ rotateRight(a, 13) ^ rotateRight(a, 22);
    const majority = (a & b) ^ (a & c) ^ (b & c);
    const temp2 = (bigSigma0 + majority) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + temp1) | 0;
    d = c;
    c = b;
    b = a;
    a = (temp1 + temp2) | 0;
  }
  // Uint32Array stores modulo 2^32, which is the addition the standard asks for.
  state[0] = (state[0] ?? 0) + a;
  state[1] = (state[1] ?? 0) + b;
  state[2] = (state[2] ?? 0) + c;
  state[3] = (state[3] ?? 0) + d;
  state[4] = (state[4] ?? 0) + e;
  state[5] = (state[5] ?? 0) + f;
  state[6] = (state[6] ?? 0) + g;
  state[7] = (state[7] ?? 0) + h;
}

/** The 32-byte SHA-256 digest of `bytes`. Pure; the input is not modified. */
export function sha256(bytes: Uint8Array): Uint8Array {
  const state = new Uint32Array(initialHash);
  const schedule = new Uint32Array(64);
  // Whole blocks are read in place, so the input is never copied.
  const input = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wholeBlocksBytes = bytes.length - (bytes.length % blockBytes);
  for (let offset = 0; offset < wholeBlocksBytes; offset += blockBytes) {
    compress(state, schedule, input, offset);
  }
  // The tail: the remaining bytes, 0x80, zero padding, then the bit length as a 64-bit
  // big-endian number. It takes two blocks when fewer than 9 bytes are left in the first.
  const remainderBytes = bytes.length - wholeBlocksBytes;
  const tailBytes = remainderBytes + 9 <= blockBytes ? blockBytes : 2 * blockBytes;
  const tail = new Uint8Array(tailBytes);
  tail.set(bytes.subarray(wholeBlocksBytes));
  tail[remainderBytes] = 0x80;
  const tailView = new DataView(tail.buffer);
  // Bit length = bytes * 8, split into high and low 32-bit words without losing precision.
  tailView.setUint32(tailBytes - 8, Math.floor(bytes.length / 0x20000000), false);
  tailView.setUint32(tailBytes - 4, (bytes.length << 3) >>> 0, false);
  for (let offset = 0; offset < tailBytes; offset += blockBytes) {
    compress(state, schedule, tailView, offset);
  }
  const digest = new Uint8Array(digestBytes);
  const digestView = new DataView(digest.buffer);
  for (let word = 0; word < 8; word++) digestView.setUint32(word * 4, state[word] ?? 0, false);
  return digest;
}
