// The leader's replication logic (lib/cluster/coordinator.ts) against real Replicas over
// in-memory stores and an in-memory PeerLink (fake-cluster.ts): write fan-out and
// acknowledgement counting, in-sync bookkeeping, reads, catch-up and pruning after a join.
// Deterministic: no sockets, no timers, no clock.
import { afterEach, describe, expect, test } from "bun:test";
import { StaleTermError } from "../../../lib/cluster/coordinator.ts";
import { replicasOf } from "../../../lib/placement.ts";
import type { StoredRow } from "../../../lib/store/index.ts";
import { KvError } from "../../../lib/util/errors.ts";
import {
  drainMicrotasks,
  type FakeCluster,
  type FakeClusterOptions,
  fakeClusterOf,
  keyIn,
  rejectionOf,
  rowIn,
  untilTrue,
} from "./fake-cluster.ts";

const partitions = 8;
const p = 3;
const key = keyIn(p, partitions, 0);

const clusters: FakeCluster[] = [];
function clusterOf(options: FakeClusterOptions): FakeCluster {
  const cluster = fakeClusterOf(options);
  clusters.push(cluster);
  return cluster;
}
afterEach(() => {
  for (const cluster of clusters.splice(0)) cluster.close();
});

/** Three nodes, rf 3 (every node holds every partition), all in sync, leader 1. */
function threeInSync(overrides: Partial<FakeClusterOptions> = {}): FakeCluster {
  return clusterOf({
    nodeIds: [1, 2, 3],
    rf: 3,
    partitions,
    insync: () => [1, 2, 3],
    ...overrides,
  });
}

function codeOf(error: unknown): string {
  expect(error).toBeInstanceOf(KvError);
  return (error as KvError).code;
}

/** `count` rows of partition `p` with versions (1, 1..count), every tenth one a tombstone. */
function historyOf(count: number): StoredRow[] {
  return Array.from({ length: count }, (_, i) =>
    rowIn(p, partitions, 100 + i, { term: 1, seq: i + 1 }, i % 10 === 9 ? null : `h${i}`),
  );
}

describe("writes", () => {
  test("a write goes to every live in-sync replica and reports how many acknowledged", async () => {
    const cluster = threeInSync({ term: 4 });
    expect(await cluster.coordinator.write(key, "a")).toEqual({ existed: false, replicas: 3 });
    for (const id of [1, 2, 3]) {
      expect(cluster.node(id).store.get(key)).toEqual({
        key,
        partition: p,
        term: 4,
        seq: 1,
        value: "a",
      });
    }
  });

  test("a write reports created for a new key and updated for an existing one", async () => {
    const { coordinator } = threeInSync();
    expect(await coordinator.write(key, "a")).toEqual({ existed: false, replicas: 3 });
    expect(await coordinator.write(key, "b")).toEqual({ existed: true, replicas: 3 });
    expect(await coordinator.write(key, null)).toEqual({ existed: true, replicas: 3 });
    // A deleted key is new again.
    expect(await coordinator.write(key, "c")).toEqual({ existed: false, replicas: 3 });
    expect((await coordinator.read(key))?.value).toBe("c");
  });

  test("a write reaches only its partition's replicas", async () => {
    const placement = replicasOf(p, [1, 2, 3], 2);
    const outsider = [1, 2, 3].find((id) => !placement.includes(id));
    if (outsider === undefined) throw new Error("rf 2 of 3 members leaves one out");
    const cluster = clusterOf({
      nodeIds: [1, 2, 3],
      rf: 2,
      partitions,
      insync: (partition) => replicasOf(partition, [1, 2, 3], 2),
    });
    expect(await cluster.coordinator.write(key, "a")).toEqual({ existed: false, replicas: 2 });
    expect(cluster.node(outsider).batches).toEqual([]);
    expect(cluster.node(outsider).valueOf(key)).toBeUndefined();
    for (const id of placement) expect(cluster.node(id).valueOf(key)).toBe("a");
  });

  test("versions continue from the leader's highest seq and grow per partition", async () => {
    const cluster = threeInSync({
      term: 2,
      rows: (id) => (id === 1 ? [rowIn(p, partitions, 50, { term: 1, seq: 41 }, "old")] : []),
    });
    await cluster.coordinator.write(key, "a");
    await cluster.coordinator.write(keyIn(p, partitions, 1), "b");
    await cluster.coordinator.write(keyIn(p + 1, partitions, 0), "c");
    const follower = cluster.node(2).store;
    expect(follower.get(key)).toMatchObject({ term: 2, seq: 42 });
    expect(follower.get(keyIn(p, partitions, 1))).toMatchObject({ term: 2, seq: 43 });
    expect(follower.get(keyIn(p + 1, partitions, 0))).toMatchObject({ term: 2, seq: 1 });
  });

  test("a failing replica leaves the in-sync set before the write is acknowledged", async () => {
    const cluster = threeInSync();
    cluster.node(3).mode = "fail";
    const outcome = await cluster.coordinator.write(key, "a").then((result) => {
      cluster.events.push("acknowledged");
      return result;
    });
    expect(outcome).toEqual({ existed: false, replicas: 2 });
    expect(cluster.events).toEqual(["insync-changed", "acknowledged"]);
    expect(cluster.insyncOf(p)).toEqual([1, 2]);
    // Other partitions are untouched.
    expect(cluster.insyncOf(p + 1)).toEqual([1, 2, 3]);
  });

  test("a write fails TIMEOUT when fewer than minInsync acknowledge", async () => {
    const cluster = threeInSync({ minInsync: 2 });
    cluster.node(2).mode = "fail";
    cluster.node(3).mode = "fail";
    expect(codeOf(await rejectionOf(cluster.coordinator.write(key, "a")))).toBe("TIMEOUT");
    expect(cluster.insyncOf(p)).toEqual([1]);
  });

  test("the last in-sync replica is never dropped for a failed write", async () => {
    const cluster = threeInSync({ insync: () => [2] });
    cluster.node(2).mode = "fail";
    expect(codeOf(await rejectionOf(cluster.coordinator.write(key, "a")))).toBe("TIMEOUT");
    expect(cluster.insyncOf(p)).toEqual([2]);
  });

  test("an in-sync replica that looks down leaves the set before the write goes out", async () => {
    const cluster = threeInSync();
    cluster.state.alive.delete(3);
    const outcome = await cluster.coordinator.write(key, "a").then((result) => {
      cluster.events.push("acknowledged");
      return result;
    });
    expect(outcome).toEqual({ existed: false, replicas: 2 });
    expect(cluster.events).toEqual(["insync-changed", "acknowledged"]);
    expect(cluster.insyncOf(p)).toEqual([1, 2]);
    expect(cluster.node(3).batches).toEqual([]);
  });

  test("too few live in-sync replicas for minInsync: UNAVAILABLE, nothing written", async () => {
    const cluster = threeInSync({ minInsync: 3 });
    cluster.state.alive.delete(3);
    const error = await rejectionOf(cluster.coordinator.write(key, "a"));
    expect(codeOf(error)).toBe("UNAVAILABLE");
    expect((error as Error).message).toContain("need 3");
    for (const id of [1, 2, 3]) {
      expect(cluster.node(id).batches).toEqual([]);
      expect(cluster.node(id).valueOf(key)).toBeUndefined();
    }
  });

  test("a write to a partition whose in-sync replicas are all down is refused", async () => {
    const cluster = threeInSync({ insync: () => [2, 3] });
    cluster.state.alive.delete(2);
    cluster.state.alive.delete(3);
    expect(codeOf(await rejectionOf(cluster.coordinator.write(key, "a")))).toBe("UNAVAILABLE");
    expect(cluster.node(1).valueOf(key)).toBeUndefined();
  });

  test("StaleTermError from a replica: the write fails NOT_LEADER, replica kept", async () => {
    const cluster = threeInSync();
    cluster.node(2).mode = "stale";
    const error = await rejectionOf(cluster.coordinator.write(key, "a"));
    expect(error).toBeInstanceOf(StaleTermError);
    expect(codeOf(error)).toBe("NOT_LEADER");
    expect(cluster.insyncOf(p)).toEqual([1, 2, 3]);
    expect(cluster.events).toEqual([]);
  });

  test("a StaleTermError wins over another replica's failure: nobody is dropped", async () => {
    const cluster = threeInSync();
    cluster.node(2).mode = "stale";
    cluster.node(3).mode = "fail";
    expect(codeOf(await rejectionOf(cluster.coordinator.write(key, "a")))).toBe("NOT_LEADER");
    expect(cluster.insyncOf(p)).toEqual([1, 2, 3]);
  });

  test("created or updated is decided by the in-sync replicas, not by a lagging one", async () => {
    // Node 3 is a placement replica that is back but not caught up: it still holds a value the
    // in-sync replicas have since deleted, and it gets the write too. The write creates the key.
    const deleted = rowIn(p, partitions, 0, { term: 1, seq: 2 }, null);
    const stale = rowIn(p, partitions, 0, { term: 1, seq: 1 }, "stale");
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => [id === 3 ? stale : deleted],
    });
    expect(await cluster.coordinator.write(key, "a")).toEqual({ existed: false, replicas: 2 });
    expect(cluster.node(3).valueOf(key)).toBe("a");
  });
});

describe("reads", () => {
  test("a read comes from the leader's own store when the leader is in sync", async () => {
    const cluster = threeInSync({
      rows: (id) => [rowIn(p, partitions, 0, { term: 1, seq: 1 }, `held by ${id}`)],
    });
    expect((await cluster.coordinator.read(key))?.value).toBe("held by 1");
    expect(cluster.node(2).readCount + cluster.node(3).readCount).toBe(0);
  });

  test("a read comes from a live in-sync peer when the leader is not in sync", async () => {
    const cluster = threeInSync({
      insync: () => [2, 3],
      rows: (id) => [rowIn(p, partitions, 0, { term: 1, seq: 1 }, `held by ${id}`)],
    });
    expect((await cluster.coordinator.read(key))?.value).toBe("held by 2");
    cluster.state.alive.delete(2);
    expect((await cluster.coordinator.read(key))?.value).toBe("held by 3");
    expect(cluster.node(2).readCount).toBe(1);
    expect(cluster.node(3).readCount).toBe(1);
  });

  test("a read tries the next in-sync peer on failure; UNAVAILABLE when all fail", async () => {
    const cluster = threeInSync({
      insync: () => [2, 3],
      rows: (id) => [rowIn(p, partitions, 0, { term: 1, seq: 1 }, `held by ${id}`)],
    });
    cluster.node(2).mode = "fail";
    expect((await cluster.coordinator.read(key))?.value).toBe("held by 3");
    cluster.node(3).mode = "fail";
    expect(codeOf(await rejectionOf(cluster.coordinator.read(key)))).toBe("UNAVAILABLE");
  });

  test("a read of a key no replica holds answers undefined", async () => {
    const cluster = threeInSync();
    expect(await cluster.coordinator.read(key)).toBeUndefined();
  });

  test("a read waits for an in-flight write of the same key, not for other keys", async () => {
    const other = keyIn(p, partitions, 1);
    const cluster = threeInSync({
      rows: () => [
        rowIn(p, partitions, 0, { term: 1, seq: 1 }, "before"),
        rowIn(p, partitions, 1, { term: 1, seq: 2 }, "other"),
      ],
    });
    cluster.node(2).hold();
    const write = cluster.coordinator.write(key, "after").then(() => {
      cluster.events.push("write acknowledged");
    });
    // The leader and node 3 have applied the write; node 2 holds its answer back.
    await untilTrue(
      () => cluster.node(1).valueOf(key) === "after" && cluster.node(3).valueOf(key) === "after",
      "the write reached nodes 1 and 3",
    );
    let isReadDone = false;
    const read = cluster.coordinator.read(key).then((row) => {
      isReadDone = true;
      cluster.events.push("read answered");
      return row;
    });
    expect((await cluster.coordinator.read(other))?.value).toBe("other");
    await drainMicrotasks();
    expect(isReadDone).toBe(false);
    cluster.node(2).release();
    expect((await read)?.value).toBe("after");
    await write;
    expect(cluster.events).toEqual(["write acknowledged", "read answered"]);
  });
});

describe("catch-up", () => {
  const rowCount = 1200;

  test("catchUp copies every row page by page, then counts the replica in sync", async () => {
    const history = historyOf(rowCount);
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => (id === 3 ? [] : history),
    });
    const seenInsync: boolean[] = [];
    cluster.node(3).onReplicate = () => seenInsync.push(cluster.insyncOf(p).includes(3));
    await cluster.coordinator.catchUp(3, p);
    expect(cluster.node(3).batches.map((batch) => batch.length)).toEqual([512, 512, 176]);
    expect(seenInsync).toEqual([false, false, false]);
    expect(cluster.node(3).store.allRows()).toEqual(cluster.node(1).store.allRows());
    expect(cluster.node(3).store.allRows()).toHaveLength(rowCount);
    expect(cluster.insyncOf(p)).toEqual([1, 2, 3]);
    expect(cluster.events).toContain("insync-changed");
    // Other partitions are not touched.
    expect(cluster.insyncOf(p + 1)).toEqual([1, 2]);
  });

  test("a leader that is behind copies a partition to itself from an in-sync peer", async () => {
    const history = historyOf(rowCount);
    const cluster = threeInSync({
      insync: () => [2],
      rows: (id) => (id === 2 ? history : []),
    });
    await cluster.coordinator.catchUp(1, p);
    expect(cluster.node(2).pageCount).toBe(3);
    expect(cluster.node(1).store.allRows()).toEqual(history);
    expect(cluster.insyncOf(p)).toEqual([1, 2]);
  });

  test("a replica that is already in sync is not copied to", async () => {
    const cluster = threeInSync({ rows: () => historyOf(10) });
    await cluster.coordinator.catchUp(3, p);
    expect(cluster.node(3).batches).toEqual([]);
    expect(cluster.events).toEqual([]);
  });

  test("two catch-up requests for one replica and partition share one copy", async () => {
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => (id === 3 ? [] : historyOf(10)),
    });
    const first = cluster.coordinator.catchUp(3, p);
    const second = cluster.coordinator.catchUp(3, p);
    expect(second).toBe(first);
    await Promise.all([first, second]);
    expect(cluster.node(3).batches).toHaveLength(1);
  });

  test("a catch-up with no live in-sync source fails UNAVAILABLE", async () => {
    const cluster = threeInSync({ insync: () => [2], rows: () => historyOf(10) });
    cluster.state.alive.delete(2);
    expect(codeOf(await rejectionOf(cluster.coordinator.catchUp(3, p)))).toBe("UNAVAILABLE");
    expect(cluster.insyncOf(p)).toEqual([2]);
  });

  test("a catch-up of a partition that does not exist fails BAD_REQUEST", async () => {
    const cluster = threeInSync();
    expect(codeOf(await rejectionOf(cluster.coordinator.catchUp(3, partitions)))).toBe(
      "BAD_REQUEST",
    );
  });

  test("a catch-up that fails to copy leaves the replica out of sync", async () => {
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => (id === 3 ? [] : historyOf(10)),
    });
    cluster.node(3).mode = "fail";
    expect(codeOf(await rejectionOf(cluster.coordinator.catchUp(3, p)))).toBe("TIMEOUT");
    expect(cluster.insyncOf(p)).toEqual([1, 2]);
  });

  test("a catch-up waits for writes in flight on the partition before copying", async () => {
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => (id === 3 ? [] : historyOf(10)),
    });
    cluster.node(2).hold();
    const write = cluster.coordinator.write(key, "in flight");
    await untilTrue(() => cluster.node(2).isHeld && cluster.node(2).batches.length === 1, "held");
    const copy = cluster.coordinator.catchUp(3, p);
    await drainMicrotasks();
    // Node 3 got the live write (rf 3 places it there) but no copied page yet.
    expect(cluster.node(3).batches.map((batch) => batch.length)).toEqual([1]);
    cluster.node(2).release();
    await write;
    await copy;
    expect(cluster.node(3).batches.map((batch) => batch.length)).toEqual([1, 11]);
    expect(cluster.insyncOf(p)).toEqual([1, 2, 3]);
  });

  test("a live write that fails to reach a catching-up replica fails the catch-up", async () => {
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => (id === 3 ? [] : historyOf(20)),
    });
    const replica = cluster.node(3);
    replica.hold();
    replica.failKeys.add(key);
    const copy = cluster.coordinator.catchUp(3, p);
    await untilTrue(() => replica.batches.length === 1, "the first copied page was sent");
    // The write is acknowledged by the in-sync replicas; node 3 never gets it.
    expect(await cluster.coordinator.write(key, "missed")).toEqual({ existed: false, replicas: 2 });
    replica.release();
    const error = await rejectionOf(copy);
    expect(codeOf(error)).toBe("UNAVAILABLE");
    expect((error as Error).message).toContain("missed a write");
    expect(cluster.insyncOf(p)).toEqual([1, 2]);
    expect(replica.valueOf(key)).toBeUndefined();
    // A fresh catch-up starts over and copies the missed write as well.
    replica.failKeys.clear();
    await cluster.coordinator.catchUp(3, p);
    expect(replica.valueOf(key)).toBe("missed");
    expect(cluster.insyncOf(p)).toEqual([1, 2, 3]);
  });

  test("a live write while the catching-up replica looks down fails the catch-up", async () => {
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => (id === 3 ? [] : historyOf(20)),
    });
    const replica = cluster.node(3);
    replica.hold();
    const copy = cluster.coordinator.catchUp(3, p);
    await untilTrue(() => replica.batches.length === 1, "the first copied page was sent");
    cluster.state.alive.delete(3);
    expect(await cluster.coordinator.write(key, "missed")).toEqual({ existed: false, replicas: 2 });
    cluster.state.alive.add(3);
    replica.release();
    expect(codeOf(await rejectionOf(copy))).toBe("UNAVAILABLE");
    expect(cluster.insyncOf(p)).toEqual([1, 2]);
  });

  test("live writes that reach a catching-up replica do not stop it counting", async () => {
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => (id === 3 ? [] : historyOf(20)),
    });
    const replica = cluster.node(3);
    replica.hold();
    const copy = cluster.coordinator.catchUp(3, p);
    await untilTrue(() => replica.batches.length === 1, "the first copied page was sent");
    const write = cluster.coordinator.write(key, "live");
    await untilTrue(() => replica.batches.length === 2, "the live write reached node 3");
    replica.release();
    await Promise.all([copy, write]);
    expect(replica.valueOf(key)).toBe("live");
    expect(cluster.insyncOf(p)).toEqual([1, 2, 3]);
  });
  test("a replica that failed a write sent before it caught up is dropped", async () => {
    const cluster = threeInSync({
      insync: () => [1, 2],
      rows: (id) => (id === 3 ? [] : historyOf(20)),
    });
    const replica = cluster.node(3);
    replica.holdWritesOf(key);
    const copy = cluster.coordinator.catchUp(3, p);
    const write = cluster.coordinator.write(key, "late");
    await copy;
    expect(cluster.insyncOf(p)).toEqual([1, 2, 3]);
    // The write was sent to node 3 before it counted; it now fails there.
    replica.releaseWritesOf(key, new KvError("TIMEOUT", "node 3 did not answer"));
    expect(await write).toEqual({ existed: false, replicas: 2 });
    expect(cluster.insyncOf(p)).toEqual([1, 2]);
  });
});

describe("in-sync sets and membership", () => {
  test("a dead member leaves the in-sync sets unless it is the last holder", async () => {
    const cluster = threeInSync({
      insync: (partition) => (partition === p ? [3] : [1, 2, 3]),
    });
    cluster.state.alive.delete(3);
    cluster.coordinator.onMemberDown();
    const expected = Array.from({ length: partitions }, (_, partition) =>
      partition === p ? [3] : [1, 2],
    );
    expect(cluster.coordinator.insyncMap()).toEqual(expected);
    expect(cluster.events).toEqual(["insync-changed"]);
    // Partition p has no live holder: writes to it are refused, not sent elsewhere.
    expect(codeOf(await rejectionOf(cluster.coordinator.write(key, "a")))).toBe("UNAVAILABLE");
  });

  test("members dead when the coordinator starts are not counted in sync", () => {
    const cluster = threeInSync({
      alive: [1, 2],
      insync: (partition) => (partition === p ? [3] : [2, 3]),
    });
    expect(cluster.insyncOf(p)).toEqual([3]);
    expect(cluster.insyncOf(p + 1)).toEqual([2]);
    expect(cluster.events).toEqual(["insync-changed"]);
  });

  test("onMemberDown reports a change only when a set changed", () => {
    const cluster = threeInSync();
    cluster.coordinator.onMemberDown();
    expect(cluster.events).toEqual([]);
    cluster.state.alive.delete(2);
    cluster.coordinator.onMemberDown();
    cluster.coordinator.onMemberDown();
    expect(cluster.events).toEqual(["insync-changed"]);
    expect(cluster.insyncOf(p)).toEqual([1, 3]);
  });

  test("insyncMap is a copy: changing it changes nothing inside", () => {
    const cluster = threeInSync();
    const map = cluster.coordinator.insyncMap();
    map[p]?.push(9);
    expect(cluster.insyncOf(p)).toEqual([1, 2, 3]);
  });

  test("after a join, surplus is pruned only once all placement replicas are in sync", async () => {
    const before = [1, 2, 3];
    const after = [1, 2, 3, 4, 5];
    const rf = 2;
    const joined = 16;
    // A partition both newcomers take over entirely, and one the join leaves alone.
    const moved = Array.from({ length: joined }, (_, q) => q).find((q) => {
      const placement = replicasOf(q, after, rf);
      return placement.includes(4) && placement.includes(5);
    });
    const kept = Array.from({ length: joined }, (_, q) => q).find(
      (q) => replicasOf(q, after, rf).join() === replicasOf(q, before, rf).join(),
    );
    if (moved === undefined || kept === undefined) throw new Error("no suitable partitions");
    const oldHolders = replicasOf(moved, before, rf).sort((a, b) => a - b);
    const movedKey = (i: number): string => keyIn(moved, joined, i);
    const cluster = clusterOf({
      nodeIds: after,
      memberIds: before,
      rf,
      partitions: joined,
      insync: (q) => replicasOf(q, before, rf).sort((a, b) => a - b),
      rows: (id) =>
        oldHolders.includes(id)
          ? [{ key: movedKey(0), partition: moved, term: 1, seq: 1, value: "old" }]
          : [],
    });
    const insyncBefore = cluster.coordinator.insyncMap();
    cluster.state.memberIds = after;
    cluster.state.alive = new Set(after);
    cluster.coordinator.onMembersChanged();
    expect(cluster.coordinator.insyncMap()).toEqual(insyncBefore);

    // Until they are in sync, the newcomers get live writes but do not count.
    expect(await cluster.coordinator.write(movedKey(1), "a")).toEqual({
      existed: false,
      replicas: 2,
    });
    expect(cluster.node(4).valueOf(movedKey(1))).toBe("a");

    await cluster.coordinator.catchUp(4, moved);
    expect(cluster.insyncOf(moved)).toEqual([...oldHolders, 4].sort((a, b) => a - b));
    cluster.coordinator.onMembersChanged();
    expect(cluster.insyncOf(moved)).toEqual([...oldHolders, 4].sort((a, b) => a - b));

    await cluster.coordinator.catchUp(5, moved);
    expect(cluster.insyncOf(moved)).toEqual([4, 5]);
    expect(cluster.insyncOf(kept)).toEqual(insyncBefore[kept] ?? []);
    expect(cluster.node(5).valueOf(movedKey(0))).toBe("old");

    // The former holders no longer get writes of the partition.
    expect(await cluster.coordinator.write(movedKey(2), "b")).toEqual({
      existed: false,
      replicas: 2,
    });
    for (const id of oldHolders) expect(cluster.node(id).valueOf(movedKey(2))).toBeUndefined();
    expect((await cluster.coordinator.read(movedKey(2)))?.value).toBe("b");
  });
});
