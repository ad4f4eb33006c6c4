// The CURVE MESSAGE codec (RFC 26 §MESSAGE, as libzmq frames it) and the byte helpers the
// handshakes share. Pure: no I/O, no clock; the crypto backend is injected.
import { ZmtpProtocolError } from "../util/errors.ts";
import { FLAG_LONG, concatBytes } from "./codec.ts";

export type RandomBytes = (length: number) => Uint8Array;

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const MAC_BYTES = 16;

/** The NaCl operations CURVE needs; curve-crypto.ts provides them from audited libraries. */
export interface CurveCrypto {
  readonly name: "libsodium-native" | "libsodium" | "noble";
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
  /**
   * seal without allocating, on `buffer[at, at + length)`: MAC_BYTES of room followed by the
   * plaintext, which ends up as the box (MAC then ciphertext). The hot path of every MESSAGE
   * sent; offsets rather than a subarray, which costs more than the call on small frames.
   */
  sealInPlace(
    buffer: Uint8Array,
    at: number,
    length: number,
    nonce: Uint8Array,
    key: Uint8Array,
  ): void;
  /**
   * open over the box at `buffer[at, at + length)` itself: on success (true) the plaintext is
   * at `buffer[at + MAC_BYTES, at + length)`; on failure the buffer is left as it was.
   */
  openInPlace(
    buffer: Uint8Array,
    at: number,
    length: number,
    nonce: Uint8Array,
    key: Uint8Array,
  ): boolean;
}

/** Flags inside a MESSAGE box (libzmq: msg_t::more and msg_t::command). */
export const BOX_FLAG_MORE = 0x01;
export const BOX_FLAG_COMMAND = 0x02;

/** MESSAGE data around a frame body: short nonce, MAC and the flags byte. */
const MESSAGE_OVERHEAD = 8 + MAC_BYTES + 1;
/** Bytes "\x07MESSAGE" adds before the nonce. */
const MESSAGE_NAME_BYTES = 8;
/** Bytes a frame body grows by once boxed (excluding the frame header). */
export const CURVE_FRAME_OVERHEAD = MESSAGE_NAME_BYTES + MESSAGE_OVERHEAD;
/** Short nonces are u64 on the wire; ours stay below 2^53 so a number holds them exactly. */
const NONCE_MAX = Number.MAX_SAFE_INTEGER;

export const ascii = new TextEncoder();
const MESSAGE_NAME = Uint8Array.of(7, ...ascii.encode("MESSAGE"));

/** A 24-byte nonce: a 16- or 8-byte ASCII prefix (RFC 26) followed by `tail`. */
export function nonceOf(prefix: string, tail: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce.set(ascii.encode(prefix));
  nonce.set(tail, NONCE_BYTES - tail.length);
  return nonce;
}

export function shortNonceBytes(value: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / 0x1_0000_0000));
  view.setUint32(4, value >>> 0);
  return out;
}

/** Reads a u64 short nonce; values above 2^53 are never produced by a sane peer. */
export function readShortNonce(bytes: Uint8Array, at: number): number | null {
  // Read byte by byte: this runs for every frame received, and a DataView per call shows.
  const b = (i: number): number => bytes[at + i] as number;
  const high = ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0;
  if (high >= 0x20_0000) return null;
  const low = ((b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7)) >>> 0;
  return high * 0x1_0000_0000 + low;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

/** The handshake builds its boxes from many small parts: concatBytes, parts as arguments. */
export function join(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/**
 * Boxes and opens MESSAGE commands once the handshake is done. Short nonces count up from
 * where the handshake left them and must strictly increase per direction (RFC 26 §2.5), so a
 * replayed, reordered or dropped-and-reinserted MESSAGE ends the connection.
 */
export class CurveCodec {
  private readonly crypto: CurveCrypto;
  private readonly key: Uint8Array;
  private readonly sendNonce: Uint8Array;
  private readonly receiveNonce: Uint8Array;
  private lastSent: number;
  private lastReceived: number;

  constructor(
    crypto: CurveCrypto,
    key: Uint8Array,
    role: "client" | "server",
    lastSent: number,
    lastReceived: number,
  ) {
    this.crypto = crypto;
    this.key = key;
    const ours = role === "client" ? "CurveZMQMESSAGEC" : "CurveZMQMESSAGES";
    const theirs = role === "client" ? "CurveZMQMESSAGES" : "CurveZMQMESSAGEC";
    this.sendNonce = nonceOf(ours, new Uint8Array(8));
    this.receiveNonce = nonceOf(theirs, new Uint8Array(8));
    this.lastSent = lastSent;
    this.lastReceived = lastReceived;
  }

  /** Encoded size of a boxed frame whose body is `bodyBytes` long, header included. */
  frameBytes(bodyBytes: number): number {
    const size = CURVE_FRAME_OVERHEAD + bodyBytes;
    return (size <= 255 ? 2 : 9) + size;
  }

  /** Boxes one frame as a MESSAGE command into `out` at `at`; returns the end offset. */
  writeFrame(body: Uint8Array, flags: number, out: Uint8Array, at: number): number {
    if (this.lastSent >= NONCE_MAX) throw new RangeError("CURVE short nonces exhausted");
    this.lastSent++;
    const nonce = this.sendNonce;
    const high = Math.floor(this.lastSent / 0x1_0000_0000);
    const low = this.lastSent >>> 0;
    nonce[16] = high >>> 24;
    nonce[17] = (high >>> 16) & 0xff;
    nonce[18] = (high >>> 8) & 0xff;
    nonce[19] = high & 0xff;
    nonce[20] = low >>> 24;
    nonce[21] = (low >>> 16) & 0xff;
    nonce[22] = (low >>> 8) & 0xff;
    nonce[23] = low & 0xff;
    const boxBytes = MAC_BYTES + 1 + body.length;
    const size = MESSAGE_NAME_BYTES + 8 + boxBytes;
    // libzmq sends MESSAGE as a plain final frame, without the COMMAND bit, and its frame
    // flags carry nothing: MORE and COMMAND travel inside the box.
    if (size <= 255) {
      out[at++] = 0;
      out[at++] = size;
    } else {
      out[at++] = FLAG_LONG;
      new DataView(out.buffer, out.byteOffset + at, 8).setBigUint64(0, BigInt(size));
      at += 8;
    }
    out.set(MESSAGE_NAME, at);
    at += MESSAGE_NAME_BYTES;
    for (let i = 0; i < 8; i++) out[at + i] = nonce[16 + i] as number;
    at += 8;
    // The plaintext (flags, then the body) goes where the ciphertext will be, and is boxed
    // there: no allocation per frame.
    out[at + MAC_BYTES] = flags;
    out.set(body, at + MAC_BYTES + 1);
    this.crypto.sealInPlace(out, at, boxBytes, nonce, this.key);
    return at + boxBytes;
  }

  /** One boxed frame as its own buffer (commands: PING, PONG, SUBSCRIBE...). */
  encodeFrame(body: Uint8Array, flags: number): Uint8Array {
    const out = new Uint8Array(this.frameBytes(body.length));
    this.writeFrame(body, flags, out, 0);
    return out;
  }

  /**
   * Opens one received frame body, which must be a MESSAGE (after the handshake nothing else
   * may arrive); decrypts over it.
   */
  openFrame(body: Uint8Array): { flags: number; body: Uint8Array } | ZmtpProtocolError {
    for (let i = 0; i < MESSAGE_NAME_BYTES; i++) {
      if (body[i] !== MESSAGE_NAME[i]) {
        return new ZmtpProtocolError("unboxed frame after the CURVE handshake");
      }
    }
    return this.open(body, MESSAGE_NAME_BYTES);
  }

  /**
   * Opens MESSAGE data (what follows the command name, from `at`), decrypting over it; the
   * returned body is a view into `data`.
   */
  open(data: Uint8Array, at = 0): { flags: number; body: Uint8Array } | ZmtpProtocolError {
    const length = data.length - at;
    if (length < MESSAGE_OVERHEAD) return new ZmtpProtocolError("malformed CURVE MESSAGE");
    const nonce = readShortNonce(data, at);
    if (nonce === null || nonce <= this.lastReceived) {
      return new ZmtpProtocolError("CURVE MESSAGE nonce did not increase (replay or reorder)");
    }
    for (let i = 0; i < 8; i++) this.receiveNonce[16 + i] = data[at + i] as number;
    const boxAt = at + 8;
    if (!this.crypto.openInPlace(data, boxAt, length - 8, this.receiveNonce, this.key)) {
      return new ZmtpProtocolError("CURVE MESSAGE failed authentication");
    }
    this.lastReceived = nonce;
    const plainAt = boxAt + MAC_BYTES;
    return { flags: data[plainAt] as number, body: data.subarray(plainAt + 1) };
  }
}
