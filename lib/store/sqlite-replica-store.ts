// The data plane's storage in the node's sqlite database (replica-types.ts has the contract and
// its invariants; memory-replica-store.ts the reference semantics). One commit is one IMMEDIATE
// transaction: with synchronous=FULL, one fsync makes every write in it durable. Partition
// summaries are cached in memory and replaced only after a commit succeeds. Each partition's
// change log lives in a table of its own (change-log-tables.ts, schema 6).

import type { Database } from "bun:sqlite";
import { assert } from "../util/errors.ts";
import { ChangeLogTables, type ChangeRow, type UndoRow } from "./change-log-tables.ts";
import { guardSqlite, openDatabase } from "./database.ts";
import { statusOf } from "./memory-replica-store.ts";
import type { SharedTransaction } from "./transaction.ts";
import {
  positionZero,
  type AppliedChange,
  type ChangeRecord,
  type ChangeStatus,
  type CommitOutcome,
  type DataRow,
  type EpochStart,
  type LogPosition,
  type LogSummary,
  type ReplicaStorage,
  type ReplicaWrite,
} from "./replica-types.ts";

/** A kv row as sqlite returns it: `expiresAt` is NULL for a key without a TTL. */
interface KvRow {
  key: string;
  partition: number;
  seq: number;
  epoch: number;
  value: string;
  writer: string | null;
  expiresAt: number | null;
}

interface PartitionRow {
  partition: number;
  fenced: number;
  base_seq: number;
  base_epoch: number;
  is_copying: number;
}

interface CachedPartition {
  fenced: number;
  summary: LogSummary;
}

type RowUpsert = [
  ...[key: string, partition: number, seq: number, epoch: number, value: string],
  ...[writer: string | null, expiresAt: number | null],
];

const kvColumns = "key, partition, seq, epoch, value, writer, expires_at AS expiresAt";

function prepare(db: Database) {
  return {
    getRow: db.prepare<KvRow, [number, string]>(
      `SELECT ${kvColumns} FROM kv WHERE partition = ?1 AND key = ?2`,
    ),
    upsertRow: db.prepare<null, RowUpsert>(
      `INSERT INTO kv (key, partition, seq, epoch, value, writer, expires_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
       ON CONFLICT (partition, key) DO UPDATE SET seq = excluded.seq, epoch = excluded.epoch,
         value = excluded.value, writer = excluded.writer, expires_at = excluded.expires_at`,
    ),
    // An append reads the row it replaces (the log keeps it as the before-image), then rewrites
    // or deletes that row where it lies, by rowid: one lookup in the (partition, key) index for
    // such a change instead of one for the read and another for an upsert's conflict check.
    rowBefore: db.prepare<KvRow & { rowid: number }, [number, string]>(
      `SELECT rowid, ${kvColumns} FROM kv WHERE partition = ?1 AND key = ?2`,
    ),
    updateRowAt: db.prepare<null, [number, number, number, string, string | null, number | null]>(
      `UPDATE kv SET seq = ?2, epoch = ?3, value = ?4, writer = ?5, expires_at = ?6
       WHERE rowid = ?1`,
    ),
    deleteRowAt: db.prepare<null, [number]>("DELETE FROM kv WHERE rowid = ?1"),
    deleteRow: db.prepare<null, [number, string]>(
      "DELETE FROM kv WHERE partition = ?1 AND key = ?2",
    ),
    rowsAfter: db.prepare<KvRow, [number, string, number]>(
      `SELECT ${kvColumns} FROM kv
       WHERE partition = ?1 AND key > ?2 ORDER BY key LIMIT ?3`,
    ),
    expiringAfter: db.prepare<KvRow, [number, string, number]>(
      `SELECT ${kvColumns} FROM kv
       WHERE partition = ?1 AND key > ?2 AND expires_at IS NOT NULL ORDER BY key LIMIT ?3`,
    ),
    countRows: db.prepare<{ n: number }, [number]>(
      "SELECT count(*) AS n FROM kv WHERE partition = ?",
    ),
    deletePartitionRows: db.prepare<null, [number]>("DELETE FROM kv WHERE partition = ?"),
    partitions: db.prepare<PartitionRow, []>("SELECT * FROM partition_logs"),
    beginRead: db.prepare<null, []>("BEGIN DEFERRED"),
    endRead: db.prepare<null, []>("COMMIT"),
    upsertPartition: db.prepare<null, [number, number, number, number, number]>(
      `INSERT INTO partition_logs (partition, fenced, base_seq, base_epoch, is_copying)
       VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (partition) DO UPDATE SET fenced = excluded.fenced,
         base_seq = excluded.base_seq, base_epoch = excluded.base_epoch,
         is_copying = excluded.is_copying`,
    ),
  };
}

type Statements = ReturnType<typeof prepare>;

const emptyPartition: CachedPartition = {
  fenced: 0,
  summary: { base: positionZero, last: positionZero, epochs: [], isCopying: false },
};

export class SqliteReplicaStore implements ReplicaStorage {
  readonly path: string;
  private readonly db: Database;
  private readonly ownsDatabase: boolean;
  private readonly statements: Statements;
  private readonly cache = new Map<number, CachedPartition>();
  private readonly logs: ChangeLogTables;
  private readonly commitTransaction: (writes: readonly ReplicaWrite[]) => WorkingCommit;
  /** Inside an open transaction bun runs this as a SAVEPOINT: a throw undoes only this part. */
  private readonly commitSavepoint: (writes: readonly ReplicaWrite[]) => WorkingCommit;
  /** The shared transaction this store has written in and that has not committed yet. */
  private stagedIn: SharedTransaction | null = null;
  /**
   * Inside readTogether: its read transaction not begun yet (no read so far) or open. It ends
   * before anything is written.
   */
  private readBatch: "none" | "wanted" | "open" = "none";
  private isClosed = false;

  /** Uses `db` (already opened by openDatabase) when given, else opens `path` itself. */
  constructor(path: string, db?: Database) {
    this.path = path;
    this.ownsDatabase = db === undefined;
    this.db = db ?? openDatabase(path, { busyTimeoutMs: 5000 });
    this.statements = prepare(this.db);
    this.logs = new ChangeLogTables(this.db);
    this.commitTransaction = this.db.transaction((writes: readonly ReplicaWrite[]) =>
      this.applyWrites(writes),
    ).immediate;
    this.commitSavepoint = this.db.transaction((writes: readonly ReplicaWrite[]) =>
      this.applyWrites(writes),
    );
    for (const row of this.statements.partitions.all()) {
      this.cache.set(row.partition, this.load(row));
    }
  }

  fencedEpoch(partition: number): number {
    return this.cached(partition).fenced;
  }

  summary(partition: number): LogSummary {
    return this.cached(partition).summary;
  }

  /**
   * Outside a transaction every statement opens a read transaction of its own, and in WAL mode
   * taking and dropping its locks costs four fcntl calls, more than a point read itself. One
   * deferred transaction around a batch takes them once; it begins at the batch's first read,
   * so a batch without reads costs nothing. It only reads: commit() and commitWithin refuse to
   * run inside it, so no write can slip into it.
   */
  readTogether<T>(read: () => T): T {
    assert(!this.isClosed, `store ${this.path} is closed`);
    if (this.readBatch !== "none" || this.db.inTransaction) return read();
    this.readBatch = "wanted";
    try {
      return read();
    } finally {
      this.endReadBatch();
    }
  }

  private endReadBatch(): void {
    const wasOpen = this.readBatch === "open";
    this.readBatch = "none";
    if (wasOpen) this.guard("end read", () => this.statements.endRead.run());
  }

  /** A read statement: inside readTogether, the batch's transaction begins before the first. */
  private read<T>(operation: string, run: () => T): T {
    if (this.readBatch === "wanted") {
      this.guard("begin read", () => this.statements.beginRead.run());
      this.readBatch = "open";
    }
    return this.guard(operation, run);
  }

  get(partition: number, key: string): DataRow | undefined {
    const row = this.read("get", () => this.statements.getRow.get(partition, key));
    return row === null ? undefined : dataRowOf(row);
  }

  changesAfter(partition: number, afterSeq: number, limit: number): AppliedChange[] {
    const rows = this.read("changesAfter", () =>
      this.logs.of(partition)?.after.all(afterSeq, limit) ?? [],
    );
    return rows.map(changeFromRow);
  }

  keyChangesAfter(
    partition: number,
    key: string,
    afterSeq: number,
    limit: number,
  ): AppliedChange[] {
    const rows = this.read("keyChangesAfter", () =>
      this.logs.of(partition)?.keyAfter.all(key, afterSeq, limit) ?? [],
    );
    return rows.map(changeFromRow);
  }

  rowsAfter(partition: number, afterKey: string, limit: number): DataRow[] {
    return this.read("rowsAfter", () =>
      this.statements.rowsAfter.all(partition, afterKey, limit),
    ).map(dataRowOf);
  }

  rowsBeforeChangesAfter(
    partition: number,
    atSeq: number,
    afterKey: string,
    uptoKey: string | null,
  ): Map<string, DataRow | undefined> {
    const undos = this.read("rowsBeforeChangesAfter", () =>
      this.logs.maintenance(partition)?.beforeImagesAfter(atSeq, afterKey, uptoKey) ?? [],
    );
    const images = new Map<string, DataRow | undefined>();
    for (const undo of undos) {
      if (!images.has(undo.key)) images.set(undo.key, beforeRowOf(partition, undo));
    }
    return images;
  }

  expiringAfter(partition: number, afterKey: string, limit: number): DataRow[] {
    return this.read("expiringAfter", () =>
      this.statements.expiringAfter.all(partition, afterKey, limit),
    ).map(dataRowOf);
  }

  changeByWriter(partition: number, key: string, writer: string): AppliedChange | undefined {
    const row = this.read("changeByWriter", () => {
      const log = this.logs.of(partition);
      return log === null ? null : log.byWriter.get(key, writer);
    });
    return row === null ? undefined : changeFromRow(row);
  }

  countRows(partition: number): number {
    return this.read("countRows", () => this.statements.countRows.get(partition))?.n ?? 0;
  }

  commit(writes: readonly ReplicaWrite[]): CommitOutcome {
    assert(!this.isClosed, `store ${this.path} is closed`);
    assert(this.readBatch === "none", "commit inside readTogether");
    if (writes.length === 0) return { statuses: [] };
    this.createLogs(writes);
    const working = this.guard("commit", () => this.commitTransaction(writes));
    for (const [partition, state] of working.partitions) this.cache.set(partition, state);
    return { statuses: working.statuses };
  }

  /**
   * Creates the change log tables the appends in `writes` need (each in a committed transaction
   * of its own, once per partition ever). Call it before the transaction of commitWithin().
   */
  createLogs(writes: readonly ReplicaWrite[]): void {
    const partitions: number[] = [];
    for (const write of writes) {
      if (write.type === "append" && !this.logs.has(write.partition)) {
        partitions.push(write.partition);
      }
    }
    if (partitions.length > 0) this.guard("create change log", () => this.logs.create(partitions));
  }

  /**
   * Writes what commit() writes, inside a transaction the caller runs (runTransaction in
   * transaction.ts), so it commits or rolls back with the caller's other writes (a node's Raft
   * state); the summaries change when it commits. One call per transaction, and no read of
   * this store until the transaction ends. A call that throws leaves nothing of itself behind.
   */
  commitWithin(transaction: SharedTransaction, writes: readonly ReplicaWrite[]): CommitOutcome {
    assert(!this.isClosed, `store ${this.path} is closed`);
    assert(transaction.isOpen, "commitWithin on a finished transaction");
    assert(this.readBatch === "none", "commitWithin inside readTogether");
    assert(transaction.db === this.db, "commitWithin on another database's transaction");
    assert(this.db.inTransaction, "commitWithin outside a sqlite transaction");
    assert(this.stagedIn !== transaction, "commitWithin twice in one transaction");
    if (writes.length === 0) return { statuses: [] };
    const working = this.guard("commit", () => this.commitSavepoint(writes));
    this.stagedIn = transaction;
    transaction.onCommit(() => {
      this.stagedIn = null;
      for (const [partition, state] of working.partitions) this.cache.set(partition, state);
    });
    return { statuses: working.statuses };
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.ownsDatabase) guardSqlite(this.path, "close", () => this.db.close());
  }

  // ---- inside the write transaction: a throw rolls every write back ---------------------

  private applyWrites(writes: readonly ReplicaWrite[]): WorkingCommit {
    const working: WorkingCommit = { partitions: new Map(), statuses: [] };
    const stateOf = (p: number): CachedPartition => {
      let state = working.partitions.get(p);
      if (state === undefined) {
        const cached = this.cached(p);
        state = { fenced: cached.fenced, summary: { ...cached.summary } };
        working.partitions.set(p, state);
      }
      return state;
    };
    for (const write of writes) {
      const state = stateOf(write.partition);
      if (write.type === "append") {
        working.statuses.push(this.append(state, write.partition, write.changes));
      } else {
        this.applyWrite(state, write);
      }
    }
    for (const [p, state] of working.partitions) {
      const { base, isCopying } = state.summary;
      this.statements.upsertPartition.run(p, state.fenced, base.seq, base.epoch, isCopying ? 1 : 0);
    }
    return working;
  }

  private append(
    state: CachedPartition,
    partition: number,
    changes: readonly ChangeRecord[],
  ): ChangeStatus[] {
    assert(!state.summary.isCopying, `append to partition ${partition} while copying`);
    const log = this.logs.of(partition);
    assert(log !== null, `append to partition ${partition} before createLogs made its table`);
    const statuses: ChangeStatus[] = [];
    for (const change of changes) {
      const { last } = state.summary;
      assert(change.seq === last.seq + 1, `append seq ${change.seq} after ${last.seq}`);
      assert(change.epoch >= last.epoch, `append epoch ${change.epoch} below ${last.epoch}`);
      const before = this.statements.rowBefore.get(partition, change.key);
      const status = statusOf(before !== null, change.value !== null);
      log.insert.run(
        change.seq,
        change.epoch,
        change.key,
        change.value,
        change.writer,
        status,
        before?.seq ?? null,
        before?.epoch ?? null,
        before?.value ?? null,
        before?.writer ?? null,
        change.expiresAt ?? null,
        before?.expiresAt ?? null,
      );
      const { key, seq, epoch, value, writer } = change;
      const expiresAt = change.expiresAt ?? null;
      if (before === null) {
        if (value !== null) {
          this.statements.upsertRow.run(key, partition, seq, epoch, value, writer, expiresAt);
        }
      } else if (value === null) {
        this.statements.deleteRowAt.run(before.rowid);
      } else {
        this.statements.updateRowAt.run(before.rowid, seq, epoch, value, writer, expiresAt);
      }
      statuses.push(status);
      state.summary = withLast(state.summary, { epoch: change.epoch, seq: change.seq });
    }
    return statuses;
  }

  private putRow(partition: number, row: DataRow): void {
    const { key, seq, epoch, value, writer } = row;
    this.statements.upsertRow.run(key, partition, seq, epoch, value, writer, row.expiresAt ?? null);
  }

  private applyWrite(state: CachedPartition, write: Exclude<ReplicaWrite, { type: "append" }>) {
    const p = write.partition;
    const s = this.statements;
    const log = this.logs.maintenance(p);
    switch (write.type) {
      case "fence":
        state.fenced = Math.max(state.fenced, write.epoch);
        return;
      case "truncate": {
        assert(write.afterSeq >= state.summary.base.seq, `truncate below the base of ${p}`);
        if (log === null) return; // no change was ever stored: nothing to undo
        for (const undo of log.undoAfter(write.afterSeq)) {
          const row = beforeRowOf(p, undo);
          if (row === undefined) s.deleteRow.run(p, undo.key);
          else this.putRow(p, row);
        }
        log.deleteAfter(write.afterSeq);
        state.summary = this.summarize(p, state.summary.base, state.summary.isCopying);
        return;
      }
      case "trim": {
        assert(write.uptoSeq <= state.summary.last.seq, `trim past the end of ${p}`);
        if (write.uptoSeq <= state.summary.base.seq) return;
        const at = this.logs.of(p)?.at.get(write.uptoSeq) ?? null;
        assert(log !== null && at !== null, `trim: no change ${write.uptoSeq} in ${p}`);
        log.deleteUpTo(write.uptoSeq);
        state.summary = afterTrim(state.summary, { epoch: at.epoch, seq: write.uptoSeq });
        return;
      }
      case "copy-start":
        s.deletePartitionRows.run(p);
        this.deleteLog(p);
        state.summary = { base: write.base, last: write.base, epochs: [], isCopying: true };
        return;
      case "copy-rows":
        assert(state.summary.isCopying, `copy rows into ${p} with no copy running`);
        for (const row of write.rows) this.putRow(p, row);
        return;
      case "copy-end":
        assert(state.summary.isCopying, `copy end of ${p} with no copy running`);
        state.summary = { ...state.summary, isCopying: false };
        return;
      case "drop":
        s.deletePartitionRows.run(p);
        this.deleteLog(p);
        state.summary = emptyPartition.summary;
        return;
    }
  }

  /** Empties partition `p`'s change log (the table stays, for what follows). */
  private deleteLog(p: number): void {
    this.logs.maintenance(p)?.deleteAll();
  }

  private summarize(partition: number, base: LogPosition, isCopying: boolean): LogSummary {
    const log = this.logs.maintenance(partition);
    const last = log?.last() ?? base;
    const epochs = log?.epochStarts() ?? [];
    return { base, last: { epoch: last.epoch, seq: last.seq }, epochs, isCopying };
  }

  private load(row: PartitionRow): CachedPartition {
    const base = { epoch: row.base_epoch, seq: row.base_seq };
    return { fenced: row.fenced, summary: this.summarize(row.partition, base, row.is_copying === 1) };
  }

  private cached(partition: number): CachedPartition {
    assert(Number.isSafeInteger(partition) && partition >= 0, `bad partition ${partition}`);
    return this.cache.get(partition) ?? emptyPartition;
  }

  private guard<T>(operation: string, run: () => T): T {
    assert(!this.isClosed, `store ${this.path} is closed`);
    return guardSqlite(this.path, operation, run);
  }
}

interface WorkingCommit {
  partitions: Map<number, CachedPartition>;
  statuses: ChangeStatus[][];
}

function withLast(summary: LogSummary, last: LogPosition): LogSummary {
  const top = summary.epochs[summary.epochs.length - 1];
  const epochs =
    top !== undefined && top.epoch === last.epoch
      ? summary.epochs
      : [...summary.epochs, { epoch: last.epoch, seq: last.seq }];
  return { ...summary, last, epochs };
}

/**
 * The summary once the changes up to `base` (one the log holds) are trimmed, worked out from the
 * one before: reading the epochs back scans the whole retained log, and a partition is trimmed
 * every tenth of its length, which at full logs made a tenth of a catch-up's time.
 */
function afterTrim(summary: LogSummary, base: LogPosition): LogSummary {
  const { last, isCopying } = summary;
  const first = base.seq + 1;
  if (first > last.seq) return { base, last, epochs: [], isCopying };
  // Epochs ascend with seq, so only the epoch holding `first` can have started before it.
  const later = summary.epochs.filter((e) => e.seq > first);
  const holding = summary.epochs.findLast((e) => e.seq <= first);
  const epochs = holding === undefined ? later : [{ epoch: holding.epoch, seq: first }, ...later];
  return { base, last, epochs, isCopying };
}

function changeFromRow(row: ChangeRow): AppliedChange {
  const status = row.status as ChangeStatus;
  const { seq, epoch, key, value, writer } = row;
  const change = { seq, epoch, key, value, writer, status };
  return row.expiresAt === null ? change : { ...change, expiresAt: row.expiresAt };
}

/** The row a change replaced, or undefined when the key was absent before it. */
function beforeRowOf(partition: number, undo: UndoRow): DataRow | undefined {
  if (undo.before_seq === null || undo.before_value === null) return undefined;
  return dataRowOf({
    key: undo.key,
    partition,
    seq: undo.before_seq,
    epoch: undo.before_epoch ?? 0,
    value: undo.before_value,
    writer: undo.before_writer,
    expiresAt: undo.before_expires_at,
  });
}

// A key without a TTL has no `expiresAt` at all (the field is optional on the wire too).
function dataRowOf(row: KvRow): DataRow {
  const { key, partition, seq, epoch, value, writer } = row;
  const out = { key, partition, seq, epoch, value, writer };
  return row.expiresAt === null ? out : { ...out, expiresAt: row.expiresAt };
}
