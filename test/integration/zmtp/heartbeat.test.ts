// ZMTP heartbeats (RFC 37 PING/PONG, docs/zmtp.md 4.2 and 6): a socket with heartbeatIvlMs pings
// its peers and drops one that stays silent; a peer's PING TTL is honoured; a peer that answers
// its PINGs stays connected. Peers are raw ZMTP over TCP, so the wire is what is checked.
import { expect, test } from "bun:test";
import { bytesToString } from "../../../lib/zmtp/codec.ts";
import { Router, type SocketEvent } from "../../../lib/zmtp/index.ts";
import { useCleanups } from "../../harness/cleanup.ts";
import { RawZmtpPeer, recordEvents, texts, waitFor, within } from "../../harness/zmtp.ts";
import type { DecodedFrame } from "../../../lib/zmtp/codec.ts";

const { defer, track } = useCleanups();

/** Command frames with this name, in order. */
function commandsNamed(frames: DecodedFrame[], name: string): Uint8Array[] {
  return frames.flatMap((f) => {
    if (f.kind !== "command") return [];
    const length = f.body[0] ?? 0;
    return bytesToString(f.body.subarray(1, 1 + length)) === name
      ? [f.body.subarray(1 + length)]
      : [];
  });
}

function disconnections(events: SocketEvent[]): string[] {
  return events.flatMap((e) => (e.type === "disconnected" ? [e.reason] : []));
}

async function routerWith(options: { heartbeatIvlMs?: number; heartbeatTimeoutMs?: number }) {
  const router = track(new Router({ lingerMs: 0, ...options }));
  const events = recordEvents(router);
  const endpoint = await router.bind("tcp://127.0.0.1:0");
  return { router, events, endpoint };
}

async function rawDealer(endpoint: string, identity: string): Promise<RawZmtpPeer> {
  const peer = await RawZmtpPeer.connect(endpoint, { socketType: "DEALER", identity });
  defer(() => peer.raw.close());
  return peer;
}

test("a socket with heartbeats PINGs its peer with a TTL and drops it when it goes silent", async () => {
  const { router, events, endpoint } = await routerWith({
    heartbeatIvlMs: 40,
    heartbeatTimeoutMs: 80,
  });
  const peer = await rawDealer(endpoint, "quiet");
  await peer.sendMessage(["hello"]);
  expect(texts(await within(router.receive(), 5_000, "the peer's message"))).toEqual([
    "quiet",
    "hello",
  ]);
  await waitFor(() => commandsNamed(peer.received(), "PING").length >= 2, { what: "two PINGs" });
  // TTL in tenths of a second: interval + timeout = 120 ms, rounded down to 1.
  const [first] = commandsNamed(peer.received(), "PING");
  expect(first?.subarray(0, 2)).toEqual(Uint8Array.of(0, 1));
  // The raw peer never answers: the connection must go.
  await waitFor(() => peer.raw.isClosed, { what: "the silent peer to be dropped" });
  expect(disconnections(events)).toEqual(["peer went silent (heartbeat timeout)"]);
});

test("a peer that answers every PING with a PONG stays connected", async () => {
  const { router, endpoint } = await routerWith({ heartbeatIvlMs: 30, heartbeatTimeoutMs: 60 });
  const peer = await rawDealer(endpoint, "lively");
  let answered = 0;
  // Answer PINGs until far more than one timeout has passed (10 intervals).
  await waitFor(
    async () => {
      const pings = commandsNamed(peer.received(), "PING").length;
      while (answered < pings) {
        await peer.sendCommand("PONG");
        answered++;
      }
      return answered >= 10 || peer.raw.isClosed;
    },
    { what: "ten PINGs answered" },
  );
  expect(peer.raw.isClosed).toBe(false);
  await peer.sendMessage(["still here"]);
  expect(texts(await within(router.receive(), 5_000, "the message"))).toEqual([
    "lively",
    "still here",
  ]);
});

test("a peer's PING is answered with a PONG echoing its context, and its TTL is honoured", async () => {
  const { events, endpoint } = await routerWith({});
  const peer = await rawDealer(endpoint, "ttl");
  // TTL 3 tenths of a second, context "ctx-1".
  await peer.sendCommand("PING", Uint8Array.of(0, 3, ...new TextEncoder().encode("ctx-1")));
  await waitFor(() => commandsNamed(peer.received(), "PONG").length === 1, { what: "a PONG" });
  expect(bytesToString(commandsNamed(peer.received(), "PONG")[0] as Uint8Array)).toBe("ctx-1");
  // Then silence: our side closes once nothing arrived for the TTL.
  await waitFor(() => peer.raw.isClosed, { what: "the connection to close after the TTL" });
  expect(disconnections(events)).toEqual(["peer went silent (heartbeat timeout)"]);
});
