// Two pure Sessions speaking CURVE to each other, bytes passed by hand: the greeting announces
// CURVE, messages and commands travel boxed, and a NULL peer or a changed byte ends the session.
import { describe, expect, test } from "bun:test";
import { encodeCommand, encodeGreeting, encodeMessage } from "../../../lib/zmtp/codec.ts";
import { loadCurveCrypto } from "../../../lib/zmtp/curve-crypto.ts";
import { Router } from "../../../lib/zmtp/router.ts";
import { Session, type SessionEvent, encodePing, encodePong } from "../../../lib/zmtp/session.ts";

const crypto = await loadCurveCrypto();
let counter = 0;
const random = (length: number) => Uint8Array.from({ length }, () => counter++ & 0xff);
const serverSecret = random(32);
const clientSecret = random(32);
const serverKeys = { publicKey: crypto.publicKeyOf(serverSecret), secretKey: serverSecret };
const clientKeys = { publicKey: crypto.publicKeyOf(clientSecret), secretKey: clientSecret };
const enc = new TextEncoder();

function pair() {
  const server = new Session({
    socketType: "ROUTER",
    identity: new Uint8Array(0),
    maxMessageBytes: 1 << 20,
    curve: { crypto, random, ...serverKeys },
  });
  const client = new Session({
    socketType: "DEALER",
    identity: enc.encode("me"),
    maxMessageBytes: 1 << 20,
    curve: { crypto, random, ...clientKeys, serverKey: serverKeys.publicKey },
  });
  return { server, client };
}

const sent = (events: SessionEvent[]): Uint8Array[] =>
  events.flatMap((e) => (e.type === "send" ? [e.bytes] : []));

/** Shuttles bytes until neither side has anything more to send; returns all other events. */
function converse(a: Session, b: Session, first: Uint8Array[], second: Uint8Array[]) {
  const others: { a: SessionEvent[]; b: SessionEvent[] } = { a: [], b: [] };
  let toB = first;
  let toA = second;
  for (let round = 0; round < 10 && (toA.length > 0 || toB.length > 0); round++) {
    const atB = toB.flatMap((bytes) => b.push(bytes));
    const atA = toA.flatMap((bytes) => a.push(bytes));
    others.a.push(...atA.filter((e) => e.type !== "send"));
    others.b.push(...atB.filter((e) => e.type !== "send"));
    toB = sent(atA);
    toA = sent(atB);
  }
  return others;
}

function connected() {
  const { server, client } = pair();
  const events = converse(client, server, [client.start()], [server.start()]);
  expect(events.a.map((e) => e.type)).toEqual(["ready"]);
  expect(events.b.map((e) => e.type)).toEqual(["ready"]);
  return { server, client, events };
}

function boxed(session: Session, frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(session.messageBytes(frames));
  expect(session.writeMessage(frames, out, 0)).toBe(out.length);
  return out;
}

describe("Session over CURVE", () => {
  test("greeting says CURVE with as-server set only on the server", () => {
    const { server, client } = pair();
    const text = (g: Uint8Array) => new TextDecoder().decode(g.subarray(12, 17));
    expect(text(server.start())).toBe("CURVE");
    expect(server.start()[32]).toBe(1);
    expect(client.start()[32]).toBe(0);
  });

  test("ready events carry the peer's long-term key and metadata", () => {
    const { events } = connected();
    const serverReady = events.b[0] as Extract<SessionEvent, { type: "ready" }>;
    const clientReady = events.a[0] as Extract<SessionEvent, { type: "ready" }>;
    expect(serverReady.peer.publicKey).toEqual(clientKeys.publicKey);
    expect(serverReady.peer.identity).toEqual(enc.encode("me"));
    expect(serverReady.peer.socketType).toBe("DEALER");
    expect(clientReady.peer.publicKey).toEqual(serverKeys.publicKey);
  });

  test("multipart messages arrive whole; plaintext never on the wire", () => {
    const { server, client } = connected();
    const frames = [enc.encode("secret-part-1"), new Uint8Array(0), new Uint8Array(300).fill(7)];
    const wire = boxed(client, frames);
    expect(Buffer.from(wire).indexOf("secret-part-1")).toBe(-1);
    expect(server.push(wire)).toEqual([{ type: "message", frames }]);
  });

  test("PING is boxed as a command and answered with a boxed PONG", () => {
    const { server, client } = connected();
    const events = server.push(client.wrapFrame(encodePing(3000)));
    expect(events.map((e) => e.type)).toEqual(["pong", "ping"]);
    // The session hands the PONG over unboxed; the connection boxes it when it sends it.
    const pong = events[0];
    if (pong?.type !== "pong") throw new Error("expected a PONG");
    expect(client.push(server.wrapFrame(encodePong(pong.context)))).toEqual([]);
    expect(client.hasFailed).toBe(false);
  });

  test("one changed byte in a MESSAGE closes the session and delivers nothing", () => {
    const { server, client } = connected();
    const wire = boxed(client, [enc.encode("x")]);
    wire[wire.length - 3] = (wire[wire.length - 3] as number) ^ 0x80;
    const events = server.push(wire);
    const failed = expect.objectContaining({ message: "CURVE MESSAGE failed authentication" });
    expect(events).toEqual([{ type: "error", error: failed }]);
    expect(server.push(boxed(client, [enc.encode("y")]))).toEqual([]);
  });

  test("an unboxed frame after the handshake closes the session", () => {
    const { server } = connected();
    const events = server.push(encodeMessage([enc.encode("plain")]));
    expect(events.map((e) => e.type)).toEqual(["error"]);
    const { server: other } = connected();
    expect(other.push(encodeCommand("PING", Uint8Array.of(0, 0))).map((e) => e.type)).toEqual([
      "error",
    ]);
  });

  test("a NULL peer is refused at the greeting", () => {
    const { server } = pair();
    const events = server.push(encodeGreeting());
    expect(events.map((e) => e.type)).toEqual(["error"]);
  });
});

describe("CURVE socket options", () => {
  test("keys must be 32 bytes and the handshake deadline at most 60 s (cookie lifetime)", () => {
    const curve = { crypto, ...serverKeys };
    expect(() => new Router({ curve: { ...curve, secretKey: new Uint8Array(31) } })).toThrow(
      "curve.secretKey must be 32 bytes",
    );
    expect(() => new Router({ curve, handshakeTimeoutMs: 60_001 })).toThrow(
      "handshakeTimeoutMs above 60000 with CURVE",
    );
    expect(new Router({ curve, handshakeTimeoutMs: 60_000 }).closed).toBe(false);
  });
});
