// The simulation's checkers can fail: each is fed a violation of the property it guards.
import { expect, test } from "bun:test";
import { MemoryStorage, type Entry } from "../../lib/raft/index.ts";
import { RaftCheckers } from "./checkers.ts";

const entry = (index: number, term: number, data: string): Entry =>
  ({ index, term, type: "normal", data });

function storageWith(entries: Entry[]): MemoryStorage {
  const storage = new MemoryStorage();
  storage.append(entries);
  return storage;
}

test("election safety: two leaders in one term", () => {
  const checkers = new RaftCheckers();
  checkers.observeRole(1, 3, true, 10);
  checkers.observeRole(1, 3, true, 11);
  expect(() => checkers.observeRole(2, 3, true, 12)).toThrow(/election safety/);
});

test("log matching: same index and term, different entry", () => {
  const checkers = new RaftCheckers();
  const a = [entry(1, 1, "a")];
  checkers.observePersisted(1, storageWith(a), a);
  const b = [entry(1, 1, "b")];
  expect(() => checkers.observePersisted(2, storageWith(b), b)).toThrow(/log matching/);
});

test("committed entries never change, and a new leader holds them all", () => {
  const checkers = new RaftCheckers();
  checkers.observeCommit(1, storageWith([entry(1, 1, "a"), entry(2, 1, "b")]), 0, 2);
  expect(() => checkers.observeCommit(2, storageWith([entry(1, 1, "a"), entry(2, 2, "c")]), 0, 2))
    .toThrow(/committed entry changed/);
  expect(() => checkers.checkLeaderCompleteness(3, storageWith([entry(1, 1, "a")]), 2))
    .toThrow(/leader completeness/);
});

test("state-machine safety: a different entry applied at an index", () => {
  const checkers = new RaftCheckers();
  checkers.observeApplied(1, entry(1, 1, "a"), "s1");
  expect(() => checkers.observeApplied(2, entry(1, 1, "b"), "s2")).toThrow(/state-machine/);
});

test("lease: a new leader while an older leader's lease holds", () => {
  const checkers = new RaftCheckers();
  checkers.setLease(1, { term: 2, expiresAt: 100 });
  expect(() => checkers.observeRole(2, 3, true, 99)).toThrow(/lease/);
  checkers.observeRole(3, 4, true, 100);
});

test("read index: an answer older than a commit that preceded the read", () => {
  expect(() => new RaftCheckers().checkReadIndex(1, 4, 5)).toThrow(/read index/);
});
