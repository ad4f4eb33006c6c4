// The Raft storage contract: what the core reads through RaftStorage (lib/raft/types.ts) after
// the shell's writes (append, setHardState, applySnapshot, compact), written once and run
// against every implementation (the sqlite store, in memory and in a file that is reopened;
// the core's MemoryStorage through adaptSaveCompaction). The last test drives random writes and
// compares every read with a plain model of a Raft log.
//
// entries()' maxBytes counts an entry as its data length plus 32 (sizeOf below): the measure
// the core's MemoryStorage uses, and so part of the contract.

import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  RaftStorage,
  Snapshot,
} from "../../../lib/raft/types.ts";

/** The writes the shell makes from a Ready, besides what the core reads. */
export interface WritableRaftStorage extends RaftStorage {
  /** An entry whose index is already stored replaces it and every later one. */
  append(entries: Entry[]): void;
  setHardState(hardState: HardState): void;
  /** Replaces everything with a snapshot from the leader; an older one is ignored. */
  applySnapshot(snapshot: Snapshot): void;
  /** Stores a snapshot the application took at an index of the log and drops what it covers. */
  compact(snapshot: Snapshot): void;
  close?(): void;
}

export interface RaftStorageFixture {
  readonly name: string;
  open(): WritableRaftStorage;
  /** Closes the store and opens the same database again. */
  readonly reopen?: (store: WritableRaftStorage) => WritableRaftStorage;
  readonly cleanup?: () => void;
}

/** The write API of the core's MemoryStorage, whose compaction write is `saveCompaction`. */
export interface SaveCompactionStorage extends RaftStorage {
  append(entries: Entry[]): void;
  setHardState(hardState: HardState): void;
  applySnapshot(snapshot: Snapshot): void;
  saveCompaction(snapshot: Snapshot): void;
}

/** Runs the contract on a store shaped like MemoryStorage: `open: () => adapt(new M())`. */
export function adaptSaveCompaction(store: SaveCompactionStorage): WritableRaftStorage {
  return {
    initialState: () => store.initialState(),
    entries: (lo, hi, maxBytes) => store.entries(lo, hi, maxBytes),
    term: (index) => store.term(index),
    firstIndex: () => store.firstIndex(),
    lastIndex: () => store.lastIndex(),
    snapshot: () => store.snapshot(),
    append: (entries) => store.append(entries),
    setHardState: (hardState) => store.setHardState(hardState),
    applySnapshot: (snapshot) => store.applySnapshot(snapshot),
    compact: (snapshot) => store.saveCompaction(snapshot),
  };
}

export function sizeOf(entry: Entry): number {
  return entry.data.length + 32;
}

function entry(index: number, term: number, data = `e${index}.${term}`): Entry {
  const type: EntryType = index % 7 === 0 ? "conf-change" : "normal";
  return { index, term, type, data };
}

function run(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push(entry(index, term));
  return out;
}

function snapshotAt(index: number, term: number, voters: number[], data = `s${index}`): Snapshot {
  return { meta: { index, term, confState: { voters } }, data };
}

export function raftStorageContract(fixture: RaftStorageFixture): void {
  describe(`RaftStorage contract (${fixture.name})`, () => {
    let store: WritableRaftStorage;
    beforeEach(() => {
      store = fixture.open();
    });
    afterEach(() => {
      store.close?.();
      fixture.cleanup?.();
    });
    /** Reopens when the fixture can, so what follows runs on what was reloaded. */
    const reopened = (): WritableRaftStorage => {
      if (fixture.reopen !== undefined) store = fixture.reopen(store);
      return store;
    };
    /** Runs `check` on the store, then (when the fixture can reopen) on the reopened store. */
    const checkTwice = (check: (s: WritableRaftStorage) => void): void => {
      check(store);
      if (fixture.reopen !== undefined) check(reopened());
    };

    test("an empty store: first index 1, last index 0, term(0) = 0, the zero snapshot", () => {
      checkTwice((s) => {
        expect(s.firstIndex()).toBe(1);
        expect(s.lastIndex()).toBe(0);
        expect(s.term(0)).toBe(0);
        expect(s.term(1)).toBeNull();
        expect(s.entries(1, 1)).toEqual([]);
        expect(s.snapshot()).toEqual(snapshotAt(0, 0, [], ""));
        expect(s.initialState()).toEqual({
          hardState: { term: 0, vote: 0, commit: 0 },
          confState: { voters: [] },
        });
      });
    });

    test("appended entries read back in ranges, with their terms", () => {
      const log = [...run(1, 3, 1), ...run(4, 6, 2)];
      store.append(log);
      checkTwice((s) => {
        expect(s.firstIndex()).toBe(1);
        expect(s.lastIndex()).toBe(6);
        expect(s.entries(1, 7)).toEqual(log);
        expect(s.entries(3, 5)).toEqual(log.slice(2, 4));
        expect(s.entries(4, 4)).toEqual([]);
        expect([0, 1, 3, 4, 6, 7].map((i) => s.term(i))).toEqual([0, 1, 1, 2, 2, null]);
      });
    });

    test("an append at a stored index replaces that entry and every later one", () => {
      store.append(run(1, 5, 1));
      store.append([entry(3, 2), entry(4, 2)]);
      checkTwice((s) => {
        expect(s.lastIndex()).toBe(4);
        expect(s.entries(1, 5)).toEqual([...run(1, 2, 1), entry(3, 2), entry(4, 2)]);
        expect(s.term(5)).toBeNull();
      });
      // Appending right after the last entry keeps everything before it.
      store.append([entry(5, 3)]);
      expect(store.entries(1, 6)).toEqual([...run(1, 2, 1), entry(3, 2), entry(4, 2), entry(5, 3)]);
      store.append([]);
      expect(store.lastIndex()).toBe(5);
    });

    test("maxBytes cuts a range after the entries that fit, but never below one entry", () => {
      const log = [1, 2, 3, 4].map((i) => entry(i, 1, "x".repeat(i * 10)));
      store.append(log);
      const [a, b, c] = log.map(sizeOf) as [number, number, number];
      expect(store.entries(1, 5, 0)).toEqual(log.slice(0, 1));
      expect(store.entries(1, 5, a - 1)).toEqual(log.slice(0, 1));
      expect(store.entries(1, 5, a + b - 1)).toEqual(log.slice(0, 1));
      expect(store.entries(1, 5, a + b)).toEqual(log.slice(0, 2));
      expect(store.entries(1, 5, a + b + c)).toEqual(log.slice(0, 3));
      expect(store.entries(2, 5, b)).toEqual(log.slice(1, 2));
      expect(store.entries(1, 5, 1_000_000)).toEqual(log);
      expect(store.entries(1, 5)).toEqual(log);
    });

    test("compaction keeps the snapshot's term at its index and drops the entries below", () => {
      store.append([...run(1, 4, 1), ...run(5, 10, 2)]);
      store.setHardState({ term: 2, vote: 1, commit: 8 });
      const snapshot = snapshotAt(6, 2, [1, 2, 3]);
      store.compact(snapshot);
      checkTwice((s) => {
        expect(s.firstIndex()).toBe(7);
        expect(s.lastIndex()).toBe(10);
        expect(s.term(6)).toBe(2);
        expect([0, 1, 5].map((i) => s.term(i))).toEqual([null, null, null]);
        expect(s.entries(7, 11)).toEqual(run(7, 10, 2));
        expect(() => s.entries(6, 11)).toThrow(/compacted/);
        expect(() => s.entries(1, 3)).toThrow(/compacted/);
        expect(s.snapshot()).toEqual(snapshot);
        expect(s.initialState()).toEqual({
          hardState: { term: 2, vote: 1, commit: 8 },
          confState: { voters: [1, 2, 3] },
        });
      });
      // An older compaction changes nothing; the log still grows and is overwritten above it.
      store.compact(snapshotAt(4, 1, [1]));
      expect(store.snapshot()).toEqual(snapshot);
      store.append([entry(9, 3), entry(10, 3), entry(11, 3)]);
      expect(store.entries(7, 12)).toEqual([...run(7, 8, 2), ...run(9, 11, 3)]);
    });

    test("compaction at the last index leaves an empty log that appends continue", () => {
      store.append(run(1, 5, 2));
      store.compact(snapshotAt(5, 2, [1]));
      checkTwice((s) => {
        expect(s.firstIndex()).toBe(6);
        expect(s.lastIndex()).toBe(5);
        expect(s.term(5)).toBe(2);
        expect(s.term(4)).toBeNull();
        expect(s.entries(6, 6)).toEqual([]);
      });
      store.append([entry(6, 3)]);
      expect(store.entries(6, 7)).toEqual([entry(6, 3)]);
    });

    test("a snapshot from the leader replaces the whole log, past or inside it", () => {
      store.append(run(1, 5, 1));
      const beyond = snapshotAt(20, 3, [2, 5]);
      store.applySnapshot(beyond);
      checkTwice((s) => {
        expect(s.firstIndex()).toBe(21);
        expect(s.lastIndex()).toBe(20);
        expect(s.term(20)).toBe(3);
        expect(s.term(5)).toBeNull();
        expect(s.snapshot()).toEqual(beyond);
        expect(s.initialState().confState).toEqual({ voters: [2, 5] });
      });
      store.append(run(21, 23, 3));
      const inside = snapshotAt(22, 4, [2]);
      store.applySnapshot(inside);
      checkTwice((s) => {
        expect(s.lastIndex()).toBe(22);
        expect(s.term(22)).toBe(4);
        expect(s.term(23)).toBeNull();
        expect(s.snapshot()).toEqual(inside);
      });
      // A snapshot no newer than the stored one is stale and ignored.
      store.append([entry(23, 4)]);
      store.applySnapshot(snapshotAt(21, 3, [9]));
      expect(store.snapshot()).toEqual(inside);
      expect(store.entries(23, 24)).toEqual([entry(23, 4)]);
    });

    test("appended entries that a snapshot already covers are skipped", () => {
      store.applySnapshot(snapshotAt(10, 2, [1]));
      store.append(run(8, 12, 2));
      expect(store.firstIndex()).toBe(11);
      expect(store.lastIndex()).toBe(12);
      expect(store.entries(11, 13)).toEqual(run(11, 12, 2));
      store.append(run(5, 9, 2));
      expect(store.lastIndex()).toBe(12);
    });

    test("the hard state round-trips and later writes replace it", () => {
      store.append(run(1, 4, 3));
      store.setHardState({ term: 3, vote: 2, commit: 1 });
      expect(reopened().initialState().hardState).toEqual({ term: 3, vote: 2, commit: 1 });
      store.setHardState({ term: 5, vote: 0, commit: 4 });
      const read = reopened().initialState();
      expect(read.hardState).toEqual({ term: 5, vote: 0, commit: 4 });
      read.hardState.term = 99;
      expect(store.initialState().hardState.term).toBe(5);
    });

    test("random appends, overwrites, snapshots and hard states read like a plain model", () => {
      const seed = Number(process.env.SEED ?? "20261204");
      const random = seededRandom(seed);
      const model = new ModelLog();
      let checks = 0;
      for (let step = 0; step < 400; step++) {
        const op = model.randomWrite(random);
        try {
          applyTo(store, op);
          if (fixture.reopen !== undefined && random(25) === 0) reopened();
          checks += compareWithModel(store, model, random);
        } catch (error) {
          throw new Error(`seed ${seed}, step ${step}, ${JSON.stringify(op)}: ${error}`, {
            cause: error,
          });
        }
      }
      expect(checks).toBeGreaterThan(400);
    });
  });
}

// ---- the random test's model ------------------------------------------------------------

type Write =
  | { type: "append"; entries: Entry[] }
  | { type: "hard-state"; hardState: HardState }
  | { type: "apply-snapshot"; snapshot: Snapshot }
  | { type: "compact"; snapshot: Snapshot };

/** A Raft log kept as plainly as possible: every entry after the snapshot, in an array. */
class ModelLog {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot = snapshotAt(0, 0, [], "");
  log: Entry[] = [];
  private termMax = 1;

  lastIndex(): number {
    return this.snapshot.meta.index + this.log.length;
  }

  term(index: number): number | null {
    if (index === this.snapshot.meta.index) return this.snapshot.meta.term;
    return this.log[index - this.snapshot.meta.index - 1]?.term ?? null;
  }

  /**
   * A write the core could make: terms never decrease along the log, committed entries are
   * never overwritten, a leader's snapshot lies beyond the commit index and a compaction at
   * or below it. Now and then a stale snapshot or entries a snapshot already covers.
   */
  randomWrite(random: (n: number) => number): Write {
    if (random(4) === 0) this.termMax += 1;
    const choice = random(20);
    const snapIndex = this.snapshot.meta.index;
    const commit = this.hardState.commit;
    const last = this.lastIndex();
    const voters = [1 + random(3), 5 + random(3)];
    const stale = snapIndex >= 1 && random(5) === 0 ? 1 + random(snapIndex) : null;
    if (choice < 10) {
      const low = Math.max(snapIndex, commit) + 1;
      let start = low + random(last + 2 - low);
      // Entries from below the snapshot, as a leader may send them (never over committed ones).
      if (commit <= snapIndex && stale !== null) start = stale;
      const previous = this.term(start - 1) ?? this.snapshot.meta.term;
      let term = Math.max(1, previous, this.termMax - random(2));
      const entries: Entry[] = [];
      for (let i = 0, count = 1 + random(5); i < count; i++) {
        term += random(6) === 0 ? 1 : 0;
        this.termMax = Math.max(this.termMax, term);
        entries.push(entry(start + i, term, "d".repeat(random(40))));
      }
      return this.applied({ type: "append", entries });
    }
    const canCompact = commit > snapIndex;
    if (choice < 14 || (choice < 19 && !canCompact)) {
      const term = Math.max(this.hardState.term, this.termMax);
      const previous = this.hardState;
      // One vote per term: a cast vote stays until the term changes.
      const vote = term > previous.term || previous.vote === 0 ? random(3) : previous.vote;
      const hardState = { term, vote, commit: commit + random(last - commit + 1) };
      return this.applied({ type: "hard-state", hardState });
    }
    if (choice < 19) {
      const index = stale ?? snapIndex + 1 + random(commit - snapIndex);
      const term = this.term(index) ?? 1;
      return this.applied({ type: "compact", snapshot: snapshotAt(index, term, voters) });
    }
    const index = stale ?? Math.max(commit + 1, last - 3 + random(8));
    const term = Math.max(this.termMax, this.term(last) ?? 1);
    return this.applied({ type: "apply-snapshot", snapshot: snapshotAt(index, term, voters) });
  }

  /** The model's own semantics of each write. */
  private applied(write: Write): Write {
    const snapIndex = this.snapshot.meta.index;
    switch (write.type) {
      case "append": {
        const fresh = write.entries.filter((e) => e.index > snapIndex);
        const start = fresh[0];
        if (start === undefined) break;
        this.log = this.log.slice(0, start.index - snapIndex - 1).concat(fresh);
        break;
      }
      case "hard-state":
        this.hardState = { ...write.hardState };
        break;
      case "apply-snapshot":
        if (write.snapshot.meta.index <= snapIndex) break;
        this.snapshot = write.snapshot;
        this.log = [];
        if (this.hardState.commit > write.snapshot.meta.index) {
          throw new Error("the model made a snapshot below the commit index");
        }
        break;
      case "compact":
        if (write.snapshot.meta.index <= snapIndex) break;
        this.log = this.log.slice(write.snapshot.meta.index - snapIndex);
        this.snapshot = write.snapshot;
        break;
    }
    return write;
  }
}

function applyTo(store: WritableRaftStorage, write: Write): void {
  switch (write.type) {
    case "append":
      return store.append(write.entries);
    case "hard-state":
      return store.setHardState(write.hardState);
    case "apply-snapshot":
      return store.applySnapshot(write.snapshot);
    case "compact":
      return store.compact(write.snapshot);
  }
}

/** Checks every read against the model; returns how many checks it made. */
function compareWithModel(
  store: WritableRaftStorage,
  model: ModelLog,
  random: (n: number) => number,
): number {
  const first = model.snapshot.meta.index + 1;
  const last = model.lastIndex();
  expect(store.firstIndex()).toBe(first);
  expect(store.lastIndex()).toBe(last);
  for (let index = first - 3; index <= last + 2; index++) {
    const expected = index >= first - 1 ? model.term(index) : null;
    expect({ index, term: store.term(index) }).toEqual({ index, term: expected });
  }
  expect(store.entries(first, last + 1)).toEqual(model.log);
  const lo = first + random(last - first + 2);
  const hi = lo + random(last + 2 - lo);
  const maxBytes = random(200);
  const range = model.log.slice(lo - first, hi - first);
  expect(store.entries(lo, hi, maxBytes)).toEqual(cutAt(range, maxBytes));
  const confState: ConfState = model.snapshot.meta.confState;
  expect(store.initialState()).toEqual({ hardState: model.hardState, confState });
  expect(store.snapshot()).toEqual(model.snapshot);
  return 6;
}

function cutAt(entries: Entry[], maxBytes: number): Entry[] {
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    total += sizeOf(entries[i] as Entry);
    if (total > maxBytes && i > 0) return entries.slice(0, i);
  }
  return entries;
}

/** A small seeded generator (mulberry32): an integer in [0, n). */
function seededRandom(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.floor(unit * n);
  };
}
