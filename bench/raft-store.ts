// Raft storage benchmark (a script, not a test):
//   bun bench/raft-store.ts [seconds per run] [rounds]
// Runs every case once per round, the cases interleaved so that a noisy disk weighs on all of
// them alike, and prints one JSON line per run, then one line per case with the median of its
// rounds. Each run uses a fresh temp file with synchronous=FULL (one WAL fsync per commit),
// except the last case, in memory:
//   1. persist(): 1 entry + the hard state per transaction (a follower's turn under light load);
//   2. persist(): 64 entries + the hard state per transaction (a turn under heavy load);
//   3. runTransaction(): 1 entry + the hard state + one data-plane change (SqliteReplicaStore's
//      commitWithin), the shape of a node's turn that commits both with one fsync;
//   4. case 1 on an in-memory database: the store's own cost per transaction, without a disk.
import "./help.ts";

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import type { Entry } from "../lib/raft/types.ts";
import {
  openDatabase,
  runTransaction,
  SqliteRaftStorage,
  SqliteReplicaStore,
  type RaftPersist,
} from "../lib/store/index.ts";

/** A canonical UUID4 key for the n-th change, as the data plane stores them. */
function keyOf(n: number): string {
  return `${n.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;
}

const secondsPerRun = Number(process.argv[2] ?? "3");
const rounds = Number(process.argv[3] ?? "3");
const dataBytes = 100;

function entriesFrom(first: number, count: number, term: number): Entry[] {
  const data = "x".repeat(dataBytes);
  return Array.from({ length: count }, (_, i): Entry => ({
    index: first + i,
    term,
    type: "normal",
    data,
  }));
}

function print(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(fields) + "\n");
}

type Turn = (
  store: SqliteRaftStorage,
  replicas: SqliteReplicaStore,
  db: Database,
  path: string,
  persist: RaftPersist,
) => void;
type Case = [name: string, entriesPerTransaction: number, turn: Turn];

/** Runs `turn` (which persists one transaction) until the deadline on a fresh temp file. */
function measure(
  name: string,
  entriesPerTransaction: number,
  turn: Turn,
): number {
  const isInMemory = name.endsWith(".inMemory");
  const dir = mkdtempSync(join(tmpdir(), "warehouse-bench-raft-"));
  const path = isInMemory ? ":memory:" : join(dir, "node.sqlite");
  const db = openDatabase(path, { busyTimeoutMs: 5000 });
  const store = new SqliteRaftStorage(path, db);
  const replicas = new SqliteReplicaStore(path, db);
  try {
    let next = 1;
    let transactions = 0;
    const started = performance.now();
    const deadline = started + secondsPerRun * 1000;
    while (performance.now() < deadline) {
      const entries = entriesFrom(next, entriesPerTransaction, 1);
      next += entriesPerTransaction;
      const hardState = { term: 1, vote: 1, commit: next - 1 };
      turn(store, replicas, db, path, { hardState, entries, snapshot: null, compaction: null });
      transactions++;
    }
    const seconds = (performance.now() - started) / 1000;
    print({
      bench: name,
      synchronous: isInMemory ? "none (in memory)" : "FULL",
      entryDataBytes: dataBytes,
      entriesPerTransaction,
      transactions,
      seconds: Math.round(seconds * 100) / 100,
      transactionsPerSec: Math.round(transactions / seconds),
      entriesPerSec: Math.round((transactions * entriesPerTransaction) / seconds),
    });
    return transactions / seconds;
  } finally {
    store.close();
    replicas.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const persistOnly: Turn = (store, _replicas, _db, _path, persist) => store.persist(persist);

const withDataPlane: Turn = (store, replicas, db, path, persist) => {
  runTransaction(db, path, (transaction) => {
    store.persistWithin(transaction, persist);
    const seq = persist.hardState?.commit ?? 0;
    const change = { seq, epoch: 1, key: keyOf(seq), value: "v".repeat(dataBytes), writer: null };
    replicas.commitWithin(transaction, [{ type: "append", partition: 0, changes: [change] }]);
  });
};
/** Partition 0's change log table exists before the first turn, as NodeStorage makes it. */
const withLogTable = (turn: Turn): Turn => (store, replicas, db, path, persist) => {
  replicas.createLogs([{ type: "append", partition: 0, changes: [] }]);
  turn(store, replicas, db, path, persist);
};

const cases: Case[] = [
  ["raft.persist.oneEntry", 1, persistOnly],
  ["raft.persist.64Entries", 64, persistOnly],
  ["raft.runTransaction.oneEntryAndOneChange", 1, withLogTable(withDataPlane)],
  // No disk at all: what the store itself costs per transaction, beside the fsync.
  ["raft.persist.oneEntry.inMemory", 1, persistOnly],
];

const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, entriesPerTransaction, turn] of cases) {
    results.get(name)?.push(measure(name, entriesPerTransaction, turn));
  }
}
for (const [name, entriesPerTransaction] of cases) {
  const sorted = (results.get(name) ?? []).slice().sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  print({
    bench: name,
    rounds,
    medianTransactionsPerSec: Math.round(median),
    medianEntriesPerSec: Math.round(median * entriesPerTransaction),
  });
}
