// The store's SCAN queries: one partition's live keys in key order after a key, tombstones and
// other partitions left out, and per-partition live counts; then the replica's byte-capped page.
import { describe, expect, test } from "bun:test";
import { GroupCommitter, KvStore } from "../../../lib/store/index.ts";
import { Replica } from "../../../lib/cluster/replica.ts";
import { keyOf, rowOf } from "./rows.ts";

function storeWith(): KvStore {
  const store = KvStore.open(":memory:");
  // Keys 1..9 in partition 0 written in reverse key order, so key order is not write order;
  // key 5 deleted; keys 20..22 in partition 1.
  let seq = 1;
  for (let n = 9; n >= 1; n--) store.applyBatch([rowOf(n, 0, 1, seq++)]);
  store.applyBatch([rowOf(5, 0, 1, seq++, null)]);
  for (let n = 20; n <= 22; n++) store.applyBatch([rowOf(n, 1, 1, seq++)]);
  return store;
}

describe("KvStore.scanPartition and countPartition", () => {
  test("pages through live keys of one partition in key order", () => {
    const store = storeWith();
    const all = [1, 2, 3, 4, 6, 7, 8, 9].map(keyOf);
    expect(store.scanPartition(0, "", 100).map((row) => row.key)).toEqual(all);
    const first = store.scanPartition(0, "", 3).map((row) => row.key);
    expect(first).toEqual(all.slice(0, 3));
    const second = store.scanPartition(0, first[2] as string, 3).map((row) => row.key);
    expect(second).toEqual(all.slice(3, 6));
    expect(store.scanPartition(0, keyOf(9), 3)).toEqual([]);
    expect(store.scanPartition(1, "", 10).map((row) => row.key)).toEqual([20, 21, 22].map(keyOf));
    expect(store.scanPartition(2, "", 10)).toEqual([]);
    expect(store.countPartition(0)).toBe(8);
    expect(store.countPartition(1)).toBe(3);
    expect(store.countPartition(2)).toBe(0);
    store.close();
  });
});

describe("Replica.scan", () => {
  const limits = (limit: number, bytesMax: number, keysOnly = false) => ({
    limit, bytesMax, keysOnly,
  });

  test("cuts a page by bytes after the first item and says whether more follow", () => {
    const store = KvStore.open(":memory:");
    const big = "x".repeat(1000);
    store.applyBatch([1, 2, 3].map((n, i) => rowOf(n, 0, 1, i + 1, big)));
    const replica = new Replica(store, new GroupCommitter(store));
    const page = replica.scan(0, "", limits(10, 1500));
    expect(page.items).toEqual([{ key: keyOf(1), value: big }]);
    expect(page.hasMore).toBe(true);
    // The first item always comes, even above the cap, so a scan never stalls.
    expect(replica.scan(0, "", limits(10, 10)).items.length).toBe(1);
    const rest = replica.scan(0, keyOf(1), limits(10, 1_000_000));
    expect(rest.items.map((item) => item.key)).toEqual([keyOf(2), keyOf(3)]);
    expect(rest.hasMore).toBe(false);
    expect(replica.scan(0, "", limits(3, 1_000_000)).items.length).toBe(3);
    store.close();
  });

  test("keys only: no values, deleted keys left out, bytes counted on keys", () => {
    const store = storeWith();
    const replica = new Replica(store, new GroupCommitter(store));
    const page = replica.scan(0, "", limits(100, 1_000_000, true));
    expect(page.items).toEqual([1, 2, 3, 4, 6, 7, 8, 9].map((n) => ({ key: keyOf(n) })));
    expect(page.hasMore).toBe(false);
    expect(store.scanPartitionKeys(0, keyOf(4), 2)).toEqual([keyOf(6), keyOf(7)]);
    // 36-byte keys: two fit in 80 bytes.
    expect(replica.scan(0, "", limits(100, 80, true)).items.length).toBe(2);
    store.close();
  });
});
