// The limit bookkeeping of lib/zmtp on real loopback sockets: a ROUTER serving requests admits
// them within its in-flight caps and holds the rest (reading paused), refuses a large answer
// once its peer is over the byte limit while small ones still go, and gives every byte and
// request back when answers go out or the peer leaves; oversized messages; one pending PONG;
// the connection limit and idle timeout; PUB subscription caps and gapless topics.
import { afterEach, describe, expect, test } from "bun:test";
import { encodeCommand } from "../../../lib/zmtp/codec.ts";
import { Dealer, type Message, Publisher, Router, Subscriber } from "../../../lib/zmtp/index.ts";
import { RawPeer } from "../../harness/hostile.ts";
import { filled, settlesWithin, text, waitFor, within } from "../../harness/zmtp.ts";

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function track<T extends { close(): unknown }>(socket: T): T {
  closers.push(() => socket.close());
  return socket;
}

function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
}

async function rawPeer(port: number, options: Parameters<typeof RawPeer.connect>[1] = {}) {
  const peer = await RawPeer.connect(port, options);
  closers.push(() => peer.close());
  return peer;
}

describe("a ROUTER serving requests", () => {
  test("admits requestsInFlightMax per peer; the next waits until one is answered", async () => {
    const router = track(new Router({ lingerMs: 0, requestsInFlightMax: 2 }));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const dealer = track(new Dealer({ lingerMs: 0 }));
    dealer.connect(endpoint);
    for (let i = 0; i < 5; i++) await dealer.send([`r${i}`]);
    const first = await within(router.receive(), 5000, "request 0");
    const second = await within(router.receive(), 5000, "request 1");
    expect([text(first[1]), text(second[1])]).toEqual(["r0", "r1"]);
    expect(router.requestsInFlight).toBe(2);
    const third = router.receive();
    expect(await settlesWithin(third, 200)).toBe(false);
    expect(router.answer(first, "a0")).toBe("sent");
    expect(text((await within(third, 5000, "request 2"))[1])).toBe("r2");
    expect(text((await within(dealer.receive(), 5000, "answer 0"))[0])).toBe("a0");
    const inFlight: Message[] = [second, await third];
    for (let i = 3; i < 5; i++) {
      router.answer(inFlight.shift() as Message, "ok");
      inFlight.push(await within(router.receive(), 5000, `request ${i}`));
      expect(router.requestsInFlight).toBe(2);
    }
    for (const request of inFlight) router.answer(request, "ok");
    for (let i = 1; i < 5; i++) await within(dealer.receive(), 5000, `answer ${i}`);
    expect(router.requestsInFlight).toBe(0);
    expect(router.bytesTotal).toBe(0);
  });

  test("over the byte limit a large answer is refused, a small one goes; a peer that leaves " +
    "gives everything back", async () => {
    const router = track(new Router({
      lingerMs: 0, requestsInFlightMax: 100, sendHwmBytes: 256 * 1024, sendBytesMax: 1 << 20,
    }));
    const port = portOf(await router.bind("tcp://127.0.0.1:0"));
    const hog = await rawPeer(port);
    for (let i = 0; i < 50; i++) hog.sendMessage([`r${i}`]);
    const outcomes: string[] = [];
    for (let i = 0; i < 50; i++) {
      const request = await within(router.receive(), 5000, `request ${i}`);
      const outcome = router.answer(request, filled(100_000, i));
      outcomes.push(outcome);
      if (outcome === "no-room") expect(router.answer(request, "small")).toBe("sent");
    }
    // The kernel takes a few replies; then the peer is over its limit (checked before adding,
    // so at most one reply overshoots it).
    expect(outcomes).toContain("no-room");
    expect(router.bytesTotal).toBeLessThan(256 * 1024 + 100_000 + 50 * 1024);
    expect(router.requestsInFlight).toBe(0);
    hog.close();
    await waitFor(() => router.connectionCount === 0, { what: "the hog to be gone" });
    expect(router.bytesTotal).toBe(0);
  });

  test("requests wait while the peer is over its byte limit, and reading pauses", async () => {
    const router = track(new Router({
      lingerMs: 0, requestsInFlightMax: 100, sendHwmBytes: 64 * 1024,
    }));
    const port = portOf(await router.bind("tcp://127.0.0.1:0"));
    const hog = await rawPeer(port);
    // Requests of 10 KiB each: in flight they count towards the limit too.
    for (let i = 0; i < 1000; i++) hog.sendMessage([filled(10 * 1024, i)]);
    const held: Message[] = [];
    for (let i = 0; i < 7; i++) held.push(await within(router.receive(), 5000, `request ${i}`));
    expect(await settlesWithin(router.receive(), 200)).toBe(false);
    expect(router.requestsInFlight).toBe(7);
    // The rest waits in the kernel: the hog could not write all of its 10 MB.
    expect(hog.unsentBytes).toBeGreaterThan(0);
    for (const request of held) router.answer(request, "ok");
  });

  test("a peer that reads only later gets every answer: none is lost at the queue's HWM",
    async () => {
      const router = track(new Router({ lingerMs: 0, requestsInFlightMax: 4, sendHwm: 50 }));
      const port = portOf(await router.bind("tcp://127.0.0.1:0"));
      const peer = await rawPeer(port);
      const count = 20_000;
      // 20 MB of answers: far more than the kernel buffers hold while the peer does not read.
      for (let i = 0; i < count; i++) peer.sendMessage([`r${i}`]);
      let answered = 0;
      void (async () => {
        for await (const request of router) {
          router.answer(request, filled(1000, answered++));
        }
      })();
      await waitFor(() => answered > 1000 && router.requestsInFlight === 0, {
        what: "the queue to fill while the peer does not read",
      });
      expect(answered).toBeLessThan(count);
      peer.startReading();
      // Each answer is a 9-byte header and 1000 bytes.
      await waitFor(() => peer.received >= count * 1009, {
        what: "every answer to arrive", timeoutMs: 20_000,
      });
      expect(answered).toBe(count);
    }, 30_000);

  test("peers that never read fill the socket-wide limit; a peer holding nothing still gets " +
    "its request in and answered", async () => {
    const router = track(new Router({
      lingerMs: 0, requestsInFlightMax: 8, sendHwmBytes: 4 << 20, sendBytesMax: 8 << 20,
    }));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const port = portOf(endpoint);
    const hogs = [await rawPeer(port), await rawPeer(port), await rawPeer(port)];
    for (const hog of hogs) for (let i = 0; i < 200; i++) hog.sendMessage([`hog${i}`]);
    void (async () => {
      for await (const request of router) {
        const body = text(request[1]);
        // Hogs get 1 MiB answers (or "busy" once they no longer fit); the reader a short one.
        const big = filled(1 << 20, body.length);
        const isHog = body.startsWith("hog");
        if (!isHog || router.answer(request, big) === "no-room") router.answer(request, "busy");
      }
    })();
    await waitFor(() => router.bytesTotal >= 8 << 20, { what: "the hogs to fill the limit" });
    const reader = track(new Dealer({ lingerMs: 0 }));
    reader.connect(endpoint);
    await reader.send(["reader"]);
    expect(text((await within(reader.receive(), 5000, "the reader's answer"))[0])).toBe("busy");
    expect(router.bytesTotal).toBeLessThan(3 * (4 + 1 + 1) << 20);
  });

  test("an oversized request is delivered with its size; other socket types close", async () => {
    const router = track(new Router({
      lingerMs: 0, requestsInFlightMax: 10, maxMessageBytes: 1000, oversizedBytesMax: 1 << 20,
    }));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const dealer = track(new Dealer({ lingerMs: 0 }));
    dealer.connect(endpoint);
    await dealer.send([filled(5000)]);
    const request = await within(router.receive(), 5000, "the oversized request");
    expect(router.oversizeOf(request)).toEqual({ bytes: 5000, limit: 1000 });
    expect(request[1]?.length).toBe(2048);
    router.answer(request, "too big");
    expect(text((await within(dealer.receive(), 5000, "the answer"))[0])).toBe("too big");

    const plain = track(new Dealer({ lingerMs: 0, maxMessageBytes: 1000, oversizedBytesMax: 1e6 }));
    const plainEndpoint = await plain.bind("tcp://127.0.0.1:0");
    const sender = track(new Dealer({ lingerMs: 0 }));
    const closed = new Promise<void>((resolve) => {
      plain.on((event) => event.type === "protocol-error" && resolve());
    });
    sender.connect(plainEndpoint);
    await sender.send([filled(5000)]);
    await within(closed, 5000, "the DEALER to close the connection");
  });
});

describe("connections", () => {
  test("a peer that pings and never reads: at most one PONG waits in the node", async () => {
    // Without the PING rate limit, which would close this peer first (next test).
    const router = track(new Router({ lingerMs: 0, pingsPerSecondMax: Number.POSITIVE_INFINITY }));
    const port = portOf(await router.bind("tcp://127.0.0.1:0"));
    const pinger = await rawPeer(port);
    const ping = encodeCommand("PING", Uint8Array.of(0, 0));
    const batch = new Uint8Array(ping.length * 100_000);
    for (let at = 0; at < batch.length; at += ping.length) batch.set(ping, at);
    // 2,000,000 PINGs: unbounded, 12 MB of PONGs would wait in the write buffer (more than
    // the kernel's loopback buffers take).
    for (let i = 0; i < 20; i++) {
      pinger.send(batch);
      await pinger.drained();
    }
    await waitFor(() => router.connectionCount === 1, { what: "the pinger to be served" });
    expect(router.bytesTotal).toBeLessThan(64);
  }, 60_000);

  test("a peer pinging faster than pingsPerSecondMax is closed; a heartbeat-rate one is not",
    async () => {
      const router = track(new Router({ lingerMs: 0, pingsPerSecondMax: 20 }));
      const port = portOf(await router.bind("tcp://127.0.0.1:0"));
      const ping = encodeCommand("PING", Uint8Array.of(0, 0));
      const steady = await rawPeer(port, { reads: true });
      const flooder = await rawPeer(port, { reads: true });
      await waitFor(() => router.connectionCount === 2, { what: "two connections" });
      // A burst of 20 is allowed; 21 at once is one too many.
      for (let i = 0; i < 21; i++) flooder.send(ping);
      await waitFor(() => flooder.isClosed, { what: "the flooder to be closed" });
      // 10 PINGs a second for a second: within the rate, so the connection stays.
      for (let i = 0; i < 10; i++) {
        steady.send(ping);
        await Bun.sleep(100);
      }
      expect(steady.isClosed).toBe(false);
      expect(router.connectionCount).toBe(1);
    });

  test("connectionsMax closes a newcomer at once; idleTimeoutMs closes a silent peer", async () => {
    const router = track(new Router({ lingerMs: 0, connectionsMax: 2, idleTimeoutMs: 300 }));
    const port = portOf(await router.bind("tcp://127.0.0.1:0"));
    const first = await rawPeer(port, { reads: true });
    const second = await rawPeer(port, { reads: true });
    await waitFor(() => router.connectionCount === 2, { what: "two connections" });
    const third = await RawPeer.connect(port, { reads: true }).catch(() => null);
    if (third !== null) {
      closers.push(() => third.close());
      await waitFor(() => third.isClosed, { what: "the third connection to be closed" });
    }
    expect(router.acceptedConnectionCount).toBe(2);
    const started = Date.now();
    await waitFor(() => first.isClosed && second.isClosed, { what: "the idle timeout" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(router.acceptedConnectionCount).toBe(0);
  });
});

describe("PUB subscription caps", () => {
  test("subscriptionsMax and subscriptionBytesMax: further or longer prefixes are ignored",
    async () => {
      const pub = track(new Publisher({ lingerMs: 0, subscriptionsMax: 2, subscriptionBytesMax: 3 }));
      const endpoint = await pub.bind("tcp://127.0.0.1:0");
      const sub = track(new Subscriber({ lingerMs: 0 }));
      for (const prefix of ["a", "long", "b", "c"]) sub.subscribe(prefix);
      sub.connect(endpoint);
      const seen: string[] = [];
      void (async () => {
        for await (const message of sub) seen.push(text(message[0]));
      })();
      await waitFor(async () => {
        for (const topic of ["c", "longer", "a", "b"]) await pub.send([topic]);
        return seen.includes("a") && seen.includes("b");
      }, { what: "messages on the two kept prefixes", intervalMs: 20 });
      expect(seen.filter((t) => t === "c" || t === "longer")).toEqual([]);
    });
});

describe("PUB gapless topics", () => {
  test("a subscriber with no room for a gapless topic is disconnected; other topics just drop",
    async () => {
      const pub = track(new Publisher({
        lingerMs: 0,
        sendHwm: 4,
        gaplessTopics: [new TextEncoder().encode("w/")],
      }));
      const endpoint = await pub.bind("tcp://127.0.0.1:0");
      // Neither subscriber is ever read: its inbox fills, then the kernel's buffers, then the
      // publisher's queue for it.
      const watcher = track(new Subscriber({ lingerMs: 0, receiveHwm: 2 }));
      const listener = track(new Subscriber({ lingerMs: 0, receiveHwm: 2 }));
      const lost = { watcher: 0, listener: 0 };
      watcher.on((event) => void (event.type === "disconnected" && lost.watcher++));
      listener.on((event) => void (event.type === "disconnected" && lost.listener++));
      watcher.subscribe("w/");
      listener.subscribe("hb");
      watcher.connect(endpoint);
      listener.connect(endpoint);
      await waitFor(() => pub.subscriberCount === 2, { what: "two subscribers" });
      const payload = new Uint8Array(256 * 1024);
      let sent = 0;
      await waitFor(async () => {
        await pub.send(["w/key", payload]);
        await pub.send(["hb", payload]);
        sent++;
        return lost.watcher > 0;
      }, { what: "the lagging watcher to be disconnected", intervalMs: 5, timeoutMs: 20_000 });
      // The listener took as many bytes and was not read either: it only missed messages.
      expect(sent).toBeGreaterThan(4);
      expect(lost.listener).toBe(0);
    }, 30_000);
});
