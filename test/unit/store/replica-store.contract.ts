// The ReplicaStorage contract (lib/store/replica-types.ts), written once and run against the
// in-memory reference store and sqlite (in memory and in a file, reopened). The last test
// drives random appends, truncations and trims and checks the first invariant of the
// contract after every commit: the rows are exactly the base state with the log applied.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type {
  ChangeRecord,
  DataRow,
  ReplicaStorage,
  ReplicaWrite,
} from "../../../lib/store/replica-types.ts";
import { AssertionError } from "../../../lib/util/errors.ts";
import { keyOf } from "./rows.ts";

export interface ReplicaStoreFixture {
  readonly name: string;
  open(): ReplicaStorage;
  /** Closes the store and opens the same database again. */
  readonly reopen?: (store: ReplicaStorage) => ReplicaStorage;
  readonly cleanup?: () => void;
}

const P = 3;

function change(seq: number, epoch: number, n: number, value: string | null): ChangeRecord {
  return { seq, epoch, key: keyOf(n), value, writer: `c:${seq}` };
}

function append(...changes: ChangeRecord[]): ReplicaWrite {
  return { type: "append", partition: P, changes };
}

function values(store: ReplicaStorage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const row of store.rowsAfter(P, "", 10_000)) out[row.key] = row.value;
  return out;
}

export function replicaStoreContract(fixture: ReplicaStoreFixture): void {
  describe(`ReplicaStorage contract (${fixture.name})`, () => {
    let store: ReplicaStorage;
    beforeEach(() => {
      store = fixture.open();
    });
    afterEach(() => {
      store.close();
      fixture.cleanup?.();
    });

    test("readTogether returns what its reads return, the same as reads outside it", () => {
      store.commit([append(change(1, 1, 1, "a"), change(2, 1, 2, "b"))]);
      const inside = store.readTogether(() => [store.get(P, keyOf(1)), store.get(P, keyOf(2))]);
      expect(inside).toEqual([store.get(P, keyOf(1)), store.get(P, keyOf(2))]);
      expect(inside.map((row) => row?.value)).toEqual(["a", "b"]);
      // The store commits as before once the batch is over.
      store.commit([append(change(3, 1, 1, "c"))]);
      expect(store.get(P, keyOf(1))?.value).toBe("c");
    });

    test("a partition never written is empty at position zero, fenced at 0", () => {
      expect(store.summary(P)).toEqual({
        base: { epoch: 0, seq: 0 },
        last: { epoch: 0, seq: 0 },
        epochs: [],
        isCopying: false,
      });
      expect(store.fencedEpoch(P)).toBe(0);
      expect(store.get(P, keyOf(1))).toBeUndefined();
    });

    test("the fenced epoch only grows", () => {
      store.commit([{ type: "fence", partition: P, epoch: 5 }]);
      store.commit([{ type: "fence", partition: P, epoch: 3 }]);
      expect(store.fencedEpoch(P)).toBe(5);
      expect(store.fencedEpoch(P + 1)).toBe(0);
    });

    test("appends report each change's outcome and set rows and versions", () => {
      const outcome = store.commit([
        append(change(1, 1, 1, "a"), change(2, 1, 1, "b"), change(3, 1, 2, null)),
        append(change(4, 2, 1, null)),
      ]);
      expect(outcome.statuses).toEqual([["created", "updated", "not_found"], ["deleted"]]);
      expect(store.get(P, keyOf(1))).toBeUndefined();
      store.commit([append(change(5, 2, 2, "c"))]);
      expect(store.get(P, keyOf(2))).toEqual({
        key: keyOf(2),
        partition: P,
        seq: 5,
        epoch: 2,
        value: "c",
        writer: "c:5",
      } satisfies DataRow);
      expect(store.summary(P)).toEqual({
        base: { epoch: 0, seq: 0 },
        last: { epoch: 2, seq: 5 },
        epochs: [
          { epoch: 1, seq: 1 },
          { epoch: 2, seq: 4 },
        ],
        isCopying: false,
      });
      expect(store.changesAfter(P, 2, 2).map((c) => [c.seq, c.status])).toEqual([
        [3, "not_found"],
        [4, "deleted"],
      ]);
      expect(store.changeByWriter(P, keyOf(1), "c:2")?.status).toBe("updated");
      // A retry names its key: the same writer on another key is another request.
      expect(store.changeByWriter(P, keyOf(2), "c:2")).toBeUndefined();
      expect(store.changeByWriter(P, keyOf(1), "c:99")).toBeUndefined();
      expect(store.countRows(P)).toBe(1);
    });

    test("deadlines: rows and changes keep expiresAt, truncation and copies restore it", () => {
      const ttl = (seq: number, n: number, value: string, expiresAt: number): ChangeRecord => ({
        ...change(seq, 1, n, value),
        expiresAt,
      });
      store.commit([append(ttl(1, 1, "a", 500), ttl(2, 2, "b", 700), change(3, 1, 3, "c"))]);
      expect(store.get(P, keyOf(1))?.expiresAt).toBe(500);
      expect(store.get(P, keyOf(3))).not.toHaveProperty("expiresAt");
      expect(store.expiringAfter(P, "", 10).map((r) => [r.key, r.expiresAt])).toEqual(
        [[keyOf(1), 500], [keyOf(2), 700]].sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1),
      );
      expect(store.changesAfter(P, 0, 1)).toEqual([{ ...ttl(1, 1, "a", 500), status: "created" }]);
      // Overwritten without a TTL, then truncated: the deadline comes back with the old value.
      store.commit([append(change(4, 1, 1, "no ttl"))]);
      expect(store.expiringAfter(P, "", 10).map((r) => r.key)).toEqual([keyOf(2)]);
      store.commit([{ type: "truncate", partition: P, afterSeq: 3 }]);
      expect(store.get(P, keyOf(1))).toMatchObject({ value: "a", expiresAt: 500 });
      const rows = store.rowsAfter(P, "", 10);
      // A full copy (here of the partition's own rows) carries the deadlines.
      store.commit([{ type: "copy-start", partition: P, base: { epoch: 1, seq: 3 } }]);
      expect(store.expiringAfter(P, "", 10)).toEqual([]);
      store.commit([{ type: "copy-rows", partition: P, rows }, { type: "copy-end", partition: P }]);
      expect(store.expiringAfter(P, "", 10).map((r) => r.expiresAt).sort()).toEqual([500, 700]);
    });

    test("a key's changes after a seq: only that key's, in order, within the limit", () => {
      store.commit([
        append(change(1, 1, 1, "a"), change(2, 1, 2, "x"), change(3, 1, 1, null)),
        append(change(4, 2, 1, "b"), change(5, 2, 1, "c")),
      ]);
      const seqs = (after: number, limit: number) =>
        store.keyChangesAfter(P, keyOf(1), after, limit).map((c) => [c.seq, c.value, c.status]);
      expect(seqs(0, 10)).toEqual([
        [1, "a", "created"],
        [3, null, "deleted"],
        [4, "b", "created"],
        [5, "c", "updated"],
      ]);
      expect(seqs(3, 1)).toEqual([[4, "b", "created"]]);
      expect(seqs(5, 10)).toEqual([]);
      expect(store.keyChangesAfter(P, keyOf(9), 0, 10)).toEqual([]);
      store.commit([{ type: "trim", partition: P, uptoSeq: 3 }]);
      expect(seqs(0, 10).map(([seq]) => seq)).toEqual([4, 5]);
    });

    test("an append that does not continue the log is refused with nothing written", () => {
      store.commit([append(change(1, 1, 1, "a"))]);
      expect(() => store.commit([append(change(2, 1, 2, "b")), append(change(4, 1, 3, "c"))]))
        .toThrow(AssertionError);
      expect(() => store.commit([append(change(2, 0, 2, "b"))])).toThrow(AssertionError);
      expect(store.summary(P).last).toEqual({ epoch: 1, seq: 1 });
      expect(store.get(P, keyOf(2))).toBeUndefined();
    });

    test("truncation puts back what the undone changes replaced", () => {
      store.commit([append(change(1, 1, 1, "a"), change(2, 1, 2, "x"))]);
      store.commit([
        append(change(3, 2, 1, "b"), change(4, 2, 2, null), change(5, 2, 3, "new")),
      ]);
      store.commit([{ type: "truncate", partition: P, afterSeq: 2 }]);
      expect(values(store)).toEqual({ [keyOf(1)]: "a", [keyOf(2)]: "x" });
      expect(store.get(P, keyOf(1))?.seq).toBe(1);
      expect(store.summary(P).last).toEqual({ epoch: 1, seq: 2 });
      expect(store.summary(P).epochs).toEqual([{ epoch: 1, seq: 1 }]);
      // The log continues from the truncation point, in a new epoch.
      store.commit([append(change(3, 3, 3, "z"))]);
      expect(store.summary(P).last).toEqual({ epoch: 3, seq: 3 });
    });

    test("trimming moves the base and keeps the rows", () => {
      store.commit([append(change(1, 1, 1, "a"), change(2, 1, 2, "b"), change(3, 2, 1, "c"))]);
      store.commit([{ type: "trim", partition: P, uptoSeq: 2 }]);
      expect(store.summary(P)).toEqual({
        base: { epoch: 1, seq: 2 },
        last: { epoch: 2, seq: 3 },
        epochs: [{ epoch: 2, seq: 3 }],
        isCopying: false,
      });
      expect(store.changesAfter(P, 0, 10).map((c) => c.seq)).toEqual([3]);
      expect(values(store)).toEqual({ [keyOf(1)]: "c", [keyOf(2)]: "b" });
      expect(() => store.commit([{ type: "truncate", partition: P, afterSeq: 1 }])).toThrow(
        AssertionError,
      );
    });

    test("trimming inside an epoch starts it at the first change kept, also once reopened", () => {
      store.commit([append(change(1, 1, 1, "a"), change(2, 1, 2, "b"), change(3, 2, 3, "c"))]);
      store.commit([append(change(4, 2, 4, "d"), change(5, 2, 5, "e"), change(6, 4, 6, "f"))]);
      store.commit([{ type: "trim", partition: P, uptoSeq: 3 }]);
      const expected = {
        base: { epoch: 2, seq: 3 },
        last: { epoch: 4, seq: 6 },
        epochs: [{ epoch: 2, seq: 4 }, { epoch: 4, seq: 6 }],
        isCopying: false,
      };
      expect(store.summary(P)).toEqual(expected);
      if (fixture.reopen !== undefined) store = fixture.reopen(store);
      expect(store.summary(P)).toEqual(expected);
      store.commit([{ type: "trim", partition: P, uptoSeq: 6 }]);
      expect(store.summary(P)).toEqual({
        base: { epoch: 4, seq: 6 }, last: { epoch: 4, seq: 6 }, epochs: [], isCopying: false,
      });
    });

    test("a full copy replaces the partition and the log continues after its base", () => {
      store.commit([append(change(1, 1, 1, "old"))]);
      const base = { epoch: 4, seq: 40 };
      const row: DataRow = { key: keyOf(7), partition: P, seq: 33, epoch: 3, value: "v", writer: null };
      store.commit([{ type: "copy-start", partition: P, base }]);
      expect(store.summary(P).isCopying).toBe(true);
      expect(() => store.commit([append(change(41, 4, 1, "x"))])).toThrow(AssertionError);
      store.commit([{ type: "copy-rows", partition: P, rows: [row] }]);
      store.commit([{ type: "copy-end", partition: P }]);
      expect(values(store)).toEqual({ [keyOf(7)]: "v" });
      expect(store.summary(P)).toEqual({ base, last: base, epochs: [], isCopying: false });
      store.commit([append(change(41, 4, 1, "x"))]);
      expect(store.summary(P).last).toEqual({ epoch: 4, seq: 41 });
    });

    test("drop forgets the rows and the log but not the fence", () => {
      store.commit([{ type: "fence", partition: P, epoch: 2 }, append(change(1, 2, 1, "a"))]);
      store.commit([{ type: "drop", partition: P }]);
      expect(values(store)).toEqual({});
      expect(store.summary(P).last).toEqual({ epoch: 0, seq: 0 });
      expect(store.fencedEpoch(P)).toBe(2);
    });

    if (fixture.reopen !== undefined) {
      const reopen = fixture.reopen;
      test("everything committed survives a reopen", () => {
        store.commit([
          { type: "fence", partition: P, epoch: 7 },
          append(change(1, 6, 1, "a"), change(2, 7, 2, "b")),
          { type: "trim", partition: P, uptoSeq: 1 },
        ]);
        const before = { summary: store.summary(P), rows: values(store) };
        store = reopen(store);
        expect(store.summary(P)).toEqual(before.summary);
        expect(values(store)).toEqual(before.rows);
        expect(store.fencedEpoch(P)).toBe(7);
      });
    }

    test("the rows changed after a seq come back as they were at it, within a key range", () => {
      store.commit([append(change(1, 1, 1, "a"), change(2, 1, 2, "b"), change(3, 1, 3, "c"))]);
      // After seq 3: key 1 updated twice, key 2 deleted, key 4 created, key 3 untouched.
      store.commit([
        append(change(4, 2, 1, "a2"), change(5, 2, 2, null), change(6, 2, 4, "d")),
        append(change(7, 2, 1, "a3")),
      ]);
      const at3 = store.rowsBeforeChangesAfter(P, 3, "", null);
      expect([...at3.keys()].sort()).toEqual([keyOf(1), keyOf(2), keyOf(4)]);
      expect(at3.get(keyOf(1))).toMatchObject({ value: "a", seq: 1, epoch: 1, writer: "c:1" });
      expect(at3.get(keyOf(2))).toMatchObject({ key: keyOf(2), partition: P, value: "b", seq: 2 });
      expect(at3.has(keyOf(4))).toBe(true);
      expect(at3.get(keyOf(4))).toBeUndefined();
      // At seq 5 key 1 held a2 (its first later change is seq 7); keys 2 and 4 did not change.
      expect(store.rowsBeforeChangesAfter(P, 5, "", null).get(keyOf(1))?.value).toBe("a2");
      expect([...store.rowsBeforeChangesAfter(P, 6, "", null).keys()]).toEqual([keyOf(1)]);
      // The range is (afterKey, uptoKey].
      const range = store.rowsBeforeChangesAfter(P, 3, keyOf(1), keyOf(2));
      expect([...range.keys()]).toEqual([keyOf(2)]);
      expect(store.rowsBeforeChangesAfter(P + 1, 0, "", null).size).toBe(0);
    });

    test("random appends, truncations and trims keep rows equal to the log applied", () => {
      let seed = 12345;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed % n;
      };
      // The model: the full history of committed changes; rows = replay of it.
      const history: ChangeRecord[] = [];
      let epoch = 1;
      let mostEpochs = 0;
      for (let round = 0; round < 200; round++) {
        const { base, last } = store.summary(P);
        const choice = random(10);
        if (choice < 6) {
          if (random(5) === 0) epoch++;
          const count = 1 + random(4);
          const changes = Array.from({ length: count }, (_, i) =>
            change(last.seq + 1 + i, epoch, random(8), random(3) === 0 ? null : `v${round}.${i}`),
          );
          store.commit([append(...changes)]);
          history.push(...changes);
        } else if (choice < 9) {
          const afterSeq = base.seq + random(last.seq - base.seq + 1);
          store.commit([{ type: "truncate", partition: P, afterSeq }]);
          history.splice(afterSeq);
        } else {
          const uptoSeq = base.seq + random(last.seq - base.seq + 1);
          store.commit([{ type: "trim", partition: P, uptoSeq }]);
        }
        const expected: Record<string, string> = {};
        for (const c of history) {
          if (c.value === null) delete expected[c.key];
          else expected[c.key] = c.value;
        }
        expect(values(store)).toEqual(expected);
        const summary = store.summary(P);
        expect(summary.last.seq).toBe(history.length);
        // The epoch starts of what the log retains, which trims and truncations both move.
        const epochs: { epoch: number; seq: number }[] = [];
        for (const c of history.slice(summary.base.seq)) {
          const top = epochs[epochs.length - 1];
          if (top?.epoch !== c.epoch) epochs.push({ epoch: c.epoch, seq: c.seq });
        }
        expect(summary.epochs).toEqual(epochs);
        mostEpochs = Math.max(mostEpochs, epochs.length);
        // A store opened on the file reads the same summary back from the log.
        if (fixture.reopen !== undefined && round % 10 === 9) {
          store = fixture.reopen(store);
          expect(store.summary(P)).toEqual(summary);
        }
      }
      expect(mostEpochs).toBeGreaterThan(2);
    });
  });
}
