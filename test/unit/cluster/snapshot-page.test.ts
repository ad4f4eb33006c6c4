// Pages of a full copy (lib/cluster/snapshot-page.ts) read while writes go on: whatever the
// writes between pages and the page size, the pages together are the partition exactly as it
// was at the copy's base, with each row's version. Against the memory store and sqlite.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readSnapshotPage } from "../../../lib/cluster/snapshot-page.ts";
import { MemoryReplicaStore } from "../../../lib/store/memory-replica-store.ts";
import type { ChangeRecord, DataRow, ReplicaStorage } from "../../../lib/store/replica-types.ts";
import { SqliteReplicaStore } from "../../../lib/store/sqlite-replica-store.ts";
import { keyOf } from "../store/rows.ts";

const P = 2;

/** A write of key n (null value: delete), as the test generates them. */
type Write = readonly [n: number, value: string | null];

const writeArb = fc.tuple(
  fc.nat(24),
  fc.option(fc.string({ maxLength: 6 }), { nil: null, freq: 4 }),
);

function appendAll(store: ReplicaStorage, writes: readonly Write[]): void {
  if (writes.length === 0) return;
  const last = store.summary(P).last.seq;
  const changes: ChangeRecord[] = writes.map(([n, value], i) => ({
    seq: last + 1 + i,
    epoch: 1,
    key: keyOf(n),
    value,
    writer: `w:${last + 1 + i}`,
  }));
  store.commit([{ type: "append", partition: P, changes }]);
}

const stores: Array<[string, () => ReplicaStorage]> = [
  ["memory", () => new MemoryReplicaStore()],
  ["sqlite", () => new SqliteReplicaStore(":memory:")],
];

describe.each(stores)("readSnapshotPage (%s)", (_name, open) => {
  test("pages read between writes add up to the partition as it was at the base", () => {
    const property = fc.property(
      fc.array(writeArb, { maxLength: 40 }),
      fc.array(fc.array(writeArb, { maxLength: 6 }), { maxLength: 30 }),
      fc.integer({ min: 1, max: 5 }),
      (before, between, rowsMax) => {
        const store = open();
        try {
          appendAll(store, before);
          const base = store.summary(P).last;
          const expected = store.rowsAfter(P, "", 1000);
          const got: DataRow[] = [];
          let afterKey: string | null = "";
          for (let page = 0; afterKey !== null; page++) {
            appendAll(store, between[page] ?? []);
            const read = readSnapshotPage(store, P, base.seq, afterKey, rowsMax);
            for (const row of read.rows) expect(row.key > afterKey).toBe(true);
            if (read.next !== null) expect(read.next > afterKey).toBe(true);
            got.push(...read.rows);
            afterKey = read.next;
          }
          expect(got).toEqual(expected);
        } finally {
          store.close();
        }
      },
    );
    fc.assert(property, { seed: 20261204, numRuns: 300 });
  });

  test("a page is cut to one message's byte budget and says where to go on", () => {
    const store = open();
    try {
      // 5 values of 4 MiB: 24 MiB as JSON at most each, so a 16 MiB budget takes one at a time.
      const big = "x".repeat(4 * 1024 * 1024);
      appendAll(store, [1, 2, 3, 4, 5].map((n): Write => [n, big]));
      const first = readSnapshotPage(store, P, store.summary(P).last.seq, "", 1000);
      expect(first.rows.map((r) => r.key)).toEqual([keyOf(1)]);
      expect(first.next).toBe(keyOf(1));
    } finally {
      store.close();
    }
  });
});
