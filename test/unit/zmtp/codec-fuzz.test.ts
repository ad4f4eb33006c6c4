// Property-based fuzzing of the ZMTP frame codec (lib/zmtp/codec.ts) with fast-check. Whatever
// the bytes and wherever they are cut into chunks, FrameDecoder returns frames or a
// ZmtpProtocolError and never throws; it decodes exactly what a plain one-pass reading of the
// RFC 37 grammar (the model below) decodes; it never holds more than one frame header plus the
// frame limit; and a size above the limit, up to 2^64 - 1, is refused from the header alone.
// The greeting, command and property parsers take any bytes without throwing.
//
// CI runs a fixed seed; FUZZ_RUNS / FUZZ_SEED change it (test/harness/fuzz.ts).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { ZmtpProtocolError } from "../../../lib/util/errors.ts";
import {
  type DecodedFrame,
  FLAG_COMMAND,
  FLAG_LONG,
  FLAG_MORE,
  FrameDecoder,
  concatBytes,
  encodeFrameHeader,
  encodeGreeting,
  encodeMessage,
  encodeMetadata,
  parseCommand,
  parseGreeting,
  parseProperties,
} from "../../../lib/zmtp/codec.ts";
import { bytesArb, cutsArb, fuzzSettings, splitAt } from "../../harness/fuzz.ts";

const { parameters, timeoutMs } = fuzzSettings(1000);

// ---- the model: RFC 37 frames read in one pass over the whole stream ---------------------------

interface ModelOutcome {
  frames: DecodedFrame[];
  /** clean: every byte used; partial: a frame is incomplete; error: the stream breaks ZMTP. */
  end: "clean" | "partial" | "error";
  consumed: number;
}

function modelDecode(bytes: Uint8Array, frameBytesMax: number): ModelOutcome {
  const frames: DecodedFrame[] = [];
  let at = 0;
  const outcome = (end: ModelOutcome["end"]): ModelOutcome => ({ frames, end, consumed: at });
  for (;;) {
    if (at === bytes.length) return outcome("clean");
    if (bytes.length - at < 2) return outcome("partial");
    const flags = bytes[at] as number;
    const isCommand = (flags & FLAG_COMMAND) !== 0;
    if (isCommand && (flags & FLAG_MORE) !== 0) return outcome("error");
    let size = BigInt(bytes[at + 1] as number);
    let headerBytes = 2;
    if ((flags & FLAG_LONG) !== 0) {
      if (bytes.length - at < 9) return outcome("partial");
      size = 0n;
      for (let i = 1; i <= 8; i++) size = (size << 8n) | BigInt(bytes[at + i] as number);
      headerBytes = 9;
    }
    if (size > BigInt(frameBytesMax)) return outcome("error");
    const end = at + headerBytes + Number(size);
    if (end > bytes.length) return outcome("partial");
    const body = bytes.slice(at + headerBytes, end);
    const more = (flags & FLAG_MORE) !== 0;
    frames.push(isCommand ? { kind: "command", body } : { kind: "frame", body, more });
    at = end;
  }
}

interface SplitOutcome {
  frames: DecodedFrame[];
  error: ZmtpProtocolError | null;
  pendingBytes: number;
}

/** Feeds the chunks in order, as a connection would, and stops at the first error. */
function decodeChunks(chunks: readonly Uint8Array[], frameBytesMax: number): SplitOutcome {
  const decoder = new FrameDecoder(frameBytesMax);
  const frames: DecodedFrame[] = [];
  for (const chunk of chunks) {
    const result = decoder.push(chunk);
    if (result instanceof ZmtpProtocolError) {
      return { frames, error: result, pendingBytes: decoder.pendingBytes };
    }
    for (const frame of result) expect(frame.body.length).toBeLessThanOrEqual(frameBytesMax);
    frames.push(...result);
    // Held bytes never exceed one incomplete frame: its header and a body within the limit.
    expect(decoder.pendingBytes).toBeLessThan(9 + frameBytesMax);
  }
  return { frames, error: null, pendingBytes: decoder.pendingBytes };
}

/** The decoder, fed in chunks, agrees with the model on the whole stream. */
function expectAsModel(bytes: Uint8Array, cuts: readonly number[], frameBytesMax: number): void {
  const model = modelDecode(bytes, frameBytesMax);
  const split = decodeChunks(splitAt(bytes, cuts), frameBytesMax);
  if (model.end === "error") {
    expect(split.error).toBeInstanceOf(ZmtpProtocolError);
    expect(split.error?.code).toBe("ZMTP_PROTOCOL");
    // Frames handed out before the error are the model's first frames, in order.
    expect(split.frames).toEqual(model.frames.slice(0, split.frames.length));
    return;
  }
  expect(split.error).toBeNull();
  expect(split.frames).toEqual(model.frames);
  expect(split.pendingBytes).toBe(bytes.length - model.consumed);
}

// ---- generators ---------------------------------------------------------------------------------

const limitArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.integer({ min: 256, max: 2048 }),
);

/** One well-formed frame: header in the minimal or the LONG form, any flags, any body. */
const wireFrameArb = fc
  .record({
    flags: fc.integer({ min: 0, max: 255 }),
    body: bytesArb(600),
    isLong: fc.boolean(),
  })
  .map(({ flags, body, isLong }) => {
    if (!isLong) return concatBytes([encodeFrameHeader(body.length, flags & ~FLAG_LONG), body]);
    const header = new Uint8Array(9);
    header[0] = flags | FLAG_LONG;
    new DataView(header.buffer).setBigUint64(1, BigInt(body.length));
    return concatBytes([header, body]);
  });

/** A LONG header declaring any 64-bit size, with whatever follows. */
const bogusLongArb = fc
  .record({
    flags: fc.integer({ min: 0, max: 255 }),
    size: fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 2n ** 32n, 2n ** 31n),
    ),
  })
  .map(({ flags, size }) => {
    const header = new Uint8Array(9);
    header[0] = flags | FLAG_LONG;
    new DataView(header.buffer).setBigUint64(1, size);
    return header;
  });

/** Streams that are mostly ZMTP-shaped, so the fuzzing reaches past the first header. */
const streamArb = fc
  .array(fc.oneof(wireFrameArb, wireFrameArb, bogusLongArb, fc.uint8Array({ maxLength: 40 })), {
    maxLength: 12,
  })
  .map((parts) => concatBytes(parts));

// ---- properties ---------------------------------------------------------------------------------

test(
  "random bytes in random chunks: decoded as the model decodes them, never thrown",
  () => {
    fc.assert(
      fc.property(bytesArb(1024), cutsArb, limitArb, expectAsModel),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "ZMTP-shaped streams with bogus parts in random chunks: decoded as the model decodes them",
  () => {
    fc.assert(fc.property(streamArb, cutsArb, limitArb, expectAsModel), parameters);
  },
  timeoutMs,
);

test(
  "valid messages and commands round-trip whatever the chunk boundaries",
  () => {
    const messageArb = fc.array(bytesArb(700), { minLength: 1, maxLength: 5 });
    const commandArb = bytesArb(400).filter((body) => body.length > 0);
    const unitArb = fc.oneof(
      messageArb.map((frames) => ({ isCommand: false, frames })),
      commandArb.map((body) => ({ isCommand: true, frames: [body] })),
    );
    fc.assert(
      fc.property(fc.array(unitArb, { maxLength: 6 }), cutsArb, (units, cuts) => {
        const expected: DecodedFrame[] = [];
        const encoded: Uint8Array[] = [];
        for (const unit of units) {
          if (unit.isCommand) {
            const body = unit.frames[0] as Uint8Array;
            encoded.push(encodeFrameHeader(body.length, FLAG_COMMAND), body);
            expected.push({ kind: "command", body });
            continue;
          }
          encoded.push(encodeMessage(unit.frames));
          unit.frames.forEach((body, i) => {
            expected.push({ kind: "frame", body, more: i < unit.frames.length - 1 });
          });
        }
        const split = decodeChunks(splitAt(concatBytes(encoded), cuts), 1024);
        expect(split.error).toBeNull();
        expect(split.frames).toEqual(expected);
        expect(split.pendingBytes).toBe(0);
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "mutated valid streams (flipped bytes, truncation) are decoded as the model decodes them",
  () => {
    const mutationArb = fc.record({
      at: fc.nat(),
      xor: fc.integer({ min: 1, max: 255 }),
      truncate: fc.option(fc.nat()),
    });
    fc.assert(
      fc.property(
        fc.array(bytesArb(400), { minLength: 1, maxLength: 6 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        cutsArb,
        (frames, mutations, cuts) => {
          let bytes = encodeMessage(frames);
          for (const { at, xor, truncate } of mutations) {
            const index = at % bytes.length;
            bytes[index] = (bytes[index] as number) ^ xor;
            if (truncate !== null) bytes = bytes.slice(0, truncate % (bytes.length + 1));
            if (bytes.length === 0) return;
          }
          expectAsModel(bytes, cuts, 512);
        },
      ),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "a declared size above the limit, up to 2^64 - 1, is refused from its 9 header bytes",
  () => {
    fc.assert(
      fc.property(bogusLongArb, fc.integer({ min: 0, max: 1 << 20 }), cutsArb, (h, limit, cuts) => {
        const declared = new DataView(h.buffer).getBigUint64(1);
        const flags = h[0] as number;
        const isCommandMore = (flags & FLAG_COMMAND) !== 0 && (flags & FLAG_MORE) !== 0;
        const split = decodeChunks(splitAt(h, cuts), limit);
        if (declared > BigInt(limit) || isCommandMore) {
          expect(split.error).toBeInstanceOf(ZmtpProtocolError);
          expect(split.frames).toEqual([]);
        } else if (declared > 0n) {
          // A size within the limit waits for its body, holding only the header.
          expect(split.error).toBeNull();
          expect(split.frames).toEqual([]);
          expect(split.pendingBytes).toBe(9);
        }
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "greeting, command and READY-property parsers take any bytes without throwing",
  () => {
    const isError = (value: unknown): boolean => value instanceof ZmtpProtocolError;
    fc.assert(
      fc.property(bytesArb(300), (bytes) => {
        const greeting = parseGreeting(bytes, "NULL");
        if (!isError(greeting)) {
          expect(bytes.length).toBeGreaterThanOrEqual(64);
          expect(bytes[0]).toBe(0xff);
          expect((bytes[10] as number) >= 3).toBe(true);
        }
        const command = parseCommand(bytes);
        if (!isError(command)) expect(bytes[0]).toBeGreaterThan(0);
        const properties = parseProperties(bytes);
        if (!isError(properties)) {
          for (const [name, value] of properties as Map<string, Uint8Array>) {
            expect(name.length).toBeGreaterThan(0);
            expect(value.length).toBeLessThanOrEqual(bytes.length);
          }
        }
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "READY metadata round-trips; with one byte changed it is refused or parsed within bounds",
  () => {
    const typeArb = fc.constantFrom("ROUTER", "DEALER", "PUB", "SUB", "REQ");
    const byteArb = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(typeArb, fc.option(bytesArb(255)), fc.nat(), byteArb, (type, id, at, byte) => {
        const metadata = encodeMetadata(type, id ?? undefined);
        const parsed = parseProperties(metadata);
        if (parsed instanceof ZmtpProtocolError) throw parsed;
        expect(new TextDecoder().decode(parsed.get("socket-type"))).toBe(type);
        expect(parsed.get("identity")).toEqual(id ?? undefined);
        const damaged = metadata.slice();
        damaged[at % damaged.length] = byte;
        const reparsed = parseProperties(damaged);
        if (reparsed instanceof ZmtpProtocolError) return;
        // Every value is a view inside the damaged bytes, never past their end.
        for (const value of reparsed.values()) {
          expect(value.buffer).toBe(damaged.buffer);
          expect(value.byteOffset + value.length).toBeLessThanOrEqual(damaged.length);
        }
      }),
      parameters,
    );
  },
  timeoutMs,
);

test("a greeting differing from ours only in unchecked bytes is accepted", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (noise) => {
      const greeting = encodeGreeting();
      // Padding (1-8), the signature's high bits (9), minor version (11), as-server and filler.
      const filler = Array.from({ length: 32 }, (_, k) => 32 + k);
      for (const i of [1, 2, 3, 4, 5, 6, 7, 8, 11, ...filler]) greeting[i] = noise[i] as number;
      greeting[9] = (noise[9] as number) | 1;
      expect(parseGreeting(greeting, "NULL")).not.toBeInstanceOf(ZmtpProtocolError);
    }),
    parameters,
  );
});
