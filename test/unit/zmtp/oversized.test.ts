// Reading past an oversized message (pure): the decoder skips a frame over frameBytesMax but
// within skipBytesMax as it streams, keeping only an excerpt of each end, in any chunking; the
// session reports the message as oversized with its envelope intact; over the hard cap, or for
// a command, the connection fails. Also finding a request's id in such an excerpt.
import { describe, expect, test } from "bun:test";
import { requestIdIn } from "../../../lib/cluster/client-handlers.ts";
import {
  type DecodedFrame,
  EXCERPT_BYTES,
  FrameDecoder,
  concatBytes,
  encodeCommand,
  encodeGreeting,
  encodeMessage,
  encodeReady,
  excerptOf,
} from "../../../lib/zmtp/codec.ts";
import { Session, type SessionEvent } from "../../../lib/zmtp/session.ts";
import { ZmtpProtocolError } from "../../../lib/util/errors.ts";

const enc = new TextEncoder();

/** Bytes 0..size-1 with a pattern, so excerpts from the wrong place show. */
function patterned(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

function feed(decoder: FrameDecoder, data: Uint8Array, chunk: number): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  for (let at = 0; at < data.length; at += chunk) {
    const result = decoder.push(data.subarray(at, at + chunk));
    if (result instanceof ZmtpProtocolError) throw result;
    frames.push(...result);
  }
  return frames;
}

describe("FrameDecoder reading past a frame", () => {
  const big = patterned(10_000);
  const stream = encodeMessage([new Uint8Array(0), big, enc.encode("after")]);
  const expected: DecodedFrame[] = [
    { kind: "frame", body: new Uint8Array(0), more: true },
    {
      kind: "frame",
      body: concatBytes([big.subarray(0, EXCERPT_BYTES), big.subarray(10_000 - EXCERPT_BYTES)]),
      more: true,
      skippedBytes: 10_000,
    },
    { kind: "frame", body: enc.encode("after"), more: false },
  ];

  test("keeps the first and last KiB, in every chunk size from 1 byte to all at once", () => {
    for (const chunk of [1, 2, 3, 7, 9, 100, 1023, 1024, 1025, 2048, 4096, 9999, stream.length]) {
      expect(feed(new FrameDecoder(1000, 20_000), stream, chunk)).toEqual(expected);
    }
  });

  test("split in two at every offset", () => {
    for (let split = 1; split < stream.length; split += 37) {
      const decoder = new FrameDecoder(1000, 20_000);
      const first = decoder.push(stream.subarray(0, split));
      const second = decoder.push(stream.subarray(split));
      if (first instanceof ZmtpProtocolError || second instanceof ZmtpProtocolError) {
        throw new Error(`failed at split ${split}`);
      }
      expect([...first, ...second]).toEqual(expected);
    }
  });

  test("a frame shorter than two excerpts is kept whole", () => {
    const small = patterned(1500);
    const frames = feed(new FrameDecoder(1000, 20_000), encodeMessage([small]), 64);
    expect(frames).toEqual([{ kind: "frame", body: small, more: false, skippedBytes: 1500 }]);
    expect(excerptOf(small)).toBe(small);
  });

  test("over skipBytesMax, and any command over frameBytesMax, fail at the header", () => {
    const tooBig = new FrameDecoder(1000, 20_000).push(encodeMessage([patterned(20_001)]));
    expect(tooBig).toEqual(new ZmtpProtocolError("frame of 20001 bytes exceeds the limit of 20000"));
    const command = new FrameDecoder(1000, 20_000).push(encodeCommand("X", patterned(1500)));
    expect(command).toBeInstanceOf(ZmtpProtocolError);
    // Without a skip limit the old rule holds: over frameBytesMax fails.
    expect(new FrameDecoder(1000).push(encodeMessage([patterned(1001)]))).toBeInstanceOf(
      ZmtpProtocolError,
    );
  });
});

describe("Session with oversizedBytesMax", () => {
  function ready(oversizedBytesMax?: number): Session {
    const s = new Session({
      socketType: "ROUTER",
      identity: new Uint8Array(0),
      maxMessageBytes: 4096,
      ...(oversizedBytesMax === undefined ? {} : { oversizedBytesMax }),
    });
    s.push(concatBytes([encodeGreeting(), encodeReady("REQ", new Uint8Array(0))]));
    expect(s.isReady).toBe(true);
    return s;
  }

  test("a REQ envelope and a body over the limit: reported with both sizes, then traffic " +
    "goes on", () => {
    const s = ready(1 << 20);
    const body = patterned(100_000);
    const events = s.push(encodeMessage([new Uint8Array(0), body]));
    expect(events).toEqual([{
      type: "message",
      frames: [new Uint8Array(0), excerptOf(body)],
      oversized: { bytes: 100_000, limit: 4096 },
    }]);
    expect(s.push(encodeMessage([new Uint8Array(0), enc.encode("next")]))).toEqual([
      { type: "message", frames: [new Uint8Array(0), enc.encode("next")] },
    ]);
  });

  test("many small frames over the limit are excerpted too", () => {
    const s = ready(1 << 20);
    const frames = Array.from({ length: 10 }, () => patterned(1000));
    const events = s.push(encodeMessage(frames));
    const event = events[0] as Extract<SessionEvent, { type: "message" }>;
    expect(event.oversized).toEqual({ bytes: 10_000, limit: 4096 });
    expect(event.frames.map((f) => f.length)).toEqual(frames.map((f) => f.length));
  });

  test("over the hard cap the session fails; without oversizedBytesMax at the limit", () => {
    expect(ready(50_000).push(encodeMessage([patterned(50_001)]))).toEqual([{
      type: "error",
      error: new ZmtpProtocolError("message exceeds the limit of 50000 bytes"),
    }]);
    // A frame declared over the cap fails at its header, before its bytes arrive.
    const header = Uint8Array.of(0x02, 0, 0, 0, 0, 0, 0x10, 0, 0x01);
    expect(ready(1 << 20).push(header)).toEqual([{
      type: "error",
      error: new ZmtpProtocolError("frame of 1048577 bytes exceeds the limit of 1048576"),
    }]);
    const split = ready(50_000).push(encodeMessage([patterned(30_000), patterned(30_000)]));
    expect(split).toEqual([{
      type: "error",
      error: new ZmtpProtocolError("message exceeds the limit of 50000 bytes"),
    }]);
    expect(ready().push(encodeMessage([patterned(4097)]))[0]?.type).toBe("error");
  });
});

describe("requestIdIn", () => {
  const excerpt = (text: string): Uint8Array => excerptOf(enc.encode(text));

  test("finds a numeric or string id at the start or at the end", () => {
    const value = "x".repeat(5000);
    expect(requestIdIn(excerpt(`{"id":12,"op":"SET","value":"${value}"}`))).toBe(12);
    expect(requestIdIn(excerpt(`{"op":"SET","value":"${value}","id":"a\\"b"}`))).toBe('a"b');
    expect(requestIdIn(excerpt(`{"op":"SET","value":"${value}", "id" : -3.5}`))).toBe(-3.5);
  });

  test("an id inside a value is not taken; none found is null", () => {
    const fake = JSON.stringify({ op: "SET", value: `","id":99,${"x".repeat(5000)}` });
    expect(requestIdIn(excerpt(fake))).toBeNull();
    expect(requestIdIn(excerpt(`{"op":"SET","value":"${"x".repeat(5000)}"}`))).toBeNull();
    expect(requestIdIn(excerpt('{"id":true}'))).toBeNull();
    expect(requestIdIn(excerpt('{"id":1e999}'))).toBeNull();
  });
});
