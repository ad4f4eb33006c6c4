// The leader's SCAN and COUNT walk (lib/cluster/scan.ts) over real in-memory stores: partitions
// in order and keys in key order, pages that end mid-partition and resume there, reads from a
// peer when this node is not an in-sync replica, fallback to the next replica when one fails,
// and the errors for a partition with no live replica or a cursor from another cluster.
import { describe, expect, test } from "bun:test";
import { Replica } from "../../../lib/cluster/replica.ts";
import { type ScanSources, countPerPartition, scanPage } from "../../../lib/cluster/scan.ts";
import { GroupCommitter, KvStore } from "../../../lib/store/index.ts";
import { KvError } from "../../../lib/util/errors.ts";
import { nullLogger } from "../../../lib/util/log.ts";
import { keyOf, rowOf } from "../store/rows.ts";

const partitions = 4;

/** A replica holding keys n (partition n % 4) for each n given. */
function replicaWith(numbers: readonly number[]): Replica {
  const store = KvStore.open(":memory:");
  numbers.forEach((n, index) => store.applyBatch([rowOf(n, n % partitions, 1, index + 1)]));
  return new Replica(store, new GroupCommitter(store));
}

interface Setup {
  readonly sources: ScanSources;
  readonly peerCalls: string[];
}

/** This node is 1; `holders` says which node serves each partition; node 2 holds `peer`. */
function setup(self: Replica, peer: Replica, holders: number[][], failing = new Set<number>()):
  Setup {
  const peerCalls: string[] = [];
  const sources: ScanSources = {
    partitions,
    selfId: 1,
    sources: (partition) => holders[partition] ?? [],
    self,
    peerScan: async (id, partition, after, limits) => {
      peerCalls.push(`scan ${id} ${partition}`);
      if (failing.has(id)) throw new KvError("TIMEOUT", `node ${id} is slow`);
      return peer.scan(partition, after, limits);
    },
    peerCount: async (id, asked) => {
      peerCalls.push(`count ${id} ${asked.join(",")}`);
      return peer.count(asked);
    },
    log: nullLogger,
  };
  return { sources, peerCalls };
}

async function scanEverything(sources: ScanSources, count: number): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor = { partition: 0, afterKey: "" };
  for (;;) {
    const page = await scanPage(sources, cursor, count);
    pages.push(page.items.map((item) => item.key));
    if (page.next === null) return pages;
    cursor = page.next;
  }
}

describe("scanPage", () => {
  const numbers = [1, 2, 3, 5, 6, 9, 10, 13, 14, 17];
  // Partition 0 holds nothing; 1: 1, 5, 9, 13, 17; 2: 2, 6, 10, 14; 3: 3.
  const byPartition = [1, 2, 3].flatMap((p) =>
    numbers.filter((n) => n % partitions === p).map(keyOf).sort());

  test("walks partitions in order and keys in key order, across page boundaries", async () => {
    const replica = replicaWith(numbers);
    const { sources, peerCalls } = setup(replica, replica, [[1], [1, 2], [1], [1]]);
    const pages = await scanEverything(sources, 3);
    expect(pages.flat()).toEqual(byPartition);
    expect(pages.every((page) => page.length <= 3)).toBe(true);
    expect(peerCalls).toEqual([]);
  });

  test("reads a partition from a peer when this node is not in sync, next peer on failure",
    async () => {
      const peer = replicaWith(numbers);
      const empty = replicaWith([]);
      const { sources, peerCalls } = setup(empty, peer, [[2], [3, 2], [2], [2]], new Set([3]));
      const pages = await scanEverything(sources, 100);
      expect(pages.flat()).toEqual(byPartition);
      expect(peerCalls).toContain("scan 3 1");
      expect(peerCalls).toContain("scan 2 1");
    });

  test("a partition with no live in-sync replica is UNAVAILABLE", async () => {
    const replica = replicaWith(numbers);
    const { sources } = setup(replica, replica, [[1], [], [1], [1]]);
    const error = await scanPage(sources, { partition: 0, afterKey: "" }, 10).catch((e) => e);
    expect(error).toBeInstanceOf(KvError);
    expect((error as KvError).code).toBe("UNAVAILABLE");
  });

  test("a cursor past the cluster's partitions is BAD_REQUEST", async () => {
    const replica = replicaWith(numbers);
    const { sources } = setup(replica, replica, [[1], [1], [1], [1]]);
    const error = await scanPage(sources, { partition: 4, afterKey: "" }, 10).catch((e) => e);
    expect((error as KvError).code).toBe("BAD_REQUEST");
  });
});

describe("countPerPartition", () => {
  test("one count per partition, each from a live in-sync replica, one request per node",
    async () => {
      const self = replicaWith([1, 5, 3]);
      const peer = replicaWith([2, 6, 10]);
      const { sources, peerCalls } = setup(self, peer, [[1], [1, 2], [2], [1]]);
      expect(await countPerPartition(sources)).toEqual([0, 2, 3, 1]);
      expect(peerCalls).toEqual(["count 2 2"]);
    });
});
