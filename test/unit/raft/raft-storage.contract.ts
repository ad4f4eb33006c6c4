// The contract every Raft log store must meet (style.md B10.2, after hono's common.case
// tests): the in-memory store runs it here, the sqlite store (next issue) runs the same suite.
import { expect, test } from "bun:test";
import type {
  ConfState, Entry, HardState, RaftStorage, Snapshot,
} from "../../../lib/raft/index.ts";

/** What a shell writes from each Ready, besides the read-only view the core reads. */
export interface WritableRaftStorage extends RaftStorage {
  append(entries: Entry[]): void;
  setHardState(state: HardState): void;
  applySnapshot(snapshot: Snapshot): void;
  createSnapshot(index: number, confState: ConfState, data: string): Snapshot;
  compact(index: number): void;
}

const entries = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    term, index: from + i, type: "normal" as const, data: `e${from + i}`,
  }));

export function runRaftStorageContract(name: string, open: () => WritableRaftStorage): void {
  test(`${name}: an empty store holds nothing but the zero snapshot`, () => {
    const store = open();
    expect(store.initialState()).toEqual({
      hardState: { term: 0, vote: 0, commit: 0 }, confState: { voters: [] },
    });
    expect([store.firstIndex(), store.lastIndex()]).toEqual([1, 0]);
    expect(store.term(0)).toBe(0);
    expect(store.term(1)).toBeNull();
  });

  test(`${name}: append, read back, and replace a suffix`, () => {
    const store = open();
    store.append(entries(1, 5, 1));
    expect(store.entries(2, 4)).toEqual(entries(2, 3, 1));
    store.append(entries(4, 6, 2));
    expect(store.lastIndex()).toBe(6);
    expect(store.entries(1, 7)).toEqual([...entries(1, 3, 1), ...entries(4, 6, 2)]);
    expect([store.term(3), store.term(4), store.term(7)]).toEqual([1, 2, null]);
  });

  test(`${name}: maxBytes limits a read, but never below one entry`, () => {
    const store = open();
    store.append(entries(1, 10, 1));
    expect(store.entries(1, 11, 1)).toHaveLength(1);
    expect(store.entries(1, 11, 100).length).toBeLessThan(10);
    expect(store.entries(1, 11)).toHaveLength(10);
  });

  test(`${name}: the hard state is kept`, () => {
    const store = open();
    store.append(entries(1, 3, 2));
    store.setHardState({ term: 5, vote: 2, commit: 3 });
    expect(store.initialState().hardState).toEqual({ term: 5, vote: 2, commit: 3 });
  });

  test(`${name}: a snapshot taken at an index compacts the log before it`, () => {
    const store = open();
    store.append(entries(1, 6, 1));
    const snapshot = store.createSnapshot(4, { voters: [1, 2] }, "state");
    expect(snapshot.meta).toEqual({ index: 4, term: 1, confState: { voters: [1, 2] } });
    store.compact(4);
    expect([store.firstIndex(), store.lastIndex()]).toEqual([5, 6]);
    expect(store.term(4)).toBe(1);
    expect(store.term(3)).toBeNull();
    expect(store.entries(5, 7)).toEqual(entries(5, 6, 1));
    expect(store.snapshot()).toEqual(snapshot);
    expect(store.initialState().confState).toEqual({ voters: [1, 2] });
  });

  test(`${name}: a snapshot from the leader replaces the whole log`, () => {
    const store = open();
    store.append(entries(1, 3, 1));
    const snapshot: Snapshot = {
      meta: { index: 10, term: 3, confState: { voters: [1] } }, data: "s",
    };
    store.applySnapshot(snapshot);
    expect([store.firstIndex(), store.lastIndex(), store.term(10)]).toEqual([11, 10, 3]);
    store.append(entries(11, 12, 3));
    expect(store.entries(11, 13)).toEqual(entries(11, 12, 3));
    expect(store.snapshot()).toEqual(snapshot);
  });
}
