// ZMTP 3.1 wire codec (RFC 37): greeting, frames and commands. Pure: no I/O, no timers.
// The decoder accepts bytes split at any point, because Bun may hand us 1 byte or 100 KiB.
import { ZmtpProtocolError } from "../util/errors.ts";

export const GREETING_BYTES = 64;
export const FLAG_MORE = 0x01;
export const FLAG_LONG = 0x02;
export const FLAG_COMMAND = 0x04;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toBytes(input: Uint8Array | string): Uint8Array {
  return typeof input === "string" ? encoder.encode(input) : input;
}

export function bytesToString(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export type Mechanism = "NULL" | "CURVE";

/** Our greeting: version 3.1, the mechanism, as-server 1 only for a CURVE server (RFC 26). */
export function encodeGreeting(mechanism: Mechanism = "NULL", isServer = false): Uint8Array {
  const g = new Uint8Array(GREETING_BYTES);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 1;
  g.set(encoder.encode(mechanism), 12);
  g[32] = isServer ? 1 : 0;
  return g;
}

export interface PeerGreeting {
  major: number;
  minor: number;
}

/**
 * Validates a peer greeting. Padding bytes 1-8 are never checked: libzmq puts its routing-id
 * length there (docs/zmtp.md 1.2). Only byte 9's low bit matters for the signature.
 */
export function parseGreeting(
  g: Uint8Array,
  mechanismExpected: Mechanism = "NULL",
): PeerGreeting | ZmtpProtocolError {
  if (g.length < GREETING_BYTES) return new ZmtpProtocolError("greeting too short");
  if (g[0] !== 0xff || ((g[9] ?? 0) & 1) !== 1) {
    return new ZmtpProtocolError("bad greeting signature (not a ZMTP 3 peer)");
  }
  const major = g[10] ?? 0;
  if (major < 3) return new ZmtpProtocolError(`unsupported ZMTP version ${major}.x`);
  const mechanism = g.subarray(12, 32);
  const expected = new Uint8Array(20);
  expected.set(encoder.encode(mechanismExpected));
  for (let i = 0; i < 20; i++) {
    if (mechanism[i] !== expected[i]) {
      const name = bytesToString(mechanism).replace(/\0+$/, "");
      return new ZmtpProtocolError(`unsupported security mechanism "${name}"`);
    }
  }
  // A higher major version is treated as 3.1 (docs/zmtp.md 1.3).
  return { major, minor: major > 3 ? 1 : (g[11] ?? 0) };
}

/** Encodes the frame header for a body of `size` bytes: the minimal form, LONG only above 255. */
export function encodeFrameHeader(size: number, flags: number): Uint8Array {
  if (size <= 255) return Uint8Array.of(flags & ~FLAG_LONG, size);
  const h = new Uint8Array(9);
  h[0] = flags | FLAG_LONG;
  new DataView(h.buffer).setBigUint64(1, BigInt(size));
  return h;
}

/** Total encoded size of a message (headers + bodies). */
export function encodedMessageBytes(frames: readonly Uint8Array[]): number {
  let n = 0;
  for (const f of frames) n += (f.length <= 255 ? 2 : 9) + f.length;
  return n;
}

/** Writes a message's frames into `out` at `offset`; returns the new offset. */
export function writeMessage(
  frames: readonly Uint8Array[],
  out: Uint8Array,
  offset: number,
): number {
  let at = offset;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i] as Uint8Array;
    const more = i < frames.length - 1 ? FLAG_MORE : 0;
    if (f.length <= 255) {
      out[at++] = more;
      out[at++] = f.length;
    } else {
      out[at++] = more | FLAG_LONG;
      const size = f.length;
      // High 32 bits of an in-memory frame are always zero (frames are < 2^32 bytes).
      out[at++] = 0;
      out[at++] = 0;
      out[at++] = 0;
      out[at++] = 0;
      out[at++] = (size >>> 24) & 0xff;
      out[at++] = (size >>> 16) & 0xff;
      out[at++] = (size >>> 8) & 0xff;
      out[at++] = size & 0xff;
    }
    out.set(f, at);
    at += f.length;
  }
  return at;
}

export function encodeMessage(frames: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(encodedMessageBytes(frames));
  writeMessage(frames, out, 0);
  return out;
}

/** A command frame: 1-byte name length, name, data (RFC 37 grammar). */
export function encodeCommand(name: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const nameBytes = encoder.encode(name);
  const body = new Uint8Array(1 + nameBytes.length + data.length);
  body[0] = nameBytes.length;
  body.set(nameBytes, 1);
  body.set(data, 1 + nameBytes.length);
  const header = encodeFrameHeader(body.length, FLAG_COMMAND);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** READY with exactly `Socket-Type` and `Identity` as libzmq spells them (docs/zmtp.md 2.3). */
export function encodeReady(socketType: string, identity?: Uint8Array): Uint8Array {
  return encodeCommand("READY", encodeMetadata(socketType, identity));
}

/** The properties of READY; CURVE carries the same bytes inside INITIATE and its READY box. */
export function encodeMetadata(socketType: string, identity?: Uint8Array): Uint8Array {
  const props: Uint8Array[] = [encodeProperty("Socket-Type", encoder.encode(socketType))];
  if (identity !== undefined) props.push(encodeProperty("Identity", identity));
  return concatBytes(props);
}

function encodeProperty(name: string, value: Uint8Array): Uint8Array {
  const n = encoder.encode(name);
  const out = new Uint8Array(1 + n.length + 4 + value.length);
  out[0] = n.length;
  out.set(n, 1);
  new DataView(out.buffer).setUint32(1 + n.length, value.length);
  out.set(value, 5 + n.length);
  return out;
}

/** Parses READY properties; names are matched case-insensitively (stored lower case). */
export function parseProperties(data: Uint8Array): Map<string, Uint8Array> | ZmtpProtocolError {
  const props = new Map<string, Uint8Array>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at < data.length) {
    const nameLength = data[at] ?? 0;
    if (nameLength === 0 || at + 1 + nameLength + 4 > data.length) {
      return new ZmtpProtocolError("malformed READY property");
    }
    const name = bytesToString(data.subarray(at + 1, at + 1 + nameLength)).toLowerCase();
    at += 1 + nameLength;
    const valueLength = view.getUint32(at);
    at += 4;
    if (valueLength > data.length - at)
      return new ZmtpProtocolError("READY property runs past end");
    props.set(name, data.subarray(at, at + valueLength));
    at += valueLength;
  }
  return props;
}

export interface Command {
  name: string;
  data: Uint8Array;
}

export function parseCommand(body: Uint8Array): Command | ZmtpProtocolError {
  const nameLength = body[0];
  if (nameLength === undefined || nameLength === 0 || 1 + nameLength > body.length) {
    return new ZmtpProtocolError("malformed command frame");
  }
  return {
    name: bytesToString(body.subarray(1, 1 + nameLength)),
    data: body.subarray(1 + nameLength),
  };
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A decoded frame. `skippedBytes` is set on a message frame the decoder read past (its declared
 * size was over frameBytesMax but within skipBytesMax): `body` then holds only an excerpt, the
 * first and last EXCERPT_BYTES of the frame joined.
 */
export type DecodedFrame =
  | { kind: "frame"; body: Uint8Array; more: boolean; skippedBytes?: number }
  | { kind: "command"; body: Uint8Array };

/** Bytes kept from each end of a frame the decoder reads past. */
export const EXCERPT_BYTES = 1024;

/** The part of a long frame kept when it is read past: its first and last EXCERPT_BYTES. */
export function excerptOf(body: Uint8Array): Uint8Array {
  if (body.length <= 2 * EXCERPT_BYTES) return body;
  return concatBytes([
    body.subarray(0, EXCERPT_BYTES),
    body.subarray(body.length - EXCERPT_BYTES),
  ]);
}

/** A frame being read past: bytes still to come, and the excerpt kept so far. */
interface Skip {
  size: number;
  more: boolean;
  remaining: number;
  head: Uint8Array;
  headBytes: number;
  tail: Uint8Array;
  tailBytes: number;
}

/**
 * Incremental frame decoder. `push` returns every frame completed by the chunk, or a
 * ZmtpProtocolError, after which the connection must be closed. A declared size above
 * `frameBytesMax` is refused before anything is allocated, unless it is a message frame within
 * `skipBytesMax`: such a frame is read past as it streams, keeping only an excerpt, so a peer
 * can be told its message was too large without the node ever holding it. Chunks are only
 * joined once enough bytes for the next frame have arrived, so a large frame costs one copy,
 * not one per chunk.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private pending = 0;
  private needed = 2;
  private skip: Skip | null = null;
  private readonly frameBytesMax: number;
  private readonly skipBytesMax: number;

  constructor(frameBytesMax: number, skipBytesMax = frameBytesMax) {
    this.frameBytesMax = frameBytesMax;
    this.skipBytesMax = Math.max(frameBytesMax, skipBytesMax);
  }

  push(chunk: Uint8Array): DecodedFrame[] | ZmtpProtocolError {
    if (chunk.length === 0) return [];
    const frames: DecodedFrame[] = [];
    let input = chunk;
    if (this.skip !== null) {
      const used = this.skipInto(this.skip, input, frames);
      if (used === input.length) return frames;
      input = input.subarray(used);
    }
    this.chunks.push(input);
    this.pending += input.length;
    if (this.pending < this.needed) return frames;
    const data =
      this.chunks.length === 1 ? (this.chunks[0] as Uint8Array) : concatBytes(this.chunks);
    let at = 0;
    this.needed = 2;
    while (data.length - at >= 2) {
      const flags = data[at] as number;
      if ((flags & FLAG_COMMAND) !== 0 && (flags & FLAG_MORE) !== 0) {
        return new ZmtpProtocolError("command frame with MORE set");
      }
      let size: number;
      let headerBytes: number;
      if ((flags & FLAG_LONG) !== 0) {
        if (data.length - at < 9) {
          this.needed = 9;
          break;
        }
        const view = new DataView(data.buffer, data.byteOffset + at + 1, 8);
        const declared = view.getBigUint64(0);
        const isSkippable = (flags & FLAG_COMMAND) === 0 && declared <= BigInt(this.skipBytesMax);
        if (declared > BigInt(this.frameBytesMax) && !isSkippable) {
          const limit = (flags & FLAG_COMMAND) === 0 ? this.skipBytesMax : this.frameBytesMax;
          return new ZmtpProtocolError(`frame of ${declared} bytes exceeds the limit of ${limit}`);
        }
        size = Number(declared);
        headerBytes = 9;
      } else {
        size = data[at + 1] as number;
        headerBytes = 2;
        if (size > this.frameBytesMax) {
          return new ZmtpProtocolError(
            `frame of ${size} bytes exceeds the limit of ${this.frameBytesMax}`,
          );
        }
      }
      const start = at + headerBytes;
      if (size > this.frameBytesMax) {
        // Read past it: nothing of it is held but the excerpt.
        const skip = newSkip(size, (flags & FLAG_MORE) !== 0);
        this.skip = skip;
        at = start + this.skipInto(skip, data.subarray(start), frames);
        if (this.skip !== null) break;
        continue;
      }
      if (data.length - start < size) {
        this.needed = headerBytes + size;
        break;
      }
      // Copy so a frame handed to the application does not pin the whole read buffer.
      const body = data.slice(start, start + size);
      at = start + size;
      if ((flags & FLAG_COMMAND) !== 0) frames.push({ kind: "command", body });
      else frames.push({ kind: "frame", body, more: (flags & FLAG_MORE) !== 0 });
    }
    const rest = data.length - at;
    this.chunks = rest === 0 ? [] : [data.slice(at)];
    this.pending = rest;
    return frames;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** Consumes up to the rest of the skipped frame from `data`; returns the bytes used. */
  private skipInto(skip: Skip, data: Uint8Array, frames: DecodedFrame[]): number {
    const used = Math.min(skip.remaining, data.length);
    const part = data.subarray(0, used);
    const toHead = Math.min(EXCERPT_BYTES - skip.headBytes, part.length);
    skip.head.set(part.subarray(0, toHead), skip.headBytes);
    skip.headBytes += toHead;
    // The tail is the last EXCERPT_BYTES after the head; it is kept in a sliding window.
    const rest = part.subarray(toHead);
    if (rest.length >= EXCERPT_BYTES) {
      skip.tail.set(rest.subarray(rest.length - EXCERPT_BYTES));
      skip.tailBytes = EXCERPT_BYTES;
    } else if (rest.length > 0) {
      const keep = Math.min(skip.tailBytes, EXCERPT_BYTES - rest.length);
      skip.tail.copyWithin(0, skip.tailBytes - keep, skip.tailBytes);
      skip.tail.set(rest, keep);
      skip.tailBytes = keep + rest.length;
    }
    skip.remaining -= used;
    if (skip.remaining === 0) {
      const body = concatBytes([
        skip.head.subarray(0, skip.headBytes),
        skip.tail.subarray(0, skip.tailBytes),
      ]);
      frames.push({ kind: "frame", body, more: skip.more, skippedBytes: skip.size });
      this.skip = null;
    }
    return used;
  }
}

function newSkip(size: number, more: boolean): Skip {
  return {
    size,
    more,
    remaining: size,
    head: new Uint8Array(EXCERPT_BYTES),
    headBytes: 0,
    tail: new Uint8Array(EXCERPT_BYTES),
    tailBytes: 0,
  };
}
