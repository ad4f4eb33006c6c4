// Interop: our PUB and SUB against real libzmq 4.3.5 SUB and PUB sockets, both bind/connect
// directions: publisher-side topic filtering, SUBSCRIBE/CANCEL as libzmq sends them, and the
// slow-joiner rule (publish until the first message arrives; never sleep).
import { describe, expect, test } from "bun:test";
import { Publisher, Subscriber } from "../../lib/zmtp/index.ts";
import { publishUntilReceived, text, texts, within } from "../harness/zmtp.ts";
import { LibzmqPeer } from "./libzmq-peer.ts";
import { useCleanups } from "../harness/cleanup.ts";

const { track, own } = useCleanups();

async function startPeer(...args: Parameters<typeof LibzmqPeer.start>): Promise<LibzmqPeer> {
  return own(await LibzmqPeer.start(...args));
}

const lingerless = { lingerMs: 0 };

/** A subscription as XSUB sends it and XPUB reports it: 1 (subscribe) or 0 (cancel), prefix. */
function subscription(flag: 0 | 1, prefix: string): Uint8Array {
  return new Uint8Array([flag, ...new TextEncoder().encode(prefix)]);
}

/** Our PUB and a libzmq SUB subscribed to `topics`, connected either way round, warmed up. */
async function ourPubToLibzmqSub(
  direction: "pub-binds" | "sub-binds",
  topics: string[],
): Promise<{ pub: Publisher; sub: LibzmqPeer }> {
  const pub = track(new Publisher(lingerless));
  const sub = await startPeer("sub");
  for (const topic of topics) await sub.subscribe(topic);
  if (direction === "pub-binds") await sub.connect(await pub.bind("tcp://127.0.0.1:0"));
  else pub.connect(await sub.bind());
  const warm = topics[0] ?? "";
  const first = sub.nextMessage(5_000);
  await publishUntilReceived(() => pub.send([warm, "probe"]), first, "the first message at SUB");
  return { pub, sub };
}

/** Takes messages until the marker on `topic` arrives; returns everything before it. */
async function takeUntil(next: () => Promise<Uint8Array[]>, marker: string): Promise<string[][]> {
  const seen: string[][] = [];
  for (;;) {
    const message = texts(await next());
    if (message[1] === marker) return seen;
    if (message[1] !== "probe") seen.push(message);
  }
}

describe("our PUB -> libzmq SUB", () => {
  for (const direction of ["pub-binds", "sub-binds"] as const) {
    test(`topic filtering at the publisher (${direction})`, async () => {
      const { pub, sub } = await ourPubToLibzmqSub(direction, ["weather."]);
      await pub.send(["sports.", "not wanted"]);
      await pub.send(["weather.rome", "sunny", ""]);
      await pub.send(["weathe", "too short a topic"]);
      await pub.send(["weather.oslo", "x".repeat(300)]);
      await pub.send(["weather.", "end"]);
      const seen = await takeUntil(() => sub.nextMessage(), "end");
      expect(seen).toEqual([["weather.rome", "sunny", ""], ["weather.oslo", "x".repeat(300)]]);
    });
  }

  test("libzmq SUB: subscribe twice, unsubscribe once still delivers", async () => {
    const { pub, sub } = await ourPubToLibzmqSub("pub-binds", ["A", "Z"]);
    await sub.subscribe("A");
    await sub.unsubscribe("A");
    await pub.send(["A", "still subscribed"]);
    await pub.send(["Z", "mark"]);
    expect(await takeUntil(() => sub.nextMessage(), "mark")).toEqual([["A", "still subscribed"]]);
  });
});

// XSUB does not filter locally, so what it receives is exactly what our PUB chose to send.
describe("our PUB -> libzmq XSUB (publisher-side filtering made visible)", () => {
  async function setUp(): Promise<{ pub: Publisher; xsub: LibzmqPeer }> {
    const pub = track(new Publisher(lingerless));
    const xsub = await startPeer("xsub");
    await xsub.connect(await pub.bind("tcp://127.0.0.1:0"));
    await xsub.send([subscription(1, "Z")]);
    const first = xsub.nextMessage(5_000);
    await publishUntilReceived(() => pub.send(["Z", "probe"]), first, "the first message");
    return { pub, xsub };
  }

  /** Waits until the PUB has applied everything XSUB sent before, via a fresh topic. */
  async function sync(pub: Publisher, xsub: LibzmqPeer, topic: string): Promise<void> {
    await xsub.send([subscription(1, topic)]);
    const synced = takeUntil(() => xsub.nextMessage(), `${topic}-synced`);
    await publishUntilReceived(() => pub.send([topic, `${topic}-synced`]), synced, topic);
  }

  test("only matching prefixes leave our PUB; CANCEL stops them", async () => {
    const { pub, xsub } = await setUp();
    await xsub.send([subscription(1, "weather.")]);
    await sync(pub, xsub, "S1");
    await pub.send(["sports.", "filtered at the publisher"]);
    await pub.send(["weather.rome", "sunny"]);
    await pub.send(["Z", "mark-1"]);
    const seen = await takeUntil(() => xsub.nextMessage(), "mark-1");
    expect(seen).toEqual([["weather.rome", "sunny"]]);

    await xsub.send([subscription(0, "weather.")]);
    await sync(pub, xsub, "S2");
    await pub.send(["weather.oslo", "cancelled"]);
    await pub.send(["Z", "mark-2"]);
    const after = await takeUntil(() => xsub.nextMessage(), "mark-2");
    expect(after.filter((m) => m[0]?.startsWith("weather"))).toEqual([]);
  });

  test("SUBSCRIBE x2 then CANCEL (libzmq's wire pattern) leaves no subscription", async () => {
    const { pub, xsub } = await setUp();
    // libzmq forwards every subscribe but only the last unsubscribe (docs/zmtp.md 5.4): a counting
    // publisher would keep sending A forever.
    await xsub.send([subscription(1, "A")]);
    await xsub.send([subscription(1, "A")]);
    await xsub.send([subscription(0, "A")]);
    await xsub.send([subscription(0, "A")]);
    await sync(pub, xsub, "S3");
    await pub.send(["A", "must not arrive"]);
    await pub.send(["Z", "mark"]);
    const after = await takeUntil(() => xsub.nextMessage(), "mark");
    expect(after.filter((m) => m[0] === "A")).toEqual([]);
  });
});

describe("libzmq PUB -> our SUB", () => {
  for (const direction of ["pub-binds", "sub-binds"] as const) {
    test(`only subscribed topics arrive, in order (${direction})`, async () => {
      const pub = await startPeer("pub");
      const sub = track(new Subscriber(lingerless));
      sub.subscribe("news");
      if (direction === "pub-binds") sub.connect(await pub.bind());
      else await pub.connect(await sub.bind("tcp://127.0.0.1:0"));

      const first = sub.receive();
      await publishUntilReceived(() => pub.send(["news", "probe"]), first, "the first message");
      await pub.send(["other", "dropped by libzmq"]);
      await pub.send(["news.today", "1"]);
      await pub.send(["new", "too short"]);
      await pub.send(["news", "2", ""]);
      await pub.send(["news", "end"]);
      const seen = await takeUntil(() => within(sub.receive(), 5_000, "news"), "end");
      expect(seen).toEqual([["news.today", "1"], ["news", "2", ""]]);
    });
  }

  test("a 1 MiB frame and a multipart message from libzmq PUB", async () => {
    const pub = await startPeer("pub");
    const sub = track(new Subscriber(lingerless));
    sub.subscribe("");
    sub.connect(await pub.bind());
    const first = sub.receive();
    await publishUntilReceived(() => pub.send(["probe", "probe"]), first, "the first message");
    await pub.send(["big", { fill: 5, size: 1024 * 1024 }, "", { fill: 6, size: 256 }]);
    let message: Uint8Array[];
    do message = await within(sub.receive(), 5_000, "the big message");
    while (text(message[0]) === "probe");
    expect(message.map((f) => f.length)).toEqual([3, 1024 * 1024, 0, 256]);
    expect(message[1]?.every((b) => b === 5)).toBe(true);
    expect(message[3]?.every((b) => b === 6)).toBe(true);
  });
});

// XPUB reports the subscriptions it receives, as libzmq decoded them from our SUB.
describe("our SUB -> libzmq XPUB (our SUBSCRIBE/CANCEL as libzmq sees them)", () => {
  test("subscribe, counted duplicates, cancel on the last unsubscribe", async () => {
    const xpub = await startPeer("xpub", { verbosity: "allSubsUnsubs" });
    const sub = track(new Subscriber(lingerless));
    sub.subscribe("a");
    sub.connect(await xpub.bind());
    expect(await xpub.nextMessage()).toEqual([subscription(1, "a")]);

    sub.subscribe("a");
    sub.unsubscribe("a");
    sub.subscribe("b");
    // A verbose XPUB passes duplicates on, so seeing b next proves we sent nothing for the pair.
    expect(await xpub.nextMessage()).toEqual([subscription(1, "b")]);
    sub.unsubscribe("a");
    expect(await xpub.nextMessage()).toEqual([subscription(0, "a")]);

    await xpub.send(["b", "delivered"]);
    expect(texts(await within(sub.receive(), 5_000, "b"))).toEqual(["b", "delivered"]);
  });
});
