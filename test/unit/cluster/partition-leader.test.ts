// The leader's coordination of one partition (lib/cluster/partition-leader.ts) in a small
// deterministic world: takeover picks the right source and reconciles, writes wait for every
// in-sync replica or for a committed removal, catch-up brings a replica back, and a deposed
// leader acknowledges nothing. Rules from docs/agreement.md.

import { describe, expect, test } from "bun:test";
import { recentCharsMaxFor } from "../../../lib/cluster/partition-leader.ts";
import type { ChangeRecord } from "../../../lib/store/replica-types.ts";
import { keyOf } from "../store/rows.ts";
import { P, PartitionWorld } from "./partition-world.ts";

const k = (n: number) => keyOf(n * 64); // all in partition 0 of 64: first 8 hex digits
function change(seq: number, epoch: number, n: number, value: string | null): ChangeRecord {
  return { seq, epoch, key: k(n), value, writer: null };
}

describe("PartitionLeader", () => {
  test("takeover: the highest last (epoch, seq) is the source and a deposed suffix is undone", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    world.seed(1, 1, [change(1, 1, 1, "a"), change(2, 1, 2, "b"), change(3, 1, 3, "unacked")]);
    world.seed(2, 2, [change(1, 1, 1, "a"), change(2, 1, 2, "b"), change(3, 2, 1, "from-2")]);
    const leader = world.startLeader(1, 3);
    world.settle();
    expect(leader.isServing).toBe(true);
    const expected = { [k(1)]: "from-2", [k(2)]: "b" };
    expect(world.values(1)).toEqual(expected);
    expect(world.values(2)).toEqual(expected);
    expect(world.stores.get(1)?.fencedEpoch(P)).toBe(3);
  });

  test("a write is acknowledged once every in-sync replica has it, with its outcome", () => {
    const world = new PartitionWorld([1, 2, 3], [1, 2]);
    world.startLeader(3, 1);
    world.settle();
    const first = world.write(k(5), "v1");
    const second = world.write(k(5), "v2");
    expect(first).toEqual([]);
    world.settle();
    expect(first).toEqual([{ ok: true, status: "created", version: 1, replicas: 2 }]);
    expect(second).toEqual([{ ok: true, status: "updated", version: 2, replicas: 2 }]);
    const read = world.read(k(5));
    world.settle();
    expect(read).toEqual([{ ok: true, row: expect.objectContaining({ value: "v2", seq: 2 }) }]);
    expect(world.values(1)).toEqual(world.values(2));
  });

  test("taking over with every in-sync replica silent answers UNAVAILABLE at once", () => {
    // Placed on 2 and 3, in sync on 2 alone, and 2 is dead: nothing can be served until it
    // returns, and nothing waits for that.
    const world = new PartitionWorld([1, 2, 3], [2], [2, 3]);
    world.down.add(2);
    const leader = world.startLeader(1, 2);
    world.settle();
    const early = world.read(k(1));
    expect(early).toEqual([]); // not suspected yet: it may still answer the fence
    world.suspects.add(2);
    leader.tick();
    expect(early).toEqual([
      { ok: false, code: "UNAVAILABLE", message: expect.stringContaining("no live in-sync replica") },
    ]);
    expect(world.write(k(1), "v")).toEqual([
      { ok: false, code: "UNAVAILABLE", message: expect.stringContaining("in-sync replicas: 2") },
    ]);
    expect(leader.isServing).toBe(false);
    // It returns: the takeover ends and the partition serves.
    world.down.delete(2);
    world.suspects.delete(2);
    world.timeOut();
    for (let i = 0; i < 20 && !leader.isServing; i++) {
      leader.tick();
      world.settle();
    }
    expect(leader.isServing).toBe(true);
    const write = world.write(k(1), "v");
    world.settle();
    expect(write).toEqual([{ ok: true, status: "created", version: 1, replicas: 1 }]);
  });

  test("a silent in-sync replica delays the ack until its removal is committed", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    world.startLeader(1, 1);
    world.settle();
    world.down.add(2);
    const result = world.write(k(1), "v");
    world.settle();
    world.timeOut();
    world.settle();
    expect(result).toEqual([]);
    expect(world.proposals).toEqual([{ type: "insync-remove", partition: P, id: 2, term: 1 }]);
    world.commitProposals();
    expect(result).toEqual([{ ok: true, status: "created", version: 1, replicas: 1 }]);
  });

  test("a returning replica catches up, tails the log, and is added back", () => {
    const world = new PartitionWorld([1, 2], [1], [1, 2]);
    world.seed(2, 1, [change(1, 1, 1, "old"), change(2, 1, 9, "diverged")]);
    world.seed(1, 1, [change(1, 1, 1, "old")]);
    world.startLeader(1, 2);
    world.settle();
    for (let i = 0; i < 20; i++) world.write(k(i % 5), `v${i}`);
    world.settle();
    world.leader.tick();
    world.settle();
    expect(world.proposals).toEqual([{ type: "insync-add", partition: P, id: 2, term: 2 }]);
    // Writes made while the add is pending already need replica 2.
    const during = world.write(k(7), "during");
    world.settle();
    expect(during[0]).toMatchObject({ ok: true, replicas: 2 });
    world.commitProposals();
    expect(world.insync).toEqual([1, 2]);
    expect(world.values(2)).toEqual(world.values(1));
    expect(world.values(2)[k(9)]).toBeUndefined();
  });

  test("a replica heard again after a silence is caught up at the next tick, not ten later", () => {
    const world = new PartitionWorld([1, 2], [1], [1, 2]);
    world.startLeader(1, 1);
    world.settle();
    world.write(k(1), "v1");
    world.settle();
    // Replica 2 is down: the catch-up's first request is lost and times out.
    world.down.add(2);
    world.leader.tick();
    world.settle();
    world.timeOut();
    world.down.delete(2);
    const kinds = recordRequests(world);
    world.leader.tick();
    world.settle();
    expect(kinds).toEqual([]);
    world.leader.onMemberReturned(2);
    world.leader.tick();
    world.settle();
    expect(kinds[0]).toBe("fence");
    expect(world.proposals).toEqual([{ type: "insync-add", partition: P, id: 2, term: 1 }]);
    expect(world.values(2)).toEqual(world.values(1));
  });

  // Returns the kinds of request the leader sent, in order, from now on.
  function recordRequests(world: PartitionWorld): string[] {
    const kinds: string[] = [];
    const send = world.send.bind(world);
    world.send = (to, request) => {
      kinds.push(request.type);
      return send(to, request);
    };
    return kinds;
  }

  // Node 3 leads a partition held by replicas 1 and 2, in which k(5) was written once ("v1").
  function leaderOutside(): { world: PartitionWorld; kinds: string[] } {
    const world = new PartitionWorld([1, 2, 3], [1, 2]);
    world.startLeader(3, 1);
    world.settle();
    world.write(k(5), "v1");
    world.settle();
    return { world, kinds: recordRequests(world) };
  }

  test("a leader that does not hold the partition reads a key once, then from its cache", () => {
    const { world, kinds } = leaderOutside();
    const first = world.read(k(5));
    world.settle();
    expect(first).toEqual([{ ok: true, row: expect.objectContaining({ value: "v1", seq: 1 }) }]);
    expect(kinds).toEqual(["read"]);
    // Answered at once, with no request: the row is known current.
    expect(world.read(k(5))).toEqual(first);
    // An acknowledged write replaces the cached row; a delete leaves it known absent.
    world.write(k(5), "v2");
    world.settle();
    expect(world.read(k(5))).toEqual([
      { ok: true, row: expect.objectContaining({ value: "v2", seq: 2 }) },
    ]);
    world.write(k(5), null);
    world.settle();
    expect(world.read(k(5))).toEqual([{ ok: true, row: null }]);
    expect(kinds.filter((kind) => kind === "read")).toEqual(["read"]);
    // While a write to the key is in flight a read waits for it, cache or not.
    const during = world.write(k(5), "v3");
    const waiting = world.read(k(5));
    expect(waiting).toEqual([]);
    world.settle();
    expect(during).toEqual([{ ok: true, status: "created", version: 4, replicas: 2 }]);
    expect(waiting).toEqual([{ ok: true, row: expect.objectContaining({ value: "v3", seq: 4 }) }]);
  });

  test("a read that a write of the partition overlapped is not cached", () => {
    const { world, kinds } = leaderOutside();
    // The read is out when a write (to another key) is ordered: the row it brings back may
    // be older than the key's current one, for all the leader can tell, so it is not kept.
    const read = world.read(k(5));
    world.write(k(6), "x");
    world.settle();
    expect(read).toEqual([{ ok: true, row: expect.objectContaining({ value: "v1" }) }]);
    const again = world.read(k(5));
    expect(again).toEqual([]);
    world.settle();
    expect(again).toEqual(read);
    expect(kinds.filter((kind) => kind === "read")).toEqual(["read", "read"]);
    // The second read overlapped nothing: the third needs no request.
    expect(world.read(k(5))).toEqual(read);
    expect(kinds.filter((kind) => kind === "read")).toHaveLength(2);
  });

  test("a leader that holds the partition reads its own replica every time", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    world.startLeader(1, 1);
    world.settle();
    world.write(k(5), "v1");
    world.settle();
    const kinds = recordRequests(world);
    for (let i = 0; i < 3; i++) {
      const read = world.read(k(5));
      world.settle();
      expect(read).toEqual([{ ok: true, row: expect.objectContaining({ value: "v1" }) }]);
    }
    expect(kinds).toEqual(["read", "read", "read"]);
  });

  test("a replica behind by small values is fed from the leader's memory", () => {
    const world = new PartitionWorld([1, 2], [1], [1, 2]);
    world.startLeader(1, 2);
    world.settle();
    for (let i = 0; i < 20; i++) world.write(k(i), `v${i}`);
    world.settle();
    const kinds = recordRequests(world);
    world.leader.tick();
    world.settle();
    expect(kinds).not.toContain("fetch");
    expect(world.proposals).toEqual([{ type: "insync-add", partition: P, id: 2, term: 2 }]);
    expect(world.values(2)).toEqual(world.values(1));
  });

  test("large values are not all kept in memory: a replica behind by them reads a source", () => {
    // 24 acknowledged values of 256 KiB (6 MiB): more than the leader keeps of a partition.
    const world = new PartitionWorld([1, 2], [1], [1, 2]);
    world.startLeader(1, 2);
    world.settle();
    for (let i = 0; i < 24; i++) world.write(k(i), String(i).padEnd(256 * 1024, "v"));
    world.settle();
    const kinds = recordRequests(world);
    world.leader.tick();
    world.settle();
    expect(kinds).toContain("fetch");
    expect(world.proposals).toEqual([{ type: "insync-add", partition: P, id: 2, term: 2 }]);
    expect(world.values(2)).toEqual(world.values(1));
  });

  // What a node keeps of recent changes is bounded as a whole: each of its partitions holds its
  // share, so a leader of many partitions does not grow with the writes it led. 64 partitions
  // of 2 Mi characters each once grew a leader by ~500 MiB of 256-byte values.
  test("a partition keeps only its share of the node's recent changes, however many writes", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    world.startLeader(1, 2);
    world.settle();
    const share = recentCharsMaxFor(64);
    for (let i = 0; i < 20_000; i++) {
      world.write(k(i % 500), String(i).padEnd(256, "v"), crypto.randomUUID());
      if (i % 100 === 99) world.settle();
    }
    world.settle();
    const held = world.leader.recentHeld;
    expect(held.chars).toBeLessThan(2 * share);
    expect(held.changes).toBeLessThan((2 * share) / 256);
    expect(64 * 2 * share).toBeLessThanOrEqual(32 * 1024 * 1024);
    expect(world.values(2)).toEqual(world.values(1));
  });

  test("a replica behind by more than the partition's share reads a source", () => {
    // 1,000 acknowledged values of 1 KiB: beyond one partition's share of 64, within 1's.
    for (const [partitions, fromSource] of [[64, true], [1, false]] as const) {
      const world = new PartitionWorld([1, 2], [1], [1, 2]);
      world.partitions = partitions;
      world.startLeader(1, 2);
      world.settle();
      for (let i = 0; i < 1000; i++) world.write(k(i % 50), String(i).padEnd(1024, "v"));
      world.settle();
      const kinds = recordRequests(world);
      world.leader.tick();
      world.settle();
      expect(kinds.includes("fetch")).toBe(fromSource);
      expect(world.proposals).toEqual([{ type: "insync-add", partition: P, id: 2, term: 2 }]);
      expect(world.values(2)).toEqual(world.values(1));
    }
  });

  // A replica that was away while the source's log moved past what it holds gets a full copy.
  // Pages of 3 rows and a log of 10 changes make it take many pages and let writes outrun it.
  function trimmedWorld(): PartitionWorld {
    const world = new PartitionWorld([1, 2], [1], [1, 2], { logRetain: 10, snapshotPageRows: 3 });
    world.down.add(2);
    world.startLeader(1, 2);
    world.settle();
    for (let i = 0; i < 40; i++) world.write(k(i % 25), i % 7 === 0 ? null : `v${i}`);
    world.settle();
    world.down.delete(2);
    world.timeOut();
    world.settle();
    return world;
  }

  test("a full copy goes page by page while writes go on, and ends equal to the source", () => {
    const world = trimmedWorld();
    const kinds = recordRequests(world);
    world.leader.tick();
    // Between pages: updates, deletes and creates on both sides of the copy's current key.
    for (let round = 0; world.step(); round++) {
      if (round % 2 === 0) world.write(k((round * 7) % 30), round % 3 === 0 ? null : `w${round}`);
    }
    world.leader.tick();
    world.settle();
    expect(kinds.filter((t) => t === "snapshot").length).toBeGreaterThan(5);
    expect(kinds.filter((t) => t === "install").length).toBeGreaterThan(5);
    expect(world.proposals).toEqual([{ type: "insync-add", partition: P, id: 2, term: 2 }]);
    world.commitProposals();
    expect(world.values(2)).toEqual(world.values(1));
  });

  test("a copy whose base the source trimmed meanwhile starts again, and still ends equal", () => {
    const world = trimmedWorld();
    const firstPages: number[] = [];
    const send = world.send.bind(world);
    world.send = (to, request) => {
      if (request.type === "snapshot" && request.base === null) firstPages.push(to);
      return send(to, request);
    };
    world.leader.tick();
    // Twelve writes per round for the first rounds: the source's log (10) moves past the base.
    for (let round = 0; world.step(); round++) {
      if (round >= 6) continue;
      for (let i = 0; i < 12; i++) world.write(k((round * 12 + i) % 30), `x${round}.${i}`);
    }
    world.leader.tick();
    world.settle();
    expect(firstPages.length).toBeGreaterThan(1);
    world.commitProposals();
    expect(world.insync).toEqual([1, 2]);
    expect(world.values(2)).toEqual(world.values(1));
  });

  test("a leader fenced out by a newer one acknowledges nothing more", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    world.startLeader(1, 1);
    world.settle();
    world.stores.get(2)?.commit([{ type: "fence", partition: P, epoch: 5 }]);
    const result = world.write(k(1), "v");
    world.settle();
    expect(result).toEqual([
      expect.objectContaining({ ok: false, code: "TIMEOUT" }),
    ]);
    const later = world.write(k(2), "w");
    expect(later).toEqual([expect.objectContaining({ ok: false, code: "UNAVAILABLE" })]);
  });

  test("the feed sees each write once it is acknowledged, in seq order, with its outcome", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    world.startLeader(1, 1);
    world.settle();
    world.down.add(2);
    const acks = [world.write(k(1), "a"), world.write(k(1), null), world.write(k(2), null)];
    world.settle();
    // Node 2 holds none of them yet: nothing is acknowledged, so nothing is on the feed.
    expect(acks.flat()).toEqual([]);
    expect(world.committed).toEqual([]);
    world.timeOut();
    world.commitProposals();
    world.settle();
    expect(acks.flat().map((r) => r.ok)).toEqual([true, true, true]);
    expect(world.committed.map((c) => [c.seq, c.key, c.value, c.status])).toEqual([
      [1, k(1), "a", "created"],
      [2, k(1), null, "deleted"],
      [3, k(2), null, "not_found"],
    ]);
  });

  test("WATCH since shows a change only once it is acknowledged (linearizable, as reads)", () => {
    const world = new PartitionWorld([1, 2], [1, 2]);
    world.startLeader(1, 1);
    world.settle();
    world.write(k(1), "a");
    world.settle();
    world.down.add(2);
    const pending = world.write(k(1), "b");
    world.settle();
    // Node 1 (read first: it leads) already stores "b", but it is not acknowledged.
    const answer = world.watch(k(1), 0);
    world.settle();
    expect(pending).toEqual([]);
    expect(answer).toEqual([]);
    world.timeOut();
    world.commitProposals();
    world.settle();
    expect(pending.map((r) => r.ok)).toEqual([true]);
    expect(answer).toEqual([{
      ok: true,
      changes: [
        expect.objectContaining({ seq: 1, value: "a", status: "created" }),
        expect.objectContaining({ seq: 2, value: "b", status: "updated" }),
      ],
      version: 2,
      more: false,
    }]);
    const later = world.watch(k(1), 1, 1);
    world.settle();
    expect(later).toEqual([{ ok: true, changes: [expect.objectContaining({ seq: 2 })], version: 2,
      more: true }]);
  });

  test("WATCH since a version the log no longer holds is COMPACTED, naming the oldest", () => {
    const world = new PartitionWorld([1], [1]);
    world.seed(1, 1, [change(1, 1, 1, "a"), change(2, 1, 2, "b"), change(3, 1, 1, "c")]);
    world.stores.get(1)?.commit([{ type: "trim", partition: P, uptoSeq: 2 }]);
    world.startLeader(1, 2);
    world.settle();
    const gone = world.watch(k(1), 0);
    const held = world.watch(k(1), 2);
    world.settle();
    const message = expect.any(String);
    expect(gone).toEqual([{ ok: false, code: "COMPACTED", message, oldest: 3 }]);
    expect(held).toEqual([{ ok: true, changes: [expect.objectContaining({ seq: 3, value: "c" })],
      version: 3, more: false }]);
  });
});
