// Owns the one seam through which several stores of a node's database write in a single
// transaction (the node commits a turn's Raft state and data-plane writes together, so one
// fsync makes them durable together). A store writes its rows inside the transaction and
// registers what to change in its in-memory caches; those changes run only once the commit has
// succeeded, so a rolled-back transaction leaves every cache as it was.

import type { Database } from "bun:sqlite";
import { assert } from "../util/errors.ts";
import { guardSqlite } from "./database.ts";

/** Only runTransaction ends a transaction: the key is not exported. */
const finish = Symbol("finish");

/**
 * An open transaction on a node's database, handed to stores' `...Within` methods. It exists
 * only while `runTransaction`'s callback runs; a store asserts `isOpen` before writing.
 */
export class SharedTransaction {
  readonly db: Database;
  private state: "open" | "committed" | "rolled-back" = "open";
  private readonly publishers: (() => void)[] = [];

  constructor(db: Database) {
    this.db = db;
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  get isCommitted(): boolean {
    return this.state === "committed";
  }

  /** Runs `publish` after the commit succeeds (in registration order); never on a rollback. */
  onCommit(publish: () => void): void {
    assert(this.isOpen, "onCommit on a transaction that is no longer open");
    this.publishers.push(publish);
  }

  [finish](committed: boolean): void {
    assert(this.isOpen, "transaction finished twice");
    this.state = committed ? "committed" : "rolled-back";
    if (!committed) return;
    for (const publish of this.publishers) publish();
  }
}

/**
 * Runs `work` in one IMMEDIATE transaction on `db` (opened by openDatabase; `path` names it in
 * errors). Stores write through the SharedTransaction it receives. When `work` returns, the
 * transaction commits (with synchronous=FULL: one fsync) and then every store's `onCommit`
 * runs; when `work` or the commit throws, everything rolls back, no `onCommit` runs, and the
 * error is thrown again (a sqlite failure as StorageError). Do not read a store between its
 * write and the commit: its caches still show the state before the transaction.
 */
export function runTransaction<T>(
  db: Database,
  path: string,
  work: (transaction: SharedTransaction) => T,
): T {
  assert(!db.inTransaction, "runTransaction inside another transaction");
  const transaction = new SharedTransaction(db);
  let result: T;
  try {
    result = guardSqlite(path, "commit", () => db.transaction(() => work(transaction)).immediate());
  } catch (error) {
    transaction[finish](false);
    throw error;
  }
  transaction[finish](true);
  return result;
}
