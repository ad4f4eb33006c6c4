// Pure handshake/session tests: greeting exchange, READY validation against the compatibility
// table, ERROR, PING/PONG, SUBSCRIBE/CANCEL in both ZMTP 3.1 and 3.0 forms, message assembly.
import { describe, expect, test } from "bun:test";
import {
  concatBytes,
  encodeCommand,
  encodeGreeting,
  encodeMessage,
  encodeReady,
} from "../../../lib/zmtp/codec.ts";
import {
  Session,
  type SessionEvent,
  encodePing,
  encodePong,
  encodeSubscription,
} from "../../../lib/zmtp/session.ts";
import type { SocketType } from "../../../lib/zmtp/socket-types.ts";
import { hex } from "../../harness/zmtp.ts";

const enc = new TextEncoder();

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

function peerGreeting(minor = 1, major = 3): Uint8Array {
  const g = encodeGreeting();
  g[8] = 0x01; // libzmq's padding
  g[10] = major;
  g[11] = minor;
  return g;
}

function session(socketType: SocketType = "ROUTER", maxMessageBytes = 1 << 20): Session {
  return new Session({ socketType, identity: new Uint8Array(0), maxMessageBytes });
}

/** A session past the handshake with a peer of `peerType`. */
function ready(socketType: SocketType, peerType: string, minor = 1): Session {
  const s = session(socketType);
  const events = s.push(concat(peerGreeting(minor), encodeReady(peerType, new Uint8Array(0))));
  expect(events.map((e) => e.type)).toEqual(["send", "ready"]);
  return s;
}

const types = (events: SessionEvent[]): string[] => events.map((e) => e.type);
const errorOf = (events: SessionEvent[]): string => {
  const e = events.find((x) => x.type === "error");
  return e?.type === "error" ? e.error.message : "";
};

describe("handshake", () => {
  test("start() is our full greeting; READY goes out once the peer greeting is complete", () => {
    const s = session("DEALER");
    expect(s.start()).toEqual(encodeGreeting());
    expect(s.push(peerGreeting().subarray(0, 63))).toEqual([]);
    const events = s.push(peerGreeting().subarray(63));
    expect(events).toEqual([{ type: "send", bytes: encodeReady("DEALER", new Uint8Array(0)) }]);
    expect(s.isReady).toBe(false);
  });

  test("greeting and READY in one 97-byte burst, or split at every offset", () => {
    const burst = concat(peerGreeting(), encodeReady("ROUTER", new Uint8Array(0)));
    for (let at = 0; at <= burst.length; at++) {
      const s = session("DEALER");
      const events = [...s.push(burst.subarray(0, at)), ...s.push(burst.subarray(at))];
      expect(types(events)).toEqual(["send", "ready"]);
      expect(s.isReady).toBe(true);
    }
  });

  test("READY reports the peer's Socket-Type, Identity and minor version", () => {
    const s = session("ROUTER");
    const events = s.push(concat(peerGreeting(0), encodeReady("DEALER", enc.encode("abc"))));
    expect(events[1]).toEqual({
      type: "ready",
      peer: { socketType: "DEALER", identity: enc.encode("abc"), minor: 0 },
    });
    expect(s.minor).toBe(0);
  });

  test("major 4 is accepted as 3.1", () => {
    const s = session("PUB");
    const events = s.push(concat(peerGreeting(0, 4), encodeReady("SUB")));
    expect(types(events)).toEqual(["send", "ready"]);
    expect(s.minor).toBe(1);
  });

  test.each([
    ["ROUTER", ["REQ", "DEALER", "ROUTER"], ["PUB", "SUB", "REP", "router", "PAIR"]],
    ["DEALER", ["REP", "DEALER", "ROUTER"], ["REQ", "PUB", "SUB", "dealer"]],
    ["PUB", ["SUB", "XSUB"], ["PUB", "ROUTER", "sub"]],
    ["SUB", ["PUB", "XPUB"], ["SUB", "DEALER", "pub"]],
  ] as const)("compatibility table for %s", (ours, accepted, refused) => {
    for (const peer of accepted) {
      const events = session(ours).push(concat(peerGreeting(), encodeReady(peer)));
      expect(types(events)).toEqual(["send", "ready"]);
    }
    for (const peer of refused) {
      const events = session(ours).push(concat(peerGreeting(), encodeReady(peer)));
      expect(types(events)).toEqual(["send", "error"]);
      expect(errorOf(events)).toContain(`incompatible peer socket type ${peer}`);
    }
  });

  test("property names are read case-insensitively", () => {
    const props = hex("0b 'socket-type' 00 00 00 06 'DEALER' 08 'IDENTITY' 00 00 00 01 'q'");
    const events = session("ROUTER").push(concat(peerGreeting(), encodeCommand("READY", props)));
    expect(events[1]).toEqual({
      type: "ready",
      peer: { socketType: "DEALER", identity: enc.encode("q"), minor: 1 },
    });
  });

  test("READY without Socket-Type, or with a malformed property, fails", () => {
    const noType = session().push(concat(peerGreeting(), encodeCommand("READY")));
    expect(errorOf(noType)).toBe("READY without Socket-Type");
    const bad = session().push(concat(peerGreeting(), encodeCommand("READY", hex("0b 'Sock'"))));
    expect(errorOf(bad)).toContain("malformed READY property");
  });

  test("an ERROR command during the handshake fails with the peer's reason", () => {
    const error = encodeCommand("ERROR", concat(Uint8Array.of(7), enc.encode("go away")));
    const s = session();
    const events = s.push(concat(peerGreeting(), error));
    expect(errorOf(events)).toBe("peer refused the handshake: go away");
    expect(s.hasFailed).toBe(true);
    expect(s.push(encodeReady("DEALER"))).toEqual([]);
  });

  test("a message frame or another command before READY fails", () => {
    const early = session().push(concat(peerGreeting(), hex("00 01 'x'")));
    expect(errorOf(early)).toBe("message frame before READY");
    const ping = session().push(concat(peerGreeting(), encodeCommand("PING", hex("00 00"))));
    expect(errorOf(ping)).toBe("expected READY, got PING");
  });

  test("non-ZMTP bytes fail at once, before 64 bytes have arrived", () => {
    expect(errorOf(session().push(enc.encode("G")))).toContain("bad greeting signature");
    const zmtp1 = hex("ff 00 00 00 00 00 00 00 01 7e");
    expect(errorOf(session().push(zmtp1))).toContain("ZMTP 1.0");
    const zmtp2 = hex("ff 00 00 00 00 00 00 00 01 7f 01");
    expect(errorOf(session().push(zmtp2))).toBe("unsupported ZMTP version 1.x");
  });

  test("a wrong mechanism fails when the greeting is complete", () => {
    const g = peerGreeting();
    g.set(enc.encode("CURVE"), 12);
    expect(errorOf(session().push(g))).toBe('unsupported security mechanism "CURVE"');
  });

  test("a second READY is a protocol error", () => {
    const s = ready("ROUTER", "DEALER");
    expect(errorOf(s.push(encodeReady("DEALER")))).toBe("second READY");
  });
});

describe("traffic", () => {
  test("multipart messages are delivered whole, with a command between their frames", () => {
    const s = ready("ROUTER", "DEALER");
    const bytes = concat(hex("01 01 'a'"), encodeCommand("PING", hex("00 00")), hex("00 00"));
    const events = s.push(bytes);
    expect(events).toEqual([
      { type: "pong", context: new Uint8Array(0) },
      { type: "message", frames: [enc.encode("a"), new Uint8Array(0)] },
    ]);
  });

  test("PING gets a PONG echoing at most 16 context bytes; a TTL is reported in ms", () => {
    const s = ready("DEALER", "ROUTER");
    expect(s.push(hex("04 07 04 'PING' 00 0f"))).toEqual([
      { type: "pong", context: new Uint8Array(0) },
      { type: "ping", ttlMs: 1500 },
    ]);
    const context = enc.encode("0123456789abcdefXYZ");
    const events = s.push(encodeCommand("PING", concat(hex("00 00"), context)));
    expect(events).toEqual([{ type: "pong", context: context.subarray(0, 16) }]);
    const captured = s.push(encodeCommand("PING", concat(hex("00 1e"), enc.encode("ctx-1234"))));
    expect(captured[0]).toEqual({ type: "pong", context: enc.encode("ctx-1234") });
    // The PONG the shell sends for it (captured from libzmq, docs/zmtp.md 4.2).
    expect(encodePong(enc.encode("ctx-1234"))).toEqual(hex("04 0d 04 'PONG' 'ctx-1234'"));
  });

  test("PING is answered for a 3.0 peer too; PONG and unknown commands are ignored", () => {
    const s = ready("PUB", "SUB", 0);
    expect(types(s.push(encodeCommand("PING", hex("00 00"))))).toEqual(["pong"]);
    expect(s.push(encodeCommand("PONG", enc.encode("x")))).toEqual([]);
    expect(s.push(encodeCommand("X-FUTURE", enc.encode("whatever")))).toEqual([]);
    expect(types(s.push(hex("00 01 'm'")))).toEqual(["message"]);
  });

  test("SUBSCRIBE and CANCEL commands become events (captured libzmq 4.3.5 bytes)", () => {
    const s = ready("PUB", "SUB");
    expect(s.push(hex("04 0f 09 'SUBSCRIBE' 'topic'"))).toEqual([
      { type: "subscribe", prefix: enc.encode("topic") },
    ]);
    expect(s.push(hex("04 0a 09 'SUBSCRIBE'"))).toEqual([
      { type: "subscribe", prefix: new Uint8Array(0) },
    ]);
    expect(s.push(hex("04 08 06 'CANCEL' 'A'"))).toEqual([
      { type: "cancel", prefix: enc.encode("A") },
    ]);
  });

  test("3.0 subscriptions arrive as plain messages (the PUB socket interprets them)", () => {
    const s = ready("PUB", "SUB", 0);
    expect(s.push(hex("00 02 01 41"))).toEqual([{ type: "message", frames: [hex("01 41")] }]);
  });

  test("a message above maxMessageBytes fails, even when each frame is small", () => {
    const s = new Session({
      socketType: "ROUTER",
      identity: new Uint8Array(0),
      maxMessageBytes: 10,
    });
    // READY (28 bytes here) is a command: the message limit must not refuse it.
    const ready = encodeReady("DEALER", enc.encode("id-123456"));
    const handshake = s.push(concat(peerGreeting(), ready));
    expect(types(handshake)).toEqual(["send", "ready"]);
    const ok = s.push(encodeMessage([new Uint8Array(5), new Uint8Array(5)]));
    expect(types(ok)).toEqual(["message"]);
    const events = s.push(encodeMessage([new Uint8Array(6), new Uint8Array(5)]));
    expect(errorOf(events)).toBe("message exceeds the limit of 10 bytes");
    expect(s.hasFailed).toBe(true);
  });
});

describe("subscription and ping encoding", () => {
  test("3.1 peers get commands, 3.0 peers get messages (captured forms)", () => {
    expect(encodeSubscription(enc.encode("topic"), true, 1)).toEqual(
      hex("04 0f 09 'SUBSCRIBE' 'topic'"),
    );
    expect(encodeSubscription(new Uint8Array(0), true, 1)).toEqual(hex("04 0a 09 'SUBSCRIBE'"));
    expect(encodeSubscription(enc.encode("A"), false, 1)).toEqual(hex("04 08 06 'CANCEL' 'A'"));
    expect(encodeSubscription(enc.encode("A"), true, 0)).toEqual(hex("00 02 01 41"));
    expect(encodeSubscription(enc.encode("A"), false, 0)).toEqual(hex("00 02 00 41"));
    expect(encodeSubscription(enc.encode("topic"), true, 0)).toEqual(hex("00 06 01 'topic'"));
  });

  test("a prefix over 246 bytes uses the LONG form with the LONG bit set", () => {
    const bytes = encodeSubscription(new Uint8Array(250), true, 1);
    expect(bytes.subarray(0, 9)).toEqual(hex("06 00 00 00 00 00 00 01 04"));
  });

  test("PING carries the TTL in tenths of a second", () => {
    expect(encodePing(1500)).toEqual(hex("04 07 04 'PING' 00 0f"));
    expect(encodePing(10_000_000)).toEqual(hex("04 07 04 'PING' ff ff"));
  });
});
