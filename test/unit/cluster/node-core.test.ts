// Whole nodes (NodeCore) in the deterministic world of test/sim/node-world.ts: a cluster forms
// by bootstrap and joins, replicas catch up to placement, writes and reads work through the
// leader, and after the leader crashes the next one serves every acknowledged write.

import { describe, expect, test } from "bun:test";
import type { ClientResult } from "../../../lib/cluster/node-core.ts";
import { partitionOf } from "../../../lib/placement.ts";
import type { ReplicaStorage } from "../../../lib/store/replica-types.ts";
import { NodeWorld } from "../../sim/node-world.ts";
import { keyOf } from "../store/rows.ts";

function formCluster(seed: number, size = 3): NodeWorld {
  const world = new NodeWorld({ seed });
  world.bootstrap(1).campaign();
  world.run(100);
  for (let id = 2; id <= size; id++) {
    world.addNode(id);
    world.start(id);
    const joined: boolean[] = [];
    world.core(1).join(world.member(id), "add", (ok) => joined.push(ok));
    world.drain(1);
    expect(world.runUntil(() => joined.length > 0, 5000)).toBe(true);
    expect(joined).toEqual([true]);
  }
  return world;
}

function inSyncEverywhere(world: NodeWorld, leader: number): boolean {
  const state = world.core(leader).state;
  for (let p = 0; p < state.partitions; p++) {
    if (state.insync(p).length < Math.min(state.rf, state.memberIds().length)) return false;
  }
  return true;
}

describe("NodeCore", () => {
  test("a cluster forms, catches replicas up to placement, and serves writes and reads", () => {
    const world = formCluster(1);
    expect(world.leaderId()).toBe(1);
    expect(world.core(3).state.memberIds()).toEqual([1, 2, 3]);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    const set = world.request(1, { op: "SET", key: keyOf(1), value: "one", writer: null });
    world.runUntil(() => set.length > 0, 1000);
    expect(set).toEqual([{ ok: true, fields: { status: "created", replicas: 2, version: 1 } }]);
    const get = world.request(1, { op: "GET", key: keyOf(1) });
    world.runUntil(() => get.length > 0, 1000);
    expect(get).toEqual([{ ok: true, fields: { found: true, value: "one", version: 1 } }]);
    const follower = world.request(2, { op: "GET", key: keyOf(1) });
    expect(follower).toEqual([
      expect.objectContaining({ ok: false, code: "NOT_LEADER", leader: world.member(1) }),
    ]);
  });

  test("after the leader crashes the next leader serves every acknowledged write", () => {
    const world = formCluster(2);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    const acked: { key: string; value: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const key = keyOf(1000 + i);
      const value = `v${i}`;
      const r = world.request(1, { op: "SET", key, value, writer: null });
      world.runUntil(() => r.length > 0, 1000);
      if (r[0]?.ok) acked.push({ key, value });
    }
    expect(acked.length).toBe(40);
    world.crash(1);
    expect(world.runUntil(() => world.leaderId() !== null && world.leaderId() !== 1, 5000)).toBe(
      true,
    );
    const leader = world.leaderId() as number;
    expect(leader).toBe(2);
    for (const { key, value } of acked) {
      const get = world.request(leader, { op: "GET", key });
      expect(world.runUntil(() => get.length > 0, 2000)).toBe(true);
      expect(get[0]).toEqual({ ok: true, fields: expect.objectContaining({ found: true, value }) });
    }
  });
});

describe("NodeCore leadership", () => {
  test("a lower-ordered member that returns and catches up gets the lead handed back", () => {
    const world = formCluster(3);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    world.crash(1);
    expect(world.runUntil(() => world.leaderId() === 2, 5000)).toBe(true);
    world.start(1);
    expect(world.runUntil(() => world.leaderId() === 1, 10_000)).toBe(true);
    const set = world.request(1, { op: "SET", key: keyOf(7), value: "back", writer: null });
    expect(world.runUntil(() => set.length > 0, 2000)).toBe(true);
    expect(set[0]?.ok).toBe(true);
  });
});

describe("NodeCore SCAN and COUNT", () => {
  test("a scan in small pages returns every key once and COUNT agrees", () => {
    const world = formCluster(4);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    const keys = Array.from({ length: 25 }, (_, i) => keyOf(0x1000000 * i + 77));
    for (const key of keys) {
      const r = world.request(1, { op: "SET", key, value: `v ${key}`, writer: null });
      expect(world.runUntil(() => r.length > 0, 1000)).toBe(true);
    }
    const seen: string[] = [];
    let cursor = { partition: 0, afterKey: "" };
    for (let calls = 0; calls < 100; calls++) {
      const r = world.request(1, { op: "SCAN", cursor, count: 3, keysOnly: false });
      expect(world.runUntil(() => r.length > 0, 1000)).toBe(true);
      const reply = r[0];
      if (reply === undefined || !reply.ok) throw new Error(`scan failed: ${JSON.stringify(reply)}`);
      const items = reply.fields["items"] as { key: string; value: string }[];
      expect(items.length).toBeLessThanOrEqual(3);
      for (const item of items) {
        expect(item.value).toBe(`v ${item.key}`);
        seen.push(item.key);
      }
      const next = reply.fields["cursor"] as string;
      if (next === "0") break;
      const [partition, afterKey] = next.split(":");
      cursor = { partition: Number(partition), afterKey: afterKey ?? "" };
    }
    expect(seen.sort()).toEqual([...keys].sort());
    const count = world.request(1, { op: "COUNT" });
    expect(world.runUntil(() => count.length > 0, 1000)).toBe(true);
    expect(count[0]).toMatchObject({ ok: true, fields: { count: keys.length } });
  });
});

describe("NodeCore retried writes", () => {
  test("a retry is answered with its first attempt's outcome, on this leader and the next", () => {
    const world = formCluster(5);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    const ask = (id: number, op: Parameters<NodeWorld["request"]>[1]) => {
      const r = world.request(id, op);
      expect(world.runUntil(() => r.length > 0, 2000)).toBe(true);
      return r[0];
    };
    const key = keyOf(42);
    const outcome = (r: unknown) => {
      const fields = (r as { fields?: Record<string, unknown> }).fields ?? {};
      return { status: fields["status"], version: fields["version"] };
    };
    const first = ask(1, { op: "SET", key, value: "a", writer: "c1:1" });
    expect(outcome(first)).toEqual({ status: "created", version: 1 });
    // The same write again, marked as a retry: not "updated", and no new version.
    const again = ask(1, { op: "SET", key, value: "a", writer: "c1:1", isRetry: true });
    expect(outcome(again)).toEqual(outcome(first));
    // A retry whose first attempt never happened is carried out.
    const fresh = ask(1, { op: "DELETE", key, writer: "c1:2", isRetry: true });
    expect(fresh).toMatchObject({ ok: true, fields: { status: "deleted" } });
    // After a failover the new leader finds the outcome in a replica's change log.
    world.crash(1);
    expect(world.runUntil(() => world.leaderId() === 2 && world.core(2).isCoordinating(), 5000))
      .toBe(true);
    expect(outcome(ask(2, { op: "DELETE", key, writer: "c1:2", isRetry: true })))
      .toEqual(outcome(fresh));
    expect(ask(2, { op: "GET", key })).toEqual({ ok: true, fields: { found: false } });
  });
});

/** The store's row reads: how many each readTogether batch made, and how many were outside. */
function watchReads(store: ReplicaStorage) {
  const seen = { batches: [] as number[], outside: 0 };
  let inBatch: number | null = null;
  const together = store.readTogether.bind(store);
  const get = store.get.bind(store);
  store.readTogether = <T>(read: () => T): T => {
    inBatch = 0;
    try {
      return together(read);
    } finally {
      if (inBatch > 0) seen.batches.push(inBatch);
      inBatch = null;
    }
  };
  store.get = (partition, key) => {
    if (inBatch === null) seen.outside++;
    else inBatch++;
    return get(partition, key);
  };
  return seen;
}

describe("NodeCore batched reads", () => {
  // sqlite takes its WAL locks once per read transaction: the reads of one turn share one.
  test("the leader's own reads of one turn are served in one read of its store", () => {
    const world = formCluster(6);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    const state = world.core(1).state;
    const keys = Array.from({ length: 40 }, (_, i) => keyOf(0x1000000 * i + 5))
      .filter((key) => state.insync(partitionOf(key, state.partitions)).includes(1))
      .slice(0, 8);
    expect(keys.length).toBe(8);
    for (const key of keys) {
      const r = world.request(1, { op: "SET", key, value: `v ${key}`, writer: null });
      expect(world.runUntil(() => r.length > 0, 1000)).toBe(true);
    }
    const seen = watchReads(world.replicaStore(1));
    const answers: ClientResult[] = [];
    for (const key of keys) {
      world.core(1).request({ op: "GET", key }, world.now, (r) => answers.push(r));
    }
    world.drain(1);
    expect(answers).toEqual(keys.map((key) =>
      ({ ok: true, fields: { found: true, value: `v ${key}`, version: expect.any(Number) } })));
    expect(seen).toEqual({ batches: [keys.length], outside: 0 });
  });

  test("a replica serves the read requests that came in one turn in one read of its store", () => {
    const world = formCluster(7);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    const state = world.core(2).state;
    const keys = Array.from({ length: 60 }, (_, i) => keyOf(0x1000000 * i + 9))
      .filter((key) => state.insync(partitionOf(key, state.partitions)).includes(2))
      .slice(0, 6);
    expect(keys.length).toBe(6);
    for (const key of keys) {
      const r = world.request(1, { op: "SET", key, value: `v ${key}`, writer: null });
      expect(world.runUntil(() => r.length > 0, 1000)).toBe(true);
    }
    const epoch = world.core(1).brief().term;
    const seen = watchReads(world.replicaStore(2));
    const replica = world.core(2);
    keys.forEach((key, i) => {
      const partition = partitionOf(key, state.partitions);
      const request = { type: "read", rid: 900 + i, partition, epoch, key } as const;
      replica.step(1, { kind: "data-request", request });
    });
    // Nothing is read on arrival: the answers leave with the next Ready anyway.
    expect(seen).toEqual({ batches: [], outside: 0 });
    const ready = replica.ready(world.now);
    const rows = ready.early.flatMap((out) =>
      out.kind === "data-reply" && out.reply.type === "row" ? [out.reply] : []);
    expect(rows.map((r) => [r.rid, r.row?.value])).toEqual(
      keys.map((key, i) => [900 + i, `v ${key}`]));
    expect(seen).toEqual({ batches: [keys.length], outside: 0 });
  });
});
