// Pure codec tests: greeting, frame headers, commands, READY properties and the incremental
// FrameDecoder, with bytes captured from libzmq 4.3.4/4.3.5 (docs/zmtp.md) as oracles.
import { describe, expect, test } from "bun:test";
import {
  parseCommand,
  parseGreeting,
  parseProperties,
  concatBytes,
  type DecodedFrame,
  FrameDecoder,
  encodeCommand,
  encodeFrameHeader,
  encodeGreeting,
  encodeMessage,
  encodeReady,
} from "../../../lib/zmtp/codec.ts";
import { ZmtpProtocolError } from "../../../lib/util/errors.ts";
import { hex } from "../../harness/zmtp.ts";

const enc = new TextEncoder();

function greeting(patch: Record<number, number> = {}, mechanism = "NULL"): Uint8Array {
  const g = new Uint8Array(64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 1;
  g.set(enc.encode(mechanism), 12);
  for (const [at, value] of Object.entries(patch)) g[Number(at)] = value;
  return g;
}

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  for (const chunk of chunks) {
    const result = decoder.push(chunk);
    if (result instanceof ZmtpProtocolError) throw result;
    frames.push(...result);
  }
  return frames;
}

describe("greeting", () => {
  test("ours is 3.1, NULL, as-server 0, zero padding and filler", () => {
    const expected = concat(hex("ff 00 00 00 00 00 00 00 00 7f 03 01 'NULL'"), new Uint8Array(48));
    expect(encodeGreeting()).toEqual(expected);
  });

  test("libzmq's padding (routing-id length + 1) is not validated", () => {
    const libzmq = greeting({ 8: 0x01 });
    expect(parseGreeting(libzmq)).toEqual({ major: 3, minor: 1 });
    const junk = greeting({ 1: 0xde, 2: 0xad, 3: 0xbe, 4: 0xef, 5: 1, 6: 2, 7: 3, 8: 4 });
    expect(parseGreeting(junk)).toEqual({ major: 3, minor: 1 });
  });

  test("only the low bit of byte 9 matters; minor 0 is a 3.0 peer", () => {
    expect(parseGreeting(greeting({ 9: 0x01, 11: 0 }))).toEqual({ major: 3, minor: 0 });
  });

  test("major above 3 is accepted and treated as 3.1", () => {
    expect(parseGreeting(greeting({ 10: 4, 11: 0 }))).toEqual({ major: 4, minor: 1 });
  });

  test.each([
    ["version 2 (ZMTP 2.0 sends 01)", greeting({ 10: 1 }), "unsupported ZMTP version 1.x"],
    ["version 2", greeting({ 10: 2 }), "unsupported ZMTP version 2.x"],
    ["byte 0 not ff", greeting({ 0: 0x00 }), "bad greeting signature"],
    ["byte 9 low bit clear", greeting({ 9: 0x7e }), "bad greeting signature"],
    ["mechanism CURVE", greeting({}, "CURVE"), 'unsupported security mechanism "CURVE"'],
    ["mechanism PLAIN", greeting({}, "PLAIN"), 'unsupported security mechanism "PLAIN"'],
    ["mechanism null (case)", greeting({}, "null"), "unsupported security mechanism"],
    ["truncated", greeting().subarray(0, 63), "greeting too short"],
  ])("refuses %s", (_name, bytes, message) => {
    const result = parseGreeting(bytes);
    expect(result).toBeInstanceOf(ZmtpProtocolError);
    expect((result as ZmtpProtocolError).message).toContain(message);
  });

  test("NULL with junk after the NUL padding is refused (all 20 bytes compared)", () => {
    expect(parseGreeting(greeting({ 31: 0x41 }))).toBeInstanceOf(ZmtpProtocolError);
  });
});

describe("frame encoding", () => {
  test("minimal size form: short up to 255, LONG from 256", () => {
    expect(encodeFrameHeader(0, 0)).toEqual(hex("00 00"));
    expect(encodeFrameHeader(255, 1)).toEqual(hex("01 ff"));
    expect(encodeFrameHeader(256, 1)).toEqual(hex("03 00 00 00 00 00 00 01 00"));
    expect(encodeFrameHeader(1024 * 1024, 0)).toEqual(hex("02 00 00 00 00 00 10 00 00"));
  });

  test("a multipart message matches libzmq's bytes for [hi, 300 x]", () => {
    const bytes = encodeMessage([enc.encode("hi"), enc.encode("x".repeat(300))]);
    expect(bytes.subarray(0, 13)).toEqual(hex("01 02 'hi' 02 00 00 00 00 00 00 01 2c"));
    expect(bytes.length).toBe(13 + 300);
  });

  test("empty frames and MORE only on all but the last frame", () => {
    const bytes = encodeMessage([new Uint8Array(0), enc.encode("a"), new Uint8Array(0)]);
    expect(bytes).toEqual(hex("01 00 01 01 'a' 00 00"));
  });

  test("255- and 256-byte bodies in a message", () => {
    const bytes = encodeMessage([new Uint8Array(255), new Uint8Array(256)]);
    expect(bytes.subarray(0, 2)).toEqual(hex("01 ff"));
    expect(bytes.subarray(257, 266)).toEqual(hex("02 00 00 00 00 00 00 01 00"));
    expect(bytes.length).toBe(2 + 255 + 9 + 256);
  });

  test("commands: ERROR with a reason (captured form)", () => {
    const data = concat(Uint8Array.of(7), enc.encode("go away"));
    expect(encodeCommand("ERROR", data)).toEqual(hex("04 0e 05 'ERROR' 07 'go away'"));
  });

  test("READY for DEALER with an empty Identity equals libzmq's bytes", () => {
    const expected = hex(
      "04 29 05 'READY' 0b 'Socket-Type' 00 00 00 06 'DEALER' 08 'Identity' 00 00 00 00",
    );
    expect(encodeReady("DEALER", new Uint8Array(0))).toEqual(expected);
    const withId = encodeReady("DEALER", enc.encode("abc"));
    expect(withId.subarray(0, 2)).toEqual(hex("04 2c"));
    expect(withId.subarray(-7)).toEqual(hex("00 00 00 03 'abc'"));
  });

  test("READY for SUB has no Identity (captured form)", () => {
    expect(encodeReady("SUB")).toEqual(hex("04 19 05 'READY' 0b 'Socket-Type' 00 00 00 03 'SUB'"));
  });
});

describe("command and property parsing", () => {
  test("command name by length prefix, then data", () => {
    expect(parseCommand(hex("04 'PING' 00 0f"))).toEqual({ name: "PING", data: hex("00 0f") });
    expect(parseCommand(hex("00"))).toBeInstanceOf(ZmtpProtocolError);
    expect(parseCommand(hex("09 'SUB'"))).toBeInstanceOf(ZmtpProtocolError);
    expect(parseCommand(new Uint8Array(0))).toBeInstanceOf(ZmtpProtocolError);
  });

  test("property names are matched case-insensitively; unknown ones kept", () => {
    const props = parseProperties(
      hex(
        "0b 'socket-TYPE' 00 00 00 03 'PUB' 08 'IDENTITY' 00 00 00 01 'z' 05 'X-Foo' 00 00 00 00",
      ),
    );
    expect(props).toBeInstanceOf(Map);
    const map = props as Map<string, Uint8Array>;
    expect(map.get("socket-type")).toEqual(enc.encode("PUB"));
    expect(map.get("identity")).toEqual(enc.encode("z"));
    expect(map.get("x-foo")).toEqual(new Uint8Array(0));
  });

  test.each([
    ["zero-length name", hex("00 00 00 00 00")],
    ["name past the end", hex("0b 'Socket'")],
    ["value length past the end", hex("03 'abc' 00 00 00 05 'ab'")],
    ["missing value length", hex("03 'abc' 00 00")],
    ["huge value length", hex("03 'abc' ff ff ff ff 'x'")],
  ])("malformed properties: %s", (_name, bytes) => {
    expect(parseProperties(bytes)).toBeInstanceOf(ZmtpProtocolError);
  });
});

describe("FrameDecoder", () => {
  const stream = concat(
    hex("01 00"), // empty frame, MORE
    hex("01 ff"), new Uint8Array(255).fill(1), // 255 bytes, short form
    hex("03 00 00 00 00 00 00 01 00"), new Uint8Array(256).fill(2), // 256 bytes, LONG
    hex("04 07 04 'PING' 00 0f"), // a command between frames of one message
    hex("00 03 'end'"),
    hex("02 00 00 00 00 00 00 00 03 'abc'"), // non-minimal LONG form is still decoded
  );
  const expected: DecodedFrame[] = [
    { kind: "frame", body: new Uint8Array(0), more: true },
    { kind: "frame", body: new Uint8Array(255).fill(1), more: true },
    { kind: "frame", body: new Uint8Array(256).fill(2), more: true },
    { kind: "command", body: hex("04 'PING' 00 0f") },
    { kind: "frame", body: enc.encode("end"), more: false },
    { kind: "frame", body: enc.encode("abc"), more: false },
  ];

  test("decodes short, long, empty, MORE and command frames in one chunk", () => {
    expect(decodeAll(new FrameDecoder(1 << 20), [stream])).toEqual(expected);
  });

  test("the same frames whatever the split point (every offset, two chunks)", () => {
    for (let at = 0; at <= stream.length; at++) {
      const chunks = [stream.subarray(0, at), stream.subarray(at)];
      const frames = decodeAll(new FrameDecoder(1 << 20), chunks);
      expect(frames).toEqual(expected);
    }
  });

  test("one byte at a time, and three-way splits", () => {
    const oneByOne = [...stream].map((b) => Uint8Array.of(b));
    expect(decodeAll(new FrameDecoder(1 << 20), oneByOne)).toEqual(expected);
    for (let a = 0; a < stream.length; a += 7) {
      for (let b = a; b <= stream.length; b += 13) {
        const chunks = [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)];
        expect(decodeAll(new FrameDecoder(1 << 20), chunks)).toEqual(expected);
      }
    }
  });

  test("coalesced: many messages in one chunk, with a partial one held back", () => {
    const one = encodeMessage([enc.encode("k"), enc.encode("v")]);
    const many = concat(...Array.from({ length: 100 }, () => one), one.subarray(0, 2));
    const decoder = new FrameDecoder(1024);
    const frames = decodeAll(decoder, [many]);
    expect(frames.length).toBe(200);
    expect(decoder.pendingBytes).toBe(2);
    expect(decodeAll(decoder, [one.subarray(2)]).length).toBe(2);
    expect(decoder.pendingBytes).toBe(0);
  });

  test("returned bodies are copies, not views of the caller's buffer", () => {
    const chunk = hex("00 02 'hi'");
    const [frame] = decodeAll(new FrameDecoder(16), [chunk]);
    chunk[2] = 0x7a;
    expect(frame?.body).toEqual(enc.encode("hi"));
  });

  test("a LONG size of 2^63 is refused from the header alone", () => {
    const result = new FrameDecoder(1 << 20).push(hex("02 80 00 00 00 00 00 00 00"));
    expect(result).toBeInstanceOf(ZmtpProtocolError);
    expect((result as ZmtpProtocolError).message).toContain("9223372036854775808");
  });

  test("a LONG size just above the limit is refused before its body arrives", () => {
    const decoder = new FrameDecoder(1000);
    expect(decoder.push(hex("02 00 00 00 00 00 00 03 e9"))).toBeInstanceOf(ZmtpProtocolError);
    expect(new FrameDecoder(1000).push(hex("02 00 00 00 00 00 00 03 e8"))).toEqual([]);
  });

  test("a short frame above a small limit is refused", () => {
    expect(new FrameDecoder(10).push(hex("00 0b"))).toBeInstanceOf(ZmtpProtocolError);
  });

  test("a command frame with MORE set is a protocol error", () => {
    expect(new FrameDecoder(100).push(hex("05 01 00"))).toBeInstanceOf(ZmtpProtocolError);
  });

  test("an incomplete header or body yields nothing yet", () => {
    const decoder = new FrameDecoder(100);
    expect(decoder.push(hex("02 00 00"))).toEqual([]);
    expect(decoder.push(hex("00 00 00 00 00 05 'ab'"))).toEqual([]);
    expect(decoder.pendingBytes).toBe(11);
    expect(decoder.push(hex("'cde'"))).toEqual([
      { kind: "frame", body: enc.encode("abcde"), more: false },
    ]);
  });
});
