// Robustness against bad peers written by hand over raw TCP: each bad connection is closed with
// a reason reported through on() events, while a well-behaved peer of the same socket carries
// on and no unhandled rejection or exception escapes.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { encodeGreeting, encodeReady } from "../../../lib/zmtp/codec.ts";
import { Dealer, Router, type SocketEvent, type SocketOptions } from "../../../lib/zmtp/index.ts";
import {
  RawPeer,
  RawZmtpPeer,
  recordEvents,
  texts,
  trackUnhandled,
  waitFor,
  within,
} from "../../harness/zmtp.ts";

const cleanups: (() => unknown)[] = [];
let unhandled: ReturnType<typeof trackUnhandled>;
beforeEach(() => {
  unhandled = trackUnhandled();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  unhandled.stop();
  expect(unhandled.seen).toEqual([]);
});

interface Fixture {
  router: Router;
  endpoint: string;
  events: SocketEvent[];
  good: Dealer;
}

/** Our ROUTER with one well-behaved DEALER already talking to it. */
async function setUp(options: SocketOptions = {}): Promise<Fixture> {
  const router = new Router({ lingerMs: 0, ...options });
  cleanups.push(() => router.close());
  const events = recordEvents(router);
  const endpoint = await router.bind("tcp://127.0.0.1:0");
  const good = new Dealer({ lingerMs: 0, routingId: "good" });
  cleanups.push(() => good.close());
  good.connect(endpoint);
  await good.send(["hello"]);
  expect(texts(await within(router.receive(), 5_000, "the good peer"))).toEqual(["good", "hello"]);
  return { router, endpoint, events, good };
}

/** The good peer still works both ways. */
async function expectGoodPeerWorks(f: Fixture): Promise<void> {
  await f.good.send(["still", "fine"]);
  expect(texts(await within(f.router.receive(), 5_000, "good peer up"))).toEqual([
    "good",
    "still",
    "fine",
  ]);
  await f.router.send(["good", "reply"]);
  expect(texts(await within(f.good.receive(), 5_000, "good peer down"))).toEqual(["reply"]);
}

function failureReasons(events: SocketEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === "handshake-failed" || e.type === "protocol-error" ? [`${e.type}: ${e.reason}`] : [],
  );
}

async function rawConnect(endpoint: string): Promise<RawPeer> {
  const raw = await RawPeer.connect(endpoint);
  cleanups.push(() => raw.close());
  return raw;
}

test("bad signature", async () => {
  const f = await setUp();
  const raw = await rawConnect(f.endpoint);
  await raw.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.6\r\n"));
  await waitFor(() => raw.isClosed, { what: "the connection to be closed" });
  expect(failureReasons(f.events)).toEqual([
    "handshake-failed: bad greeting signature (not a ZMTP peer)",
  ]);
  await expectGoodPeerWorks(f);
});

test("ZMTP 2.0 greeting", async () => {
  const f = await setUp();
  const raw = await rawConnect(f.endpoint);
  await raw.write(Uint8Array.of(0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 5));
  await waitFor(() => raw.isClosed, { what: "the connection to be closed" });
  expect(failureReasons(f.events)).toEqual(["handshake-failed: unsupported ZMTP version 1.x"]);
  await expectGoodPeerWorks(f);
});

test("unknown mechanism CURVE", async () => {
  const f = await setUp();
  const raw = await rawConnect(f.endpoint);
  const greeting = encodeGreeting();
  greeting.set(new TextEncoder().encode("CURVE"), 12);
  await raw.write(greeting);
  await waitFor(() => raw.isClosed, { what: "the connection to be closed" });
  expect(failureReasons(f.events)).toEqual([
    'handshake-failed: unsupported security mechanism "CURVE"',
  ]);
  await expectGoodPeerWorks(f);
});

test("impossible frame size (LONG with 2^63) after the handshake", async () => {
  const f = await setUp();
  const peer = await RawZmtpPeer.connect(f.endpoint, { socketType: "DEALER", identity: "evil" });
  cleanups.push(() => peer.raw.close());
  await peer.sendMessage(["first"]);
  expect(texts(await within(f.router.receive(), 5_000, "the raw peer's message"))).toEqual([
    "evil",
    "first",
  ]);
  await peer.raw.write(Uint8Array.of(0x02, 0x80, 0, 0, 0, 0, 0, 0, 0));
  await waitFor(() => peer.raw.isClosed, { what: "the connection to be closed" });
  const reasons = failureReasons(f.events);
  expect(reasons.length).toBe(1);
  expect(reasons[0]).toStartWith("protocol-error: frame of 9223372036854775808 bytes exceeds");
  await expectGoodPeerWorks(f);
});

test("impossible frame size during the handshake", async () => {
  const f = await setUp();
  const raw = await rawConnect(f.endpoint);
  await raw.write(encodeGreeting());
  await raw.write(Uint8Array.of(0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
  await waitFor(() => raw.isClosed, { what: "the connection to be closed" });
  const [reason] = failureReasons(f.events);
  expect(reason).toStartWith("handshake-failed: frame of 18446744073709551615");
  await expectGoodPeerWorks(f);
});

test("a message above maxMessageBytes", async () => {
  const f = await setUp({ maxMessageBytes: 1000 });
  const peer = await RawZmtpPeer.connect(f.endpoint, { socketType: "DEALER", identity: "big" });
  cleanups.push(() => peer.raw.close());
  await peer.sendMessage([new Uint8Array(600), new Uint8Array(600)]);
  await waitFor(() => peer.raw.isClosed, { what: "the connection to be closed" });
  expect(failureReasons(f.events)).toEqual([
    "protocol-error: message exceeds the limit of 1000 bytes",
  ]);
  // A single frame above the limit is refused from its header.
  const second = await RawZmtpPeer.connect(f.endpoint, { socketType: "DEALER", identity: "b2" });
  cleanups.push(() => second.raw.close());
  await second.raw.write(Uint8Array.of(0x02, 0, 0, 0, 0, 0, 0x10, 0, 0));
  await waitFor(() => second.raw.isClosed, { what: "the second connection to be closed" });
  await expectGoodPeerWorks(f);
});

test("a peer that never finishes its handshake is dropped after handshakeTimeoutMs", async () => {
  const f = await setUp({ handshakeTimeoutMs: 150 });
  const silent = await rawConnect(f.endpoint);
  const halfway = await rawConnect(f.endpoint);
  await halfway.write(encodeGreeting()); // a greeting but never READY
  const started = Date.now();
  await waitFor(() => silent.isClosed && halfway.isClosed, { what: "both to be dropped" });
  expect(Date.now() - started).toBeLessThan(2_000);
  expect(failureReasons(f.events)).toEqual([
    "handshake-failed: handshake did not complete in time",
    "handshake-failed: handshake did not complete in time",
  ]);
  await expectGoodPeerWorks(f);
});

test("an incompatible socket type in READY", async () => {
  const f = await setUp();
  const raw = await rawConnect(f.endpoint);
  await raw.write(encodeGreeting());
  await raw.write(encodeReady("PUB"));
  await waitFor(() => raw.isClosed, { what: "the connection to be closed" });
  expect(failureReasons(f.events)).toEqual([
    "handshake-failed: incompatible peer socket type PUB for ROUTER",
  ]);
  await expectGoodPeerWorks(f);
});

test("the peer vanishes mid-message; nothing half-assembled is delivered", async () => {
  const f = await setUp();
  const peer = await RawZmtpPeer.connect(f.endpoint, { socketType: "DEALER", identity: "half" });
  await peer.raw.write(Uint8Array.of(0x01, 0x01, 0x41, 0x00, 0x05, 0x42)); // MORE 'A', then 1/5
  peer.raw.close();
  await waitFor(() => f.events.some((e) => e.type === "disconnected"), { what: "the disconnect" });
  await expectGoodPeerWorks(f);
});
