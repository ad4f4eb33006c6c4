// The KvStore contract, written once and run against every way of opening a store (after hono's
// common.case tests). Capabilities a fixture lacks (reopening, blocking writes) leave out only
// the tests that need them.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { SQLiteError } from "bun:sqlite";
import {
  KvStore,
  metaNames,
  versionZero,
  type KvStoreOptions,
  type StoredRow,
} from "../../../lib/store/index.ts";
import { AssertionError, StorageError } from "../../../lib/util/errors.ts";
import { keyOf, rowOf } from "./rows.ts";

export interface StoreFixture {
  readonly name: string;
  /** A new, empty store. */
  open(options?: KvStoreOptions): KvStore;
  /** Closes `store` and opens the same database again. */
  readonly reopen?: (store: KvStore) => KvStore;
  /** Takes the write lock from another connection; the returned function releases it. */
  readonly blockWrites?: () => () => void;
  /** Runs after each test, once every store it opened is closed. */
  readonly cleanup?: () => void;
}

export function kvStoreContract(fixture: StoreFixture): void {
  describe(`KvStore contract (${fixture.name})`, () => {
    let store: KvStore;
    beforeEach(() => {
      store = fixture.open();
    });
    afterEach(() => {
      store.close();
      fixture.cleanup?.();
    });

    test("get of a key never written is undefined", () => {
      expect(store.get(keyOf(1))).toBeUndefined();
      expect(store.countLive()).toBe(0);
    });

    test("a newer version wins, by term first and then by seq", () => {
      expect(store.applyBatch([rowOf(1, 5, 1, 1, "a")])).toEqual([true]);
      expect(store.applyBatch([rowOf(1, 5, 1, 2, "b")])).toEqual([true]);
      expect(store.get(keyOf(1))).toEqual(rowOf(1, 5, 1, 2, "b"));
      // A higher term wins even with a lower seq.
      expect(store.applyBatch([rowOf(1, 5, 2, 1, "c")])).toEqual([true]);
      expect(store.get(keyOf(1))).toEqual(rowOf(1, 5, 2, 1, "c"));
    });

    test("an older or equal version is ignored, so replays are idempotent", () => {
      store.applyBatch([rowOf(1, 0, 2, 5, "x")]);
      const stale = [rowOf(1, 0, 2, 4, "y"), rowOf(1, 0, 1, 9, "z"), rowOf(1, 0, 2, 5, "w")];
      expect(store.applyBatch(stale)).toEqual([false, false, false]);
      expect(store.get(keyOf(1))).toEqual(rowOf(1, 0, 2, 5, "x"));
      expect(store.position(0)).toEqual({ term: 2, seq: 5 });
    });

    test("rows of one batch for the same key are compared in order", () => {
      const batch = [rowOf(1, 0, 1, 2, "a"), rowOf(1, 0, 1, 1, "b"), rowOf(1, 0, 1, 3, "c")];
      expect(store.applyBatch(batch)).toEqual([true, false, true]);
      expect(store.get(keyOf(1))?.value).toBe("c");
      expect(store.applyBatch([])).toEqual([]);
    });

    test("a tombstone hides the value, blocks older writes and yields to newer ones", () => {
      store.applyBatch([rowOf(1, 2, 1, 1, "a"), rowOf(2, 2, 1, 2, "b")]);
      expect(store.applyBatch([rowOf(1, 2, 1, 3, null)])).toEqual([true]);
      expect(store.get(keyOf(1))).toEqual(rowOf(1, 2, 1, 3, null));
      expect(store.countLive()).toBe(1);
      expect(store.partitionKeys(2)).toEqual([keyOf(2)]);
      // A late copy of the deleted value must not bring it back.
      expect(store.applyBatch([rowOf(1, 2, 1, 1, "a")])).toEqual([false]);
      expect(store.get(keyOf(1))?.value).toBeNull();
      expect(store.applyBatch([rowOf(1, 2, 2, 1, "again")])).toEqual([true]);
      expect(store.get(keyOf(1))?.value).toBe("again");
      expect(store.countLive()).toBe(2);
    });

    test("positions track the highest applied version per partition", () => {
      expect(store.position(7)).toEqual(versionZero);
      expect(store.maxTerm()).toBe(0);
      expect(store.maxSeq(7)).toBe(0);
      store.applyBatch([rowOf(1, 7, 1, 4), rowOf(2, 7, 1, 2), rowOf(3, 8, 2, 1)]);
      expect(store.position(7)).toEqual({ term: 1, seq: 4 });
      expect(store.position(8)).toEqual({ term: 2, seq: 1 });
      // Out-of-order catch-up: a new key with an older version applies, the position stays.
      expect(store.applyBatch([rowOf(4, 7, 1, 3)])).toEqual([true]);
      expect(store.position(7)).toEqual({ term: 1, seq: 4 });
      const positions = store.positions();
      expect([...positions.entries()].sort((a, b) => a[0] - b[0])).toEqual([
        [7, { term: 1, seq: 4 }],
        [8, { term: 2, seq: 1 }],
      ]);
      positions.set(7, { term: 99, seq: 99 });
      expect(store.position(7)).toEqual({ term: 1, seq: 4 });
      expect(store.maxTerm()).toBe(2);
      // seq 4 in term 1 is the largest seq of partition 7, whatever the term.
      store.applyBatch([rowOf(5, 7, 2, 1)]);
      expect(store.position(7)).toEqual({ term: 2, seq: 1 });
      expect(store.maxSeq(7)).toBe(4);
    });

    test("rowsSince pages through one partition in version order, tombstones included", () => {
      const versions: Array<[number, number]> = [];
      for (let term = 1; term <= 3; term++) {
        for (let seq = 1; seq <= 8; seq++) versions.push([term, seq]);
      }
      // Written in a scrambled order, with rows of a neighbouring partition in between.
      const scrambled = versions.map((version, i) => ({ version, i })).sort(
        (a, b) => ((a.i * 7) % versions.length) - ((b.i * 7) % versions.length),
      );
      const batch: StoredRow[] = [];
      for (const { version, i } of scrambled) {
        batch.push(rowOf(100 + i, 3, version[0], version[1], i % 5 === 0 ? null : `v${i}`));
        batch.push(rowOf(500 + i, 4, version[0], version[1]));
      }
      store.applyBatch(batch);

      const seen: StoredRow[] = [];
      let after = versionZero;
      for (let page = 0; page < 10; page++) {
        const rows = store.rowsSince(3, after, 5);
        if (rows.length === 0) break;
        expect(rows.length).toBeLessThanOrEqual(5);
        seen.push(...rows);
        const last = rows.at(-1);
        if (last === undefined) break;
        after = { term: last.term, seq: last.seq };
      }
      expect(seen.map((row) => [row.term, row.seq])).toEqual(versions);
      expect(seen.every((row) => row.partition === 3)).toBe(true);
      expect(seen.filter((row) => row.value === null).length).toBe(5);
      expect(store.rowsSince(3, { term: 3, seq: 8 }, 5)).toEqual([]);
      expect(store.rowsSince(3, { term: 2, seq: 7 }, 100).map((r) => [r.term, r.seq])).toEqual([
        [2, 8], [3, 1], [3, 2], [3, 3], [3, 4], [3, 5], [3, 6], [3, 7], [3, 8],
      ]);
    });

    test("purgeTombstones deletes only tombstones at or below the version", () => {
      store.applyBatch([
        rowOf(1, 1, 1, 1, null),
        rowOf(2, 1, 1, 2, "live"),
        rowOf(3, 1, 1, 3, null),
        rowOf(4, 1, 2, 1, null),
        rowOf(5, 2, 1, 1, null),
      ]);
      expect(store.purgeTombstones(1, { term: 1, seq: 3 })).toBe(2);
      expect(store.get(keyOf(1))).toBeUndefined();
      expect(store.get(keyOf(3))).toBeUndefined();
      expect(store.get(keyOf(2))?.value).toBe("live");
      expect(store.get(keyOf(4))?.value).toBeNull();
      expect(store.get(keyOf(5))?.value).toBeNull();
      expect(store.position(1)).toEqual({ term: 2, seq: 1 });
      expect(store.purgeTombstones(1, { term: 1, seq: 3 })).toBe(0);
    });

    test("dropPartition forgets rows, tombstones and position of that partition only", () => {
      store.applyBatch([rowOf(1, 6, 1, 1), rowOf(2, 6, 1, 2, null), rowOf(3, 9, 1, 1)]);
      expect(store.dropPartition(6)).toBe(2);
      expect(store.get(keyOf(1))).toBeUndefined();
      expect(store.get(keyOf(2))).toBeUndefined();
      expect(store.position(6)).toEqual(versionZero);
      expect(store.positions().has(6)).toBe(false);
      expect(store.allRows()).toEqual([rowOf(3, 9, 1, 1)]);
      expect(store.position(9)).toEqual({ term: 1, seq: 1 });
      // The partition can come back later, from scratch.
      expect(store.applyBatch([rowOf(1, 6, 1, 1)])).toEqual([true]);
    });

    test("meta values are stored, overwritten and read back", () => {
      expect(store.getMeta(metaNames.nodeId)).toBeUndefined();
      store.setMeta(metaNames.nodeId, "3");
      store.setMeta(metaNames.members, JSON.stringify([{ id: 3 }]));
      store.setMeta(metaNames.nodeId, "4");
      expect(store.getMeta(metaNames.nodeId)).toBe("4");
      expect(store.getMeta(metaNames.members)).toBe('[{"id":3}]');
    });

    test("a malformed row is a programmer error and nothing of its batch is applied", () => {
      const bad: StoredRow[] = [
        { ...rowOf(9, 0, 1, 1), key: keyOf(9).toUpperCase() },
        { ...rowOf(9, 0, 1, 1), key: "not-a-uuid" },
        rowOf(9, 0, 0, 1),
        rowOf(9, 0, 1, 0),
        rowOf(9, -1, 1, 1),
        rowOf(9, 0.5, 1, 1),
      ];
      for (const row of bad) {
        expect(() => store.applyBatch([rowOf(1, 0, 1, 1), row])).toThrow(AssertionError);
      }
      expect(store.allRows()).toEqual([]);
      expect(store.position(0)).toEqual(versionZero);
      expect(() => store.rowsSince(0, versionZero, 0)).toThrow(AssertionError);
      expect(() => store.rowsSince(0, { term: -1, seq: 0 }, 1)).toThrow(AssertionError);
    });

    test("a key written to another partition rolls back the whole batch", () => {
      store.applyBatch([rowOf(1, 0, 1, 1)]);
      const batch = [rowOf(2, 0, 1, 2), rowOf(1, 5, 1, 3)];
      expect(() => store.applyBatch(batch)).toThrow(AssertionError);
      expect(store.get(keyOf(2))).toBeUndefined();
      expect(store.position(0)).toEqual({ term: 1, seq: 1 });
      expect(store.applyBatch([rowOf(2, 0, 1, 2)])).toEqual([true]);
    });

    test("a closed store refuses every call; closing twice is harmless", () => {
      store.close();
      store.close();
      expect(() => store.get(keyOf(1))).toThrow(AssertionError);
      expect(() => store.applyBatch([rowOf(1, 0, 1, 1)])).toThrow(AssertionError);
      expect(() => store.position(0)).toThrow(AssertionError);
    });

    const reopen = fixture.reopen;
    if (reopen !== undefined) {
      test("reopening keeps rows, tombstones, positions and meta", () => {
        store.applyBatch([rowOf(1, 2, 3, 4, "kept"), rowOf(2, 2, 3, 5, null), rowOf(3, 7, 1, 1)]);
        store.setMeta(metaNames.currentTerm, "3");
        const before = store.allRows();
        store = reopen(store);
        expect(store.allRows()).toEqual(before);
        expect(store.get(keyOf(2))?.value).toBeNull();
        expect(store.position(2)).toEqual({ term: 3, seq: 5 });
        expect(store.position(7)).toEqual({ term: 1, seq: 1 });
        expect(store.getMeta(metaNames.currentTerm)).toBe("3");
        // Versions still compare against what was stored before the restart.
        expect(store.applyBatch([rowOf(1, 2, 3, 3, "stale")])).toEqual([false]);
      });
    }

    const blockWrites = fixture.blockWrites;
    if (blockWrites !== undefined) {
      test("a failed write throws StorageError and applies nothing", () => {
        store.close();
        store = fixture.open({ busyTimeoutMs: 0 });
        store.applyBatch([rowOf(1, 0, 1, 1, "before")]);
        const release = blockWrites();
        let thrown: unknown;
        try {
          try {
            store.applyBatch([rowOf(1, 0, 1, 2, "after"), rowOf(2, 0, 1, 3)]);
          } catch (error) {
            thrown = error;
          }
          expect(() => store.setMeta("x", "y")).toThrow(StorageError);
        } finally {
          release();
        }
        expect(thrown).toBeInstanceOf(StorageError);
        expect((thrown as StorageError).code).toBe("STORAGE");
        expect((thrown as StorageError).cause).toBeInstanceOf(SQLiteError);
        expect(store.get(keyOf(1))?.value).toBe("before");
        expect(store.get(keyOf(2))).toBeUndefined();
        expect(store.position(0)).toEqual({ term: 1, seq: 1 });
        // Once the lock is gone the same batch goes through.
        expect(store.applyBatch([rowOf(1, 0, 1, 2, "after"), rowOf(2, 0, 1, 3)])).toEqual([
          true,
          true,
        ]);
        expect(store.position(0)).toEqual({ term: 1, seq: 3 });
      });
    }
  });
}
