// Volume between our sockets over loopback: a 1 MiB frame each way, and 100,000 messages in each
// direction with none lost or reordered per peer (DEALER/ROUTER), and through PUB->SUB when the
// subscriber keeps up.
import { expect, test } from "bun:test";
import { Dealer, Publisher, Router, Subscriber } from "../../../lib/zmtp/index.ts";
import { filled, publishUntilReceived, text, waitFor, within } from "../../harness/zmtp.ts";
import { useCleanups } from "../../harness/cleanup.ts";

const { track } = useCleanups();

const opts = { lingerMs: 0 };

test("a 1 MiB frame each way, byte for byte", async () => {
  const router = track(new Router(opts));
  const dealer = track(new Dealer({ ...opts, routingId: "big" }));
  dealer.connect(await router.bind("tcp://127.0.0.1:0"));
  const up = filled(1024 * 1024, 1);
  const down = filled(1024 * 1024 + 1, 2);
  await dealer.send(["up", up]);
  const [id, label, body] = await within(router.receive(), 5_000, "1 MiB up");
  expect([text(id), text(label)]).toEqual(["big", "up"]);
  expect(Buffer.compare(body as Uint8Array, up)).toBe(0);
  await router.send(["big", down, ""]);
  const [back, empty] = await within(dealer.receive(), 5_000, "1 MiB down");
  expect(back?.length).toBe(down.length);
  expect(Buffer.compare(back as Uint8Array, down)).toBe(0);
  expect(empty?.length).toBe(0);
});

test("100,000 messages each way between a ROUTER and two DEALERs, in order per peer", async () => {
  const perPeer = 50_000;
  const router = track(new Router(opts));
  const endpoint = await router.bind("tcp://127.0.0.1:0");
  const dealers = ["d1", "d2"].map((id) => track(new Dealer({ ...opts, routingId: id })));
  for (const d of dealers) d.connect(endpoint);

  const upward = async (dealer: Dealer, id: string): Promise<void> => {
    for (let i = 0; i < perPeer; i++) await dealer.send([id, String(i)]);
  };
  const nextUp = new Map([["d1", 0], ["d2", 0]]);
  let upErrors = 0;
  const routerSide = (async () => {
    for (let n = 0; n < 2 * perPeer; n++) {
      const [id, from, seq] = await router.receive();
      const expected = nextUp.get(text(from)) ?? -1;
      if (text(id) !== text(from) || Number(text(seq)) !== expected) upErrors++;
      nextUp.set(text(from), expected + 1);
    }
  })();
  const downward = async (): Promise<void> => {
    // The ROUTER drops toward unknown peers: wait until both have said something.
    await waitFor(() => (nextUp.get("d1") ?? 0) > 0 && (nextUp.get("d2") ?? 0) > 0, {
      what: "both dealers known to the router",
    });
    for (let i = 0; i < perPeer; i++) {
      for (const id of ["d1", "d2"]) {
        await router.send([id, String(i)]);
      }
      // A ROUTER drops at the HWM rather than wait, so pace the sender on the receivers.
      if (i % 500 === 499) await waitFor(() => Math.min(...downCounts) > i - 500, { what: "down" });
    }
  };
  const downCounts = [0, 0];
  let downErrors = 0;
  const dealerSide = dealers.map(async (dealer, k) => {
    while (downCounts[k] !== perPeer) {
      const [seq] = await dealer.receive();
      if (Number(text(seq)) !== downCounts[k]) downErrors++;
      downCounts[k] = (downCounts[k] ?? 0) + 1;
    }
  });
  await within(
    Promise.all([upward(dealers[0] as Dealer, "d1"), upward(dealers[1] as Dealer, "d2"), downward(),
      routerSide, ...dealerSide]),
    20_000,
    "100,000 messages each way",
  );
  expect(upErrors).toBe(0);
  expect(downErrors).toBe(0);
  expect([...nextUp.values()]).toEqual([perPeer, perPeer]);
  expect(downCounts).toEqual([perPeer, perPeer]);
});

test("100,000 messages PUB -> SUB, all in order when the subscriber keeps up", async () => {
  const total = 100_000;
  const pub = track(new Publisher(opts));
  const sub = track(new Subscriber(opts));
  sub.subscribe("t");
  sub.connect(await pub.bind("tcp://127.0.0.1:0"));
  await publishUntilReceived(() => pub.send(["t", "probe"]), sub.receive(), "warm-up");
  let received = 0;
  let outOfOrder = 0;
  const reader = (async () => {
    while (received < total) {
      const [, seq] = await sub.receive();
      if (text(seq) === "probe") continue;
      if (Number(text(seq)) !== received) outOfOrder++;
      received++;
    }
  })();
  for (let i = 0; i < total; i++) {
    await pub.send(["t", String(i)]);
    if (i % 500 === 499) await waitFor(() => received > i - 500, { what: `subscriber at ${i}` });
  }
  await within(reader, 10_000, "all messages at the subscriber");
  expect(received).toBe(total);
  expect(outOfOrder).toBe(0);
});
