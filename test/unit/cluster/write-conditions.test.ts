// Compare-and-set and expiring keys at the partition leader (partition-leader.ts with
// write-conditions.ts), in the deterministic one-partition world: the check happens in write
// order, a version the leader does not know is read once while the key's writes wait, a
// CONFLICT is answered only once the version it reports is acknowledged, and an expiry is a
// delete at the version that carried the TTL, also for keys an earlier leader wrote.

import { describe, expect, test } from "bun:test";
import { ClusterClock, CLOCK_COMMIT_INTERVAL_MS } from "../../../lib/cluster/cluster-clock.ts";
import { ClusterState, parseCommand } from "../../../lib/cluster/state.ts";
import { ExpiryIndex } from "../../../lib/cluster/write-conditions.ts";
import type { ChangeRecord } from "../../../lib/store/replica-types.ts";
import { keyOf } from "../store/rows.ts";
import { P, PartitionWorld } from "./partition-world.ts";

const k = (n: number) => keyOf(n * 64); // partition 0 of 64

function serving(): PartitionWorld {
  const world = new PartitionWorld([1, 2], [1, 2]);
  world.startLeader(1, 1);
  world.settle();
  return world;
}

describe("compare-and-set at the partition leader", () => {
  test("ifVersion 0 creates once; the loser gets CONFLICT with the winner's version", () => {
    const world = serving();
    const first = world.writeWith(k(1), "a", { ifVersion: 0 });
    const second = world.writeWith(k(1), "b", { ifVersion: 0 });
    world.settle();
    expect(first).toEqual([{ ok: true, status: "created", version: 1, replicas: 2 }]);
    expect(second).toEqual([
      { ok: false, code: "CONFLICT", message: `key ${k(1)} is at version 1`, version: 1 },
    ]);
    expect(world.values(2)).toEqual({ [k(1)]: "a" });
  });

  test("a conflict is answered only once the write it reports is acknowledged", () => {
    const world = serving();
    world.down.add(2);
    const write = world.write(k(1), "a");
    const conflict = world.writeWith(k(1), "b", { ifVersion: 0 });
    world.settle();
    // Replica 2 has not acknowledged version 1: it may still be lost, so no answer yet.
    expect(write).toEqual([]);
    expect(conflict).toEqual([]);
    world.leader.depose();
    expect(write).toEqual([expect.objectContaining({ ok: false, code: "TIMEOUT" })]);
    // Nothing was written for the conditional write: it did not happen.
    expect(conflict).toEqual([expect.objectContaining({ ok: false, code: "UNAVAILABLE" })]);
  });

  test("a version the leader never ordered is read from a replica; writes behind it wait", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    const earlier: ChangeRecord[] = [
      { seq: 1, epoch: 1, key: k(1), value: "old", writer: null },
      { seq: 2, epoch: 1, key: k(2), value: "x", writer: null },
    ];
    world.seed(1, 1, earlier);
    world.seed(2, 1, earlier);
    world.startLeader(2, 2);
    world.settle();
    const stale = world.writeWith(k(1), "no", { ifVersion: 7 });
    const cas = world.writeWith(k(1), "new", { ifVersion: 1 });
    const plain = world.write(k(1), "after");
    world.settle();
    expect(stale).toEqual([expect.objectContaining({ code: "CONFLICT", version: 1 })]);
    expect(cas).toEqual([{ ok: true, status: "updated", version: 3, replicas: 2 }]);
    expect(plain).toEqual([{ ok: true, status: "updated", version: 4, replicas: 2 }]);
    const afterDelete = world.writeWith(k(2), null, { ifVersion: 2 });
    const absent = world.writeWith(k(2), "y", { ifVersion: 2 });
    world.settle();
    expect(afterDelete).toEqual([{ ok: true, status: "deleted", version: 5, replicas: 2 }]);
    expect(absent).toEqual([expect.objectContaining({ code: "CONFLICT", version: 0 })]);
    expect(world.values(1)).toEqual({ [k(1)]: "after" });
  });

  test("a lookup no live replica answers is UNAVAILABLE and releases the waiting writes", () => {
    const world = serving();
    world.down.add(1);
    world.down.add(2);
    const cas = world.writeWith(k(1), "a", { ifVersion: 0 });
    const plain = world.write(k(1), "b");
    world.settle();
    world.timeOut();
    expect(cas).toEqual([expect.objectContaining({ ok: false, code: "UNAVAILABLE" })]);
    expect(plain).toEqual([]); // ordered after the lookup failed; waits for a replica
  });
});

describe("expiring keys at the partition leader", () => {
  test("a key is deleted once the cluster clock passes its deadline, never before", () => {
    const world = serving();
    const set = world.writeWith(k(1), "v", { expiresAt: 1000 });
    world.settle();
    expect(set).toEqual([{ ok: true, status: "created", version: 1, replicas: 2 }]);
    world.leader.tick(999);
    world.settle();
    expect(world.values(1)).toEqual({ [k(1)]: "v" });
    world.leader.tick(1000);
    world.settle();
    expect(world.values(1)).toEqual({});
    expect(world.values(2)).toEqual({});
    // The expiry is a change like any delete: it took version 2.
    expect(world.stores.get(2)?.changesAfter(P, 1, 10)).toEqual([
      expect.objectContaining({ seq: 2, key: k(1), value: null, status: "deleted" }),
    ]);
  });

  test("a later write keeps the key: the expiry deletes only the version it carried", () => {
    const world = serving();
    world.writeWith(k(1), "v", { expiresAt: 1000 });
    world.settle();
    const renew = world.writeWith(k(1), "renewed", { ifVersion: 1, expiresAt: 5000 });
    world.settle();
    expect(renew).toEqual([expect.objectContaining({ ok: true, version: 2 })]);
    world.leader.tick(1000);
    world.settle();
    expect(world.values(1)).toEqual({ [k(1)]: "renewed" });
    world.write(k(1), "no ttl now");
    world.settle();
    world.leader.tick(6000);
    world.settle();
    expect(world.values(1)).toEqual({ [k(1)]: "no ttl now" });
  });

  test("a new leader learns the deadlines from the replicas and expires those keys too", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    const earlier: ChangeRecord[] = [
      { seq: 1, epoch: 1, key: k(1), value: "soon", writer: null, expiresAt: 300 },
      { seq: 2, epoch: 1, key: k(2), value: "later", writer: null, expiresAt: 900 },
      { seq: 3, epoch: 1, key: k(3), value: "forever", writer: null },
    ];
    world.seed(1, 1, earlier);
    world.seed(2, 1, earlier);
    world.startLeader(2, 2);
    world.settle();
    world.leader.tick(500);
    world.settle();
    expect(world.values(1)).toEqual({ [k(2)]: "later", [k(3)]: "forever" });
    world.leader.tick(900);
    world.settle();
    expect(world.values(2)).toEqual({ [k(3)]: "forever" });
  });

  test("truncating a write restores the row's deadline with it", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    const common: ChangeRecord[] = [
      { seq: 1, epoch: 1, key: k(1), value: "kept", writer: null, expiresAt: 400 },
    ];
    world.seed(1, 1, [...common, { seq: 2, epoch: 1, key: k(1), value: "lost", writer: null }]);
    world.seed(2, 2, [...common, { seq: 2, epoch: 2, key: k(2), value: "won", writer: null }]);
    world.startLeader(1, 3);
    world.settle();
    expect(world.stores.get(1)?.get(P, k(1))).toMatchObject({ value: "kept", expiresAt: 400 });
    world.leader.tick(400);
    world.settle();
    expect(world.values(1)).toEqual({ [k(2)]: "won" });
  });
});

describe("ExpiryIndex", () => {
  test("due entries leave in one pass; stale takeover rows never replace newer ones", () => {
    const index = new ExpiryIndex();
    index.ordered(k(1), 5, 100);
    index.learned(k(1), 3, 50); // older than what this leader ordered
    index.learned(k(2), 4, 200);
    expect(index.due(99)).toEqual([]);
    expect(index.due(150)).toEqual([{ key: k(1), version: 5, expiresAt: 100 }]);
    index.ordered(k(2), 6, null); // overwritten without a TTL
    expect(index.due(1000)).toEqual([]);
    expect(index.size).toBe(0);
  });
});

describe("ClusterClock", () => {
  test("starts from the committed reading at its first use and runs with the shell's clock", () => {
    let committed = 7000;
    const clock = new ClusterClock(() => committed);
    expect(clock.read(100)).toBe(7000);
    committed = 99_999; // later commits do not move a running clock
    expect(clock.read(350)).toBe(7250);
    expect(clock.read(200)).toBe(7250); // a shell clock stepping back never moves it backwards
    expect(clock.read(450.9)).toBe(7350); // whole ms, rounded down (rows store integers)
  });

  test("a reading is due once per interval", () => {
    const clock = new ClusterClock(() => 0);
    expect(clock.dueReading(10)).toBe(0);
    expect(clock.dueReading(10 + CLOCK_COMMIT_INTERVAL_MS - 1)).toBeNull();
    expect(clock.dueReading(10 + CLOCK_COMMIT_INTERVAL_MS)).toBe(CLOCK_COMMIT_INTERVAL_MS);
  });

  test("the state keeps the highest committed reading, in its snapshot too", () => {
    const state = ClusterState.initial(2, 4, {
      id: 1, endpoint: "tcp://127.0.0.1:1", pub: "tcp://127.0.0.1:2", peer: "tcp://127.0.0.1:3",
    });
    state.applyCommand({ type: "clock", ms: 5000 });
    state.applyCommand({ type: "clock", ms: 4000 });
    expect(state.clockMs).toBe(5000);
    expect(ClusterState.restore(state.snapshot())?.clockMs).toBe(5000);
    expect(parseCommand('{"type":"clock","ms":-1}').ok).toBe(false);
    expect(parseCommand('{"type":"clock","ms":12}')).toEqual({
      ok: true, value: { type: "clock", ms: 12 },
    });
  });
});
