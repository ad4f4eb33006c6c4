// Interop: bad and restarting peers around real libzmq. A raw TCP peer with a bad greeting and a
// libzmq socket of an incompatible type are refused by our ROUTER while a libzmq DEALER on the
// same socket carries on; a SIGKILLed libzmq peer restarted on the same port gets our queued
// messages and our subscriptions again.
import { describe, expect, test } from "bun:test";
import { Dealer, Router, type SocketEvent, Subscriber } from "../../lib/zmtp/index.ts";
import {
  RawPeer,
  recordEvents,
  texts,
  trackUnhandled,
  waitFor,
  within,
} from "../harness/zmtp.ts";
import { LibzmqPeer } from "./libzmq-peer.ts";
import { useCleanups } from "../harness/cleanup.ts";

const { defer, track, own } = useCleanups();

async function startPeer(...args: Parameters<typeof LibzmqPeer.start>): Promise<LibzmqPeer> {
  return own(await LibzmqPeer.start(...args));
}

const failures = (events: SocketEvent[]): SocketEvent[] =>
  events.filter((e) => e.type === "handshake-failed" || e.type === "protocol-error");

describe("bad peers next to a libzmq DEALER", () => {
  test("a bad greeting by raw TCP is refused; the libzmq DEALER keeps working", async () => {
    const unhandled = trackUnhandled();
    defer(() => unhandled.stop());
    const router = track(new Router({ lingerMs: 0 }));
    const events = recordEvents(router);
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const dealer = await startPeer("dealer", { routingId: "good", echo: true });
    await dealer.connect(endpoint);

    const raw = await RawPeer.connect(endpoint);
    await raw.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await waitFor(() => raw.isClosed, { what: "our ROUTER to close the HTTP client" });
    expect(failures(events).map((e) => "reason" in e && e.reason)).toEqual([
      "bad greeting signature (not a ZMTP peer)",
    ]);

    await router.send(["good", "still", "here"]);
    expect(texts(await dealer.nextMessage())).toEqual(["still", "here"]);
    const echo = await within(router.receive(), 5_000, "the echo");
    expect(texts(echo)).toEqual(["good", "still", "here"]);
    expect(unhandled.seen).toEqual([]);
  });

  test("a libzmq PUB (incompatible type) is refused by our ROUTER", async () => {
    const router = track(new Router({ lingerMs: 0 }));
    const events = recordEvents(router);
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const pub = await startPeer("pub");
    await pub.connect(endpoint);
    await waitFor(() => failures(events).length > 0, { what: "the PUB to be refused" });
    const reason = failures(events)[0];
    expect(reason?.type).toBe("handshake-failed");
    expect(reason !== undefined && "reason" in reason ? reason.reason : "").toContain("PUB");
    expect(router.peerIds).toEqual([]);
  });
});

describe("libzmq peer SIGKILLed and restarted on the same port", () => {
  test("our DEALER reconnects and delivers what was sent while the peer was down", async () => {
    const first = await startPeer("router", { echo: true });
    const endpoint = await first.bind();
    const dealer = track(new Dealer({ lingerMs: 0, routingId: "dlr" }));
    const events = recordEvents(dealer);
    dealer.connect(endpoint);
    await dealer.send(["before"]);
    expect(texts(await within(dealer.receive(), 5_000, "the first echo"))).toEqual(["before"]);

    first.kill();
    await waitFor(() => events.some((e) => e.type === "disconnected"), { what: "disconnect" });
    await dealer.send(["while", "down"]);
    await dealer.send(["second"]);

    const second = await startPeer("router", { echo: true });
    expect(await second.bind(endpoint)).toBe(endpoint);
    expect(texts(await second.nextMessage())).toEqual(["dlr", "while", "down"]);
    expect(texts(await second.nextMessage())).toEqual(["dlr", "second"]);
    expect(texts(await within(dealer.receive(), 5_000, "echo 1"))).toEqual(["while", "down"]);
    expect(texts(await within(dealer.receive(), 5_000, "echo 2"))).toEqual(["second"]);
  });

  test("our SUB replays its subscriptions to the restarted libzmq XPUB", async () => {
    const first = await startPeer("xpub", { verbosity: "allSubsUnsubs" });
    const endpoint = await first.bind();
    const sub = track(new Subscriber({ lingerMs: 0 }));
    const events = recordEvents(sub);
    sub.subscribe("a");
    sub.subscribe("b");
    sub.subscribe("a");
    sub.connect(endpoint);
    const initial = [texts(await first.nextMessage()), texts(await first.nextMessage())];
    expect(initial).toEqual([["\u0001a"], ["\u0001b"]]);

    first.kill();
    await waitFor(() => events.some((e) => e.type === "disconnected"), { what: "disconnect" });
    sub.unsubscribe("b");
    sub.subscribe("c");

    const second = await startPeer("xpub", { verbosity: "allSubsUnsubs" });
    await second.bind(endpoint);
    const replayed = [texts(await second.nextMessage()), texts(await second.nextMessage())];
    expect(replayed.sort()).toEqual([["\u0001a"], ["\u0001c"]]);
    await second.send(["c", "after restart"]);
    expect(texts(await within(sub.receive(), 5_000, "c"))).toEqual(["c", "after restart"]);
  });
});
