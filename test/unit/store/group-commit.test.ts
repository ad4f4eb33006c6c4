// GroupCommitter: batching of concurrent submits, the batch bound, submit order, per-row applied
// flags and the sticky failure path, over a real KvStore wrapped to count transactions.

import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GroupCommitter,
  KvStore,
  type BatchApplier,
  type CommitScheduling,
  type StoredRow,
} from "../../../lib/store/index.ts";
import { AssertionError, KvError, StorageError } from "../../../lib/util/errors.ts";
import { keyOf, rowOf } from "./rows.ts";

// Records every applyBatch call (one per transaction) and can fail chosen calls.
class CountingStore implements BatchApplier {
  readonly batches: StoredRow[][] = [];
  failOnCall: number | undefined;
  constructor(readonly store: KvStore) {}
  applyBatch(rows: readonly StoredRow[]): boolean[] {
    this.batches.push([...rows]);
    if (this.failOnCall === this.batches.length) {
      throw new StorageError("injected: disk I/O error");
    }
    return this.store.applyBatch(rows);
  }
}

const stores: KvStore[] = [];
const tempDirs: string[] = [];
function openCounting(path = ":memory:", busyTimeoutMs?: number): CountingStore {
  const store = KvStore.open(path, busyTimeoutMs === undefined ? {} : { busyTimeoutMs });
  stores.push(store);
  return new CountingStore(store);
}
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("GroupCommitter", () => {
  for (const scheduling of ["immediate", "microtask"] as CommitScheduling[]) {
    test(`submits made in one turn share one transaction (${scheduling})`, async () => {
      const counting = openCounting();
      const committer = new GroupCommitter(counting, { scheduling });
      const results = Array.from({ length: 500 }, (_, i) =>
        committer.submit(rowOf(i, i % 8, 1, i + 1)),
      );
      expect(committer.pendingCount).toBe(500);
      expect(await Promise.all(results)).toEqual(new Array(500).fill(true));
      expect(counting.batches.length).toBe(1);
      expect(counting.store.countLive()).toBe(500);
      expect(committer.stats()).toEqual({ batchCount: 1, rowCount: 500 });
      expect(committer.pendingCount).toBe(0);
    });
  }

  test("64 concurrent writers need far fewer transactions than writes", async () => {
    const counting = openCounting();
    const committer = new GroupCommitter(counting);
    const writesPerWriter = 20;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; i < writesPerWriter; i++) {
        const n = w * 1000 + i;
        expect(await committer.submit(rowOf(n, w % 4, 1, n + 1))).toBe(true);
      }
    };
    await Promise.all(Array.from({ length: 64 }, (_, w) => writer(w)));
    expect(counting.store.countLive()).toBe(64 * writesPerWriter);
    // Each round of the 64 writers lands in one batch: 20 transactions for 1280 writes.
    expect(counting.batches.length).toBeLessThanOrEqual(2 * writesPerWriter);
    expect(committer.stats().rowCount).toBe(64 * writesPerWriter);
  });

  test("a batch holds at most batchRowsMax rows and batches keep submit order", async () => {
    const counting = openCounting();
    const committer = new GroupCommitter(counting, { batchRowsMax: 100 });
    const results = Array.from({ length: 250 }, (_, i) => committer.submit(rowOf(i, 0, 1, i + 1)));
    await Promise.all(results);
    expect(counting.batches.map((batch) => batch.length)).toEqual([100, 100, 50]);
    const order = counting.batches.flat().map((row) => row.seq);
    expect(order).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(counting.store.position(0)).toEqual({ term: 1, seq: 250 });
  });

  test("each submit resolves with whether its row was newer", async () => {
    const counting = openCounting();
    counting.store.applyBatch([rowOf(1, 0, 2, 1, "stored")]);
    const committer = new GroupCommitter(counting);
    const stale = committer.submit(rowOf(1, 0, 1, 9, "stale"));
    const fresh = committer.submit(rowOf(2, 0, 2, 2));
    const again = committer.submit(rowOf(2, 0, 2, 2));
    expect([await stale, await fresh, await again]).toEqual([false, true, false]);
    expect(counting.store.get(keyOf(1))?.value).toBe("stored");
  });

  test("a malformed row fails its own submit, not the batch", async () => {
    const counting = openCounting();
    const committer = new GroupCommitter(counting);
    const good = committer.submit(rowOf(1, 0, 1, 1));
    expect(() => committer.submit(rowOf(2, 0, 0, 1))).toThrow(AssertionError);
    expect(await good).toBe(true);
    expect(counting.batches).toEqual([[rowOf(1, 0, 1, 1)]]);
  });

  test("a failed batch rejects its rows, every pending row and every later submit", async () => {
    const counting = openCounting();
    counting.failOnCall = 2;
    const committer = new GroupCommitter(counting, { batchRowsMax: 2 });
    const results = Array.from({ length: 6 }, (_, i) => committer.submit(rowOf(i, 0, 1, i + 1)));
    const settled = await Promise.allSettled(results);
    expect(settled.map((s) => s.status)).toEqual([
      "fulfilled", "fulfilled", "rejected", "rejected", "rejected", "rejected",
    ]);
    const reasons = settled.flatMap((s) => (s.status === "rejected" ? [s.reason] : []));
    expect(reasons.every((reason) => reason instanceof StorageError)).toBe(true);
    expect(new Set(reasons).size).toBe(1);
    // The third batch was never tried: nothing is retried after a storage failure.
    expect(counting.batches.length).toBe(2);
    expect(counting.store.countLive()).toBe(2);
    await expect(committer.submit(rowOf(9, 0, 2, 1))).rejects.toBe(reasons[0]);
  });

  test("a real sqlite failure reaches the submitters as StorageError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "warehouse-gc-"));
    tempDirs.push(dir);
    const path = join(dir, "node.sqlite");
    const counting = openCounting(path, 0);
    const committer = new GroupCommitter(counting);
    const other = new Database(path);
    other.run("BEGIN IMMEDIATE");
    let settled: PromiseSettledResult<boolean>[];
    try {
      const results = [committer.submit(rowOf(1, 0, 1, 1)), committer.submit(rowOf(2, 0, 1, 2))];
      settled = await Promise.allSettled(results);
    } finally {
      other.run("ROLLBACK");
      other.close();
    }
    for (const result of settled) {
      expect(result.status).toBe("rejected");
      if (result.status === "rejected") expect(result.reason).toBeInstanceOf(StorageError);
    }
    expect(counting.store.countLive()).toBe(0);
  });

  test("flush commits now and close refuses later submits", async () => {
    const counting = openCounting();
    const committer = new GroupCommitter(counting);
    const first = committer.submit(rowOf(1, 0, 1, 1));
    committer.flush();
    expect(counting.batches.length).toBe(1);
    expect(counting.store.get(keyOf(1))).toEqual(rowOf(1, 0, 1, 1));
    const second = committer.submit(rowOf(2, 0, 1, 2));
    committer.close();
    expect([await first, await second]).toEqual([true, true]);
    const refused = committer.submit(rowOf(3, 0, 1, 3));
    await expect(refused).rejects.toBeInstanceOf(KvError);
    await expect(refused).rejects.toMatchObject({ code: "CLOSED" });
    expect(counting.batches.length).toBe(2);
  });
});
