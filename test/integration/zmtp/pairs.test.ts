// Our sockets to each other over loopback, for every valid pair: ROUTER<->DEALER,
// DEALER<->DEALER, ROUTER<->ROUTER, PUB->SUB; routing ids, unroutable messages, handover,
// and the subscription forms a PUB must accept.
import { describe, expect, test } from "bun:test";
import { Dealer, Publisher, Router, Subscriber } from "../../../lib/zmtp/index.ts";
import { HighWaterMarkError } from "../../../lib/util/errors.ts";
import {
  RawListener,
  RawZmtpPeer,
  publishUntilReceived,
  recordEvents,
  text,
  texts,
  waitFor,
  within,
} from "../../harness/zmtp.ts";
import { useCleanups } from "../../harness/cleanup.ts";

const { defer, track } = useCleanups();

const opts = { lingerMs: 0 };
const recv = (s: { receive(): Promise<Uint8Array[]> }, what = "a message") =>
  within(s.receive(), 5_000, what);

describe("ROUTER <-> DEALER", () => {
  test("generated ids: 5 bytes, 00 then a counter; replies are routed per peer", async () => {
    const router = track(new Router(opts));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const d1 = track(new Dealer(opts));
    const d2 = track(new Dealer(opts));
    d1.connect(endpoint);
    await d1.send(["from-1"]);
    const [id1, body1] = await recv(router);
    d2.connect(endpoint);
    await d2.send(["from-2"]);
    const [id2, body2] = await recv(router);
    expect([text(body1), text(body2)]).toEqual(["from-1", "from-2"]);
    expect(id1?.length).toBe(5);
    expect(id1?.[0]).toBe(0);
    const counter = (id: Uint8Array | undefined): number =>
      new DataView((id as Uint8Array).buffer).getUint32(1);
    expect((counter(id2) - counter(id1)) >>> 0).toBe(1);

    await router.send([id2 as Uint8Array, "to-2"]);
    await router.send([id1 as Uint8Array, "to-1", "two frames"]);
    expect(texts(await recv(d1))).toEqual(["to-1", "two frames"]);
    expect(texts(await recv(d2))).toEqual(["to-2"]);
  });

  test("a peer-set routing id is used as is", async () => {
    const router = track(new Router(opts));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const dealer = track(new Dealer({ ...opts, routingId: "alice" }));
    dealer.connect(endpoint);
    await dealer.send(["hi"]);
    expect(texts(await recv(router))).toEqual(["alice", "hi"]);
    await router.send(["alice", "hello alice"]);
    expect(texts(await recv(dealer))).toEqual(["hello alice"]);
  });

  test("bound DEALER, connecting ROUTER with a binary routing id", async () => {
    const dealer = track(new Dealer(opts));
    const endpoint = await dealer.bind("tcp://127.0.0.1:0");
    const router = track(new Router(opts));
    router.connect(endpoint);
    await dealer.send(["up"]);
    const [id, body] = await recv(router);
    expect(text(body)).toBe("up");
    await router.send([id as Uint8Array, "down"]);
    expect(texts(await recv(dealer))).toEqual(["down"]);
  });
});

test("DEALER <-> DEALER both ways", async () => {
  const a = track(new Dealer(opts));
  const b = track(new Dealer(opts));
  b.connect(await a.bind("tcp://127.0.0.1:0"));
  await b.send(["b->a", ""]);
  expect(texts(await recv(a))).toEqual(["b->a", ""]);
  await a.send(["a->b"]);
  expect(texts(await recv(b))).toEqual(["a->b"]);
});

test("ROUTER <-> ROUTER with set identities", async () => {
  const server = track(new Router({ ...opts, routingId: "server" }));
  const client = track(new Router({ ...opts, routingId: "client" }));
  const events = recordEvents(client);
  client.connect(await server.bind("tcp://127.0.0.1:0"));
  await waitFor(() => events.some((e) => e.type === "connected"), { what: "client connected" });
  expect(client.peerIds.map((id) => text(id))).toEqual(["server"]);
  await client.send(["server", "request"]);
  expect(texts(await recv(server))).toEqual(["client", "request"]);
  await server.send(["client", "response"]);
  expect(texts(await recv(client))).toEqual(["server", "response"]);
});

describe("ROUTER unroutable messages", () => {
  test("dropped silently by default", async () => {
    const router = track(new Router(opts));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    await router.send(["nobody", "lost"]);
    await router.send(["only-one-frame"]);
    const dealer = track(new Dealer({ ...opts, routingId: "d" }));
    dealer.connect(endpoint);
    await dealer.send(["hello"]);
    await recv(router);
    await router.send(["d", "first routed"]);
    expect(texts(await recv(dealer))).toEqual(["first routed"]);
  });

  test("routerMandatory: unknown id and a lone frame are rejected", async () => {
    const router = track(new Router({ ...opts, routerMandatory: true }));
    await router.bind("tcp://127.0.0.1:0");
    const error = await router.send(["nobody", "x"]).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(HighWaterMarkError);
    expect((error as HighWaterMarkError).code).toBe("HWM");
    await expect(router.send(["lonely"])).rejects.toBeInstanceOf(RangeError);
  });
});

describe("duplicate routing ids", () => {
  test("without handover the newcomer is refused and the first peer keeps the id", async () => {
    const router = track(new Router(opts));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const first = track(new Dealer({ ...opts, routingId: "dup" }));
    first.connect(endpoint);
    await first.send(["from first"]);
    expect(texts(await recv(router))).toEqual(["dup", "from first"]);

    const newcomer = await RawZmtpPeer.connect(endpoint, { socketType: "DEALER", identity: "dup" });
    defer(() => newcomer.raw.close());
    await newcomer.sendMessage(["from newcomer"]);
    await waitFor(() => newcomer.raw.isClosed, { what: "the newcomer to be closed" });

    await first.send(["again"]);
    expect(texts(await recv(router))).toEqual(["dup", "again"]);
    await router.send(["dup", "to first"]);
    expect(texts(await recv(first))).toEqual(["to first"]);
  });

  test("with routerHandover the newcomer takes the id and the old connection closes", async () => {
    const router = track(new Router({ ...opts, routerHandover: true }));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const stale = await RawZmtpPeer.connect(endpoint, { socketType: "DEALER", identity: "node-1" });
    defer(() => stale.raw.close());
    await stale.sendMessage(["from the stale connection"]);
    expect(texts(await recv(router))).toEqual(["node-1", "from the stale connection"]);

    const restarted = track(new Dealer({ ...opts, routingId: "node-1" }));
    restarted.connect(endpoint);
    await restarted.send(["I am back"]);
    expect(texts(await recv(router))).toEqual(["node-1", "I am back"]);
    await waitFor(() => stale.raw.isClosed, { what: "the stale connection to be closed" });
    await router.send(["node-1", "welcome back"]);
    expect(texts(await recv(restarted))).toEqual(["welcome back"]);
  });
});

describe("PUB -> SUB", () => {
  test("prefix filtering; subscribe before and after connecting; unsubscribe", async () => {
    const pub = track(new Publisher(opts));
    const sub = track(new Subscriber(opts));
    sub.subscribe("a.");
    sub.connect(await pub.bind("tcp://127.0.0.1:0"));
    await publishUntilReceived(() => pub.send(["a.", "probe"]), sub.receive(), "first message");

    await pub.send(["b.x", "not subscribed"]);
    await pub.send(["a", "too short"]);
    await pub.send(["a.x", "1"]);
    await pub.send(["a.", "end-1"]);
    const seen: string[][] = [];
    for (let m = texts(await recv(sub)); m[1] !== "end-1"; m = texts(await recv(sub))) {
      if (m[1] !== "probe") seen.push(m);
    }
    expect(seen).toEqual([["a.x", "1"]]);

    sub.subscribe("b.");
    await publishUntilReceived(() => pub.send(["b.", "probe-b"]), sub.receive(), "b subscribed");
    sub.unsubscribe("a.");
    sub.subscribe("sync");
    const synced = sub.receive();
    await publishUntilReceived(() => pub.send(["sync", "s"]), synced, "sync");
    await pub.send(["a.x", "after unsubscribe"]);
    await pub.send(["b.y", "2"]);
    await pub.send(["sync", "end-2"]);
    const later: string[][] = [];
    for (let m = texts(await recv(sub)); m[1] !== "end-2"; m = texts(await recv(sub))) {
      later.push(m);
    }
    expect(later.filter((m) => m[0] !== "sync" && m[1] !== "probe-b")).toEqual([["b.y", "2"]]);
  });

  test("the empty prefix matches everything; counted subscriptions on the SUB", async () => {
    const pub = track(new Publisher(opts));
    const sub = track(new Subscriber(opts));
    sub.subscribe("");
    sub.subscribe("");
    sub.connect(await pub.bind("tcp://127.0.0.1:0"));
    await publishUntilReceived(() => pub.send(["any"]), sub.receive(), "first message");
    sub.unsubscribe("");
    await pub.send(["still"]);
    await pub.send(["end"]);
    let last = "";
    while (last !== "end") last = texts(await recv(sub))[0] ?? "";
    expect(pub.subscriberCount).toBe(1);
  });
});

describe("PUB accepts both subscription forms on any connection (raw SUB peers)", () => {
  for (const minor of [0, 1]) {
    test(`ZMTP 3.${minor} peer: 01/00 messages and SUBSCRIBE/CANCEL commands`, async () => {
      const pub = track(new Publisher(opts));
      const endpoint = await pub.bind("tcp://127.0.0.1:0");
      const peer = await RawZmtpPeer.connect(endpoint, { socketType: "SUB", minor });
      defer(() => peer.raw.close());
      await peer.sendMessage([Uint8Array.of(1, 0x41)]); // 3.0 subscribe "A"
      await peer.sendCommand("SUBSCRIBE", "Z"); // 3.1 subscribe "Z"
      await waitFor(() => pub.subscriberCount === 1, { what: "the subscriptions" });
      const count = () => peer.messageTexts().length;
      await publishUntilReceived(
        () => pub.send(["Z", "sync"]),
        waitFor(() => count() > 0, { what: "sync" }),
        "sync",
      );
      await pub.send(["B", "not subscribed"]);
      await pub.send(["A1", "one"]);
      await peer.sendCommand("CANCEL", "A");
      await peer.sendMessage([Uint8Array.of(1, 0x59)]); // subscribe "Y" to know CANCEL landed
      await publishUntilReceived(
        () => pub.send(["Y", "y-sync"]),
        waitFor(() => peer.messageTexts().includes("y-sync"), { what: "y" }),
        "Y",
      );
      await pub.send(["A2", "after cancel"]);
      await pub.send(["Z", "end"]);
      await waitFor(() => peer.messageTexts().includes("end"), { what: "end" });
      const topics = peer.messageTexts().filter((_, i) => i % 2 === 0);
      expect(topics.filter((t) => t !== "Z" && t !== "Y")).toEqual(["A1"]);
      expect(peer.messageTexts()).not.toContain("after cancel");
    });
  }

  test("our SUB sends commands to a 3.1 PUB and 01/00 messages to a 3.0 PUB", async () => {
    const listener = new RawListener();
    defer(() => listener.stop());
    for (const minor of [1, 0]) {
      const sub = track(new Subscriber(opts));
      const events = recordEvents(sub);
      sub.subscribe("A");
      sub.connect(listener.endpoint);
      const peer = await RawZmtpPeer.greet(await listener.accept(), { socketType: "PUB", minor });
      await waitFor(() => events.some((e) => e.type === "connected"), { what: "the handshake" });
      sub.subscribe("B");
      sub.unsubscribe("A");
      const frames = await peer.waitForFrames(4, `our SUB's subscriptions (3.${minor})`);
      const bodies = frames.map((f) => [f.kind, text(f.body)]);
      expect(bodies[0]?.[0]).toBe("command"); // READY
      if (minor === 1) {
        expect(bodies.slice(1)).toEqual([
          ["command", "\u0009SUBSCRIBEA"],
          ["command", "\u0009SUBSCRIBEB"],
          ["command", "\u0006CANCELA"],
        ]);
      } else {
        expect(bodies.slice(1)).toEqual([
          ["frame", "\u0001A"],
          ["frame", "\u0001B"],
          ["frame", "\u0000A"],
        ]);
      }
      await sub.close();
    }
  });
});

test("close() lingers: messages sent just before it are still delivered", async () => {
  const router = track(new Router(opts));
  const dealer = new Dealer({ routingId: "leaving" });
  dealer.connect(await router.bind("tcp://127.0.0.1:0"));
  await dealer.send(["hello"]);
  expect(texts(await recv(router))).toEqual(["leaving", "hello"]);
  for (let i = 0; i < 100; i++) await dealer.send(["last words", String(i)]);
  await dealer.close();
  expect(dealer.closed).toBe(true);
  for (let i = 0; i < 100; i++) {
    expect(texts(await recv(router))).toEqual(["leaving", "last words", String(i)]);
  }
});
