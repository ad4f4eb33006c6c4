// Flow between our sockets: DEALER round-robin and fair-queued receive, and high-water marks
// when a peer stops reading (PUB drops for that subscriber only; DEALER send waits).
import { describe, expect, test } from "bun:test";
import { Dealer, Publisher, Router, Subscriber } from "../../../lib/zmtp/index.ts";
import {
  filled,
  publishUntilReceived,
  recordEvents,
  settlesWithin,
  text,
  waitFor,
  within,
} from "../../harness/zmtp.ts";
import { useCleanups } from "../../harness/cleanup.ts";

const { track } = useCleanups();

const opts = { lingerMs: 0 };

describe("DEALER", () => {
  test("round-robin: one whole message per peer in turn", async () => {
    const r1 = track(new Router(opts));
    const r2 = track(new Router(opts));
    const dealer = track(new Dealer(opts));
    const events = recordEvents(dealer);
    dealer.connect(await r1.bind("tcp://127.0.0.1:0"));
    dealer.connect(await r2.bind("tcp://127.0.0.1:0"));
    await waitFor(() => events.filter((e) => e.type === "connected").length === 2, {
      what: "both connections",
    });
    for (let i = 0; i < 6; i++) await dealer.send([`m${i}`, "tail"]);
    const take = async (r: Router) => {
      const got: string[] = [];
      for (let i = 0; i < 3; i++) {
        const [, body, tail] = await within(r.receive(), 5_000, "a message");
        expect(text(tail)).toBe("tail");
        got.push(text(body));
      }
      return got;
    };
    const [a, b] = await Promise.all([take(r1), take(r2)]);
    expect([a, b].sort()).toEqual([
      ["m0", "m2", "m4"],
      ["m1", "m3", "m5"],
    ]);
  });

  test("fair-queued receive: a busy peer does not starve a quiet one", async () => {
    const dealer = track(new Dealer(opts));
    const endpoint = await dealer.bind("tcp://127.0.0.1:0");
    const busy = track(new Router({ ...opts, routingId: "busy" }));
    const quiet = track(new Router({ ...opts, routingId: "quiet" }));
    const busyEvents = recordEvents(busy);
    const quietEvents = recordEvents(quiet);
    busy.connect(endpoint);
    quiet.connect(endpoint);
    const connected = (e: ReturnType<typeof recordEvents>) => e.some((x) => x.type === "connected");
    await waitFor(() => connected(busyEvents) && connected(quietEvents), { what: "both peers" });
    // Bound DEALERs know their peers' ids only as they connect; the ROUTERs address us by ours.
    const dealerId = busy.peerIds[0] as Uint8Array;
    for (let i = 0; i < 500; i++) await busy.send([dealerId, "busy", String(i)]);
    await quiet.send([quiet.peerIds[0] as Uint8Array, "quiet", "0"]);
    // Let everything arrive before the first receive, so only the queueing policy decides.
    const arrived: string[] = [];
    await waitFor(() => dealerQueued(dealer) >= 501, { what: "all 501 messages queued" });
    for (let i = 0; i < 501; i++) {
      arrived.push(text((await within(dealer.receive(), 5_000, "a message"))[0]));
    }
    const quietAt = arrived.indexOf("quiet");
    expect(quietAt).toBeGreaterThanOrEqual(0);
    expect(quietAt).toBeLessThan(2);
  });

  test("send waits while the peer stops reading, then everything arrives in order", async () => {
    const router = track(new Router({ ...opts, receiveHwm: 4 }));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const dealer = track(new Dealer({ ...opts, sendHwm: 4 }));
    dealer.connect(endpoint);
    // Distinct bodies: partial writes must keep exactly the bytes the kernel did not take.
    const body = (i: number): Uint8Array => filled(64 * 1024, i);
    let sent = 0;
    let blocked: Promise<void> | undefined;
    while (blocked === undefined && sent < 10_000) {
      const sending = dealer.send([String(sent), body(sent)]);
      if (await settlesWithin(sending, 200)) sent++;
      else blocked = sending;
    }
    // Memory stays bounded: only a few MiB (HWMs plus kernel buffers) were accepted.
    expect(blocked).toBeDefined();
    expect(sent).toBeLessThan(1_000);
    for (let i = 0; i <= sent; i++) {
      const [, seq, payload] = await within(router.receive(), 5_000, `message ${i}`);
      expect(text(seq)).toBe(String(i));
      expect(Buffer.compare(payload as Uint8Array, body(i))).toBe(0);
    }
    expect(await settlesWithin(blocked as Promise<void>, 1_000)).toBe(true);
  });
});

describe("PUB high-water mark", () => {
  test("a subscriber that stops reading loses messages; the others get everything", async () => {
    const pub = track(new Publisher({ ...opts, sendHwm: 20 }));
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const fast = track(new Subscriber(opts));
    const slow = track(new Subscriber({ ...opts, receiveHwm: 20 }));
    for (const sub of [fast, slow]) {
      sub.subscribe("t");
      sub.connect(endpoint);
      await publishUntilReceived(() => pub.send(["t", "probe"]), sub.receive(), "warm-up");
    }
    let fastCount = 0;
    let fastInOrder = true;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const [, seq] = await fast.receive();
        if (text(seq) === "probe") continue;
        if (text(seq) !== String(fastCount)) fastInOrder = false;
        fastCount++;
      }
    })().catch(() => undefined);

    const total = 10_000;
    const payload = new Uint8Array(4096);
    for (let i = 0; i < total; i++) {
      await pub.send(["t", String(i), payload]);
      // Let the fast reader keep up; the slow one never reads.
      if (i % 100 === 99) await waitFor(() => fastCount > i - 50, { what: `fast reader at ${i}` });
    }
    await waitFor(() => fastCount === total, { what: "all messages at the fast subscriber" });
    reading = false;
    expect(fastInOrder).toBe(true);
    // The slow subscriber's pipe never exceeded its HWM and its write backlog stayed bounded.
    expect(pubQueueMax(pub)).toBeLessThanOrEqual(20);
    expect(pubBacklogMax(pub)).toBeLessThanOrEqual(512 * 1024);

    // Now drain the slow one: it sees an in-order subsequence with most messages dropped. The
    // end marker is re-published after every read, since it is dropped while the queue is full.
    let slowCount = 0;
    let previous = -1;
    for (;;) {
      await pub.send(["t", "end"]);
      const [, seq] = await within(slow.receive(), 5_000, "slow subscriber drains");
      if (text(seq) === "end") break;
      if (text(seq) === "probe") continue;
      const n = Number(text(seq));
      expect(n).toBeGreaterThan(previous);
      previous = n;
      slowCount++;
    }
    expect(slowCount).toBeGreaterThan(0);
    expect(slowCount).toBeLessThan(total / 2);
    void reader;
  });
});

// White-box views used only to show that queues stay bounded.
interface PipeView {
  length: number;
  conn: { backlogBytes: number } | null;
}
function pipesOf(socket: object): PipeView[] {
  return [...(socket as { pipes: Set<PipeView> }).pipes];
}
function pubQueueMax(pub: Publisher): number {
  return Math.max(...pipesOf(pub).map((p) => p.length));
}
function pubBacklogMax(pub: Publisher): number {
  return Math.max(...pipesOf(pub).map((p) => p.conn?.backlogBytes ?? 0));
}
function dealerQueued(dealer: Dealer): number {
  return (dealer as unknown as { inbox: { size: number } }).inbox.size;
}
