// FairQueue: peers take turns one message each, order within a peer is kept, lanes come and go.
import { expect, test } from "bun:test";
import { FairQueue } from "../../../lib/zmtp/fair-queue.ts";

function drain<K, T>(queue: FairQueue<K, T>): T[] {
  const out: T[] = [];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(item);
  return out;
}

test("one item per key in turn, per-key order kept", () => {
  const q = new FairQueue<string, string>();
  for (let i = 0; i < 4; i++) q.push("busy", `b${i}`);
  q.push("quiet", "q0");
  q.push("other", "o0");
  q.push("other", "o1");
  expect(q.size).toBe(7);
  expect(drain(q)).toEqual(["b0", "q0", "o0", "b1", "o1", "b2", "b3"]);
  expect(q.size).toBe(0);
  expect(q.shift()).toBeUndefined();
});

test("a key that empties and comes back joins the end of the turn order", () => {
  const q = new FairQueue<string, number>();
  q.push("a", 1);
  q.push("b", 2);
  expect(q.shift()).toBe(1);
  q.push("a", 3);
  q.push("b", 4);
  expect(drain(q)).toEqual([2, 3, 4]);
});

test("large interleaved volumes stay exact (compaction paths)", () => {
  const q = new FairQueue<number, number>();
  const seen = new Map<number, number[]>();
  let next = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 200; i++, next++) q.push(next % 3, next);
    for (let i = 0; i < 150; i++) {
      const item = q.shift() as number;
      const list = seen.get(item % 3) ?? [];
      list.push(item);
      seen.set(item % 3, list);
    }
  }
  for (const item of drain(q)) seen.get(item % 3)?.push(item);
  let total = 0;
  for (const list of seen.values()) {
    total += list.length;
    expect(list).toEqual([...list].sort((a, b) => a - b));
  }
  expect(total).toBe(next);
});
