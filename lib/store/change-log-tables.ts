// Owns the change log's tables (schema 6): one table per partition, `changes_<partition>`, keyed
// by seq. Knows which partitions have a table and prepares each one's statements once. A table
// is created outside the data transaction (`create`), so a transaction that rolls back never
// takes a table this class believes in with it.

import type { Database, Statement } from "bun:sqlite";
import { assert } from "../util/errors.ts";
import type { EpochStart } from "./replica-types.ts";
import {
  changeLogColumns,
  changeLogTable,
  changeLogTablePattern,
  changeLogTableSql,
} from "./schema.ts";

export interface ChangeRow {
  seq: number;
  epoch: number;
  key: string;
  value: string | null;
  writer: string | null;
  status: string;
  expiresAt: number | null;
}

export interface UndoRow {
  seq: number;
  key: string;
  before_seq: number | null;
  before_epoch: number | null;
  before_value: string | null;
  before_writer: string | null;
  before_expires_at: number | null;
}

export type ChangeInsert = [
  ...[seq: number, epoch: number, key: string],
  ...[value: string | null, writer: string | null, status: string],
  ...[seq: number | null, epoch: number | null, value: string | null, writer: string | null],
  ...[expiresAt: number | null, beforeExpiresAt: number | null],
];

const changeColumns = "seq, epoch, key, value, writer, status, expires_at AS expiresAt";

/** Statements every append or read of a partition's log uses: prepared once per partition. */
function prepareLog(db: Database, partition: number) {
  const table = changeLogTable(partition);
  return {
    insert: db.prepare<null, ChangeInsert>(
      `INSERT INTO ${table} (${changeLogColumns})
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`,
    ),
    after: db.prepare<ChangeRow, [number, number]>(
      `SELECT ${changeColumns} FROM ${table} WHERE seq > ?1 ORDER BY seq LIMIT ?2`,
    ),
    // The seq order bounds the walk to the retained log (10,000 changes or so); an index on
    // key would cost every write for a read that is rare.
    keyAfter: db.prepare<ChangeRow, [string, number, number]>(
      `SELECT ${changeColumns} FROM ${table} WHERE seq > ?2 AND key = ?1 ORDER BY seq LIMIT ?3`,
    ),
    at: db.prepare<ChangeRow, [number]>(`SELECT ${changeColumns} FROM ${table} WHERE seq = ?1`),
    // A retry's lookup (schema 7 dropped the index by writer, which cost every write a page).
    // Newest first: a retry follows its first attempt within seconds. The key is compared
    // first; it precedes the value in the row, so rows of other keys are never read past it.
    byWriter: db.prepare<ChangeRow, [string, string]>(
      `SELECT ${changeColumns} FROM ${table} WHERE key = ?1 AND writer = ?2
       ORDER BY seq DESC LIMIT 1`,
    ),
  };
}

/**
 * Runs `sql` on partition `partition`'s log once, without keeping the statement: truncations,
 * trims, copies and summaries are rare, and with thousands of partitions kept statements
 * would add up.
 */
function once<T, R = T[]>(
  db: Database,
  sql: string,
  run: (statement: Statement<T, number[]>) => R,
): R {
  const statement = db.prepare<T, number[]>(sql);
  try {
    return run(statement);
  } finally {
    statement.finalize();
  }
}

export type LogStatements = ReturnType<typeof prepareLog>;

/** The rare operations on one partition's log (see `once`). */
export class LogMaintenance {
  private readonly db: Database;
  private readonly table: string;

  constructor(db: Database, partition: number) {
    this.db = db;
    this.table = changeLogTable(partition);
  }

  /** The undone changes' before-images, newest first. */
  undoAfter(seq: number): UndoRow[] {
    return once<UndoRow>(this.db, `SELECT seq, key, before_seq, before_epoch, before_value,
        before_writer, before_expires_at FROM ${this.table} WHERE seq > ?1 ORDER BY seq DESC`,
      (statement) => statement.all(seq));
  }

  /**
   * The before-images of the changes after `seq` to keys in (afterKey, uptoKey] (null: no upper
   * bound), oldest first. Walks the log from `seq` by its key; a full copy asks once per page, so
   * this is bounded by the log's length, not the partition's size.
   */
  beforeImagesAfter(seq: number, afterKey: string, uptoKey: string | null): UndoRow[] {
    const statement = this.db.prepare<UndoRow, [number, string, string | null]>(
      `SELECT seq, key, before_seq, before_epoch, before_value, before_writer, before_expires_at
       FROM ${this.table} WHERE seq > ?1 AND key > ?2 AND (?3 IS NULL OR key <= ?3)
       ORDER BY seq`,
    );
    try {
      return statement.all(seq, afterKey, uptoKey);
    } finally {
      statement.finalize();
    }
  }

  /** Deletes the changes after `seq`. */
  deleteAfter(seq: number): void {
    this.delete("seq > ?1", seq);
  }

  /** Deletes the changes up to `seq`. */
  deleteUpTo(seq: number): void {
    this.delete("seq <= ?1", seq);
  }

  /** Deletes every change; the table stays. */
  deleteAll(): void {
    this.delete("seq >= ?1", 0);
  }

  /**
   * Where each epoch of the retained log starts. Seqs are contiguous and epochs never decrease
   * along them, so each start is found by bisecting on seq (a point lookup by the key each time),
   * not by reading the whole log: a node starting with full logs read every one of them.
   */
  epochStarts(): EpochStart[] {
    const first = once<{ epoch: number; seq: number }>(this.db,
      `SELECT epoch, seq FROM ${this.table} ORDER BY seq LIMIT 1`,
      (statement) => statement.all())[0];
    const last = this.last();
    if (first === undefined || last === undefined) return [];
    const sql = `SELECT epoch FROM ${this.table} WHERE seq = ?1`;
    return once<{ epoch: number }, EpochStart[]>(this.db, sql, (statement) => {
      const epochAt = (seq: number): number => {
        const row = statement.get(seq);
        assert(row !== null, `change ${seq} missing from ${this.table}`);
        return row.epoch;
      };
      let top: EpochStart = { epoch: first.epoch, seq: first.seq };
      const starts = [top];
      while (top.epoch < last.epoch) {
        // The first seq after top.seq whose epoch is newer: in (top.seq, last.seq].
        let low = top.seq + 1;
        let high = last.seq;
        while (low < high) {
          const middle = Math.floor((low + high) / 2);
          if (epochAt(middle) > top.epoch) high = middle;
          else low = middle + 1;
        }
        top = { epoch: epochAt(low), seq: low };
        starts.push(top);
      }
      return starts;
    });
  }

  last(): { epoch: number; seq: number } | undefined {
    return once<{ epoch: number; seq: number }>(this.db,
      `SELECT epoch, seq FROM ${this.table} ORDER BY seq DESC LIMIT 1`,
      (statement) => statement.all())[0];
  }

  private delete(where: string, seq: number): void {
    once(this.db, `DELETE FROM ${this.table} WHERE ${where}`, (statement) => {
      statement.run(seq);
    });
  }
}

export class ChangeLogTables {
  private readonly db: Database;
  private readonly tables = new Set<number>();
  private readonly statements = new Map<number, LogStatements>();

  constructor(db: Database) {
    this.db = db;
    const names = db
      .query<{ name: string }, []>("SELECT name FROM sqlite_schema WHERE type = 'table'")
      .all();
    for (const { name } of names) {
      const match = changeLogTablePattern.exec(name);
      if (match !== null) this.tables.add(Number(match[1]));
    }
  }

  /** Whether partition `partition` has a change log table (it may be empty). */
  has(partition: number): boolean {
    return this.tables.has(partition);
  }

  /** Creates the missing tables of `partitions`, one committed transaction for them all. */
  create(partitions: Iterable<number>): void {
    const missing = [...new Set(partitions)].filter((p) => !this.tables.has(p));
    if (missing.length === 0) return;
    assert(!this.db.inTransaction, "change log tables are created outside a transaction");
    this.db.transaction(() => {
      for (const partition of missing) this.db.run(changeLogTableSql(partition));
    }).immediate();
    for (const partition of missing) this.tables.add(partition);
  }

  /** Partition `partition`'s rare operations, or null when it has no table (no change ever). */
  maintenance(partition: number): LogMaintenance | null {
    return this.tables.has(partition) ? new LogMaintenance(this.db, partition) : null;
  }

  /** Partition `partition`'s statements, or null when it has no table (no change ever). */
  of(partition: number): LogStatements | null {
    if (!this.tables.has(partition)) return null;
    let prepared = this.statements.get(partition);
    if (prepared === undefined) {
      prepared = prepareLog(this.db, partition);
      this.statements.set(partition, prepared);
    }
    return prepared;
  }
}
