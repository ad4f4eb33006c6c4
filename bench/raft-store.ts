// Raft storage benchmark (a script, not a test): `bun bench/raft-store.ts [seconds per run]`.
// Prints one JSON line per case on stdout, each on a fresh temp file with synchronous=FULL
// (every transaction is one fsync of the WAL):
//   1. persist(): 1 entry + the hard state per transaction (a follower's turn under light load);
//   2. persist(): 64 entries + the hard state per transaction (a turn under heavy load);
//   3. runTransaction(): 1 entry + the hard state + one row of another table, the shape of a
//      node's turn that commits Raft state and data-plane writes together.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import type { Entry } from "../lib/raft/types.ts";
import {
  openDatabase,
  runTransaction,
  SqliteRaftStorage,
  type RaftPersist,
} from "../lib/store/index.ts";

const secondsPerRun = Number(process.argv[2] ?? "3");
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

/** Runs `turn` (which persists one transaction) until the deadline on a fresh temp file. */
function measure(
  name: string,
  entriesPerTransaction: number,
  turn: (store: SqliteRaftStorage, db: Database, path: string, persist: RaftPersist) => void,
): void {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-bench-raft-"));
  const path = join(dir, "node.sqlite");
  const db = openDatabase(path, { busyTimeoutMs: 5000 });
  const store = new SqliteRaftStorage(path, db);
  try {
    let next = 1;
    let transactions = 0;
    const started = performance.now();
    const deadline = started + secondsPerRun * 1000;
    while (performance.now() < deadline) {
      const entries = entriesFrom(next, entriesPerTransaction, 1);
      next += entriesPerTransaction;
      const hardState = { term: 1, vote: 1, commit: next - 1 };
      turn(store, db, path, { hardState, entries, snapshot: null, compaction: null });
      transactions++;
    }
    const seconds = (performance.now() - started) / 1000;
    print({
      bench: name,
      synchronous: "FULL",
      entryDataBytes: dataBytes,
      entriesPerTransaction,
      transactions,
      seconds: Math.round(seconds * 100) / 100,
      transactionsPerSec: Math.round(transactions / seconds),
      entriesPerSec: Math.round((transactions * entriesPerTransaction) / seconds),
    });
  } finally {
    store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

measure("raft.persist.oneEntry", 1, (store, _db, _path, persist) => store.persist(persist));
measure("raft.persist.64Entries", 64, (store, _db, _path, persist) => store.persist(persist));
measure("raft.runTransaction.oneEntryAndOneRow", 1, (store, db, path, persist) => {
  runTransaction(db, path, (transaction) => {
    store.persistWithin(transaction, persist);
    const value = String(persist.hardState?.commit ?? 0);
    db.run("INSERT OR REPLACE INTO meta (name, value) VALUES ('bench', ?)", [value]);
  });
});
