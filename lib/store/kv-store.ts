// Owns one node's durable rows, per-partition positions and identity (meta) in one sqlite file.
// Decides only "is this write newer than what I hold"; must not know about replicas, leaders,
// sockets or the wire. Every sqlite failure leaves as a StorageError.

import type { Database } from "bun:sqlite";
import { assert, StorageError } from "../util/errors.ts";
import {
  assertPartition,
  assertRow,
  assertVersion,
  isNewer,
  versionOf,
  versionZero,
  type StoredRow,
  type Version,
} from "./row.ts";
import { guardSqlite, openDatabase } from "./database.ts";
import type { ConnectionOptions } from "./schema.ts";

export interface KvStoreOptions {
  /** Wait this long for a lock held by another connection before failing. Default 5000. */
  readonly busyTimeoutMs?: number;
}

const defaultOptions: ConnectionOptions = { busyTimeoutMs: 5000 };

interface RowRecord {
  key: string;
  partition: number;
  term: number;
  seq: number;
  value: string | null;
  tombstone: number;
}

interface VersionRecord {
  partition: number;
  term: number;
  seq: number;
}

const rowColumns = "key, partition, term, seq, value, tombstone";

// Prepared once per store: parsing SQL on every write would cost more than the write itself.
function prepareStatements(db: Database) {
  return {
    selectRow: db.prepare<RowRecord, [string]>(`SELECT ${rowColumns} FROM rows WHERE key = ?`),
    selectVersion: db.prepare<VersionRecord, [string]>(
      "SELECT partition, term, seq FROM rows WHERE key = ?",
    ),
    upsertRow: db.prepare<null, [string, number, number, number, string | null, number]>(
      `INSERT INTO rows (${rowColumns}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (key) DO UPDATE SET term = excluded.term, seq = excluded.seq,
         value = excluded.value, tombstone = excluded.tombstone`,
    ),
    upsertPosition: db.prepare<null, [number, number, number]>(
      `INSERT INTO positions (partition, term, seq) VALUES (?1, ?2, ?3)
       ON CONFLICT (partition) DO UPDATE SET term = excluded.term, seq = excluded.seq`,
    ),
    selectPositions: db.prepare<VersionRecord, []>("SELECT partition, term, seq FROM positions"),
    selectSince: db.prepare<RowRecord, [number, number, number, number]>(
      `SELECT ${rowColumns} FROM rows WHERE partition = ?1 AND (term, seq) > (?2, ?3)
       ORDER BY term, seq LIMIT ?4`,
    ),
    selectLiveKeys: db.prepare<{ key: string }, [number]>(
      "SELECT key FROM rows WHERE partition = ? AND tombstone = 0 ORDER BY key",
    ),
    selectAll: db.prepare<RowRecord, []>(
      `SELECT ${rowColumns} FROM rows ORDER BY partition, term, seq`,
    ),
    countLive: db.prepare<{ n: number }, []>("SELECT count(*) AS n FROM rows WHERE tombstone = 0"),
    selectSeqMax: db.prepare<{ seq: number | null }, [number]>(
      "SELECT max(seq) AS seq FROM rows WHERE partition = ?",
    ),
    purgeTombstones: db.prepare<null, [number, number, number]>(
      "DELETE FROM rows WHERE partition = ?1 AND tombstone = 1 AND (term, seq) <= (?2, ?3)",
    ),
    deletePartitionRows: db.prepare<null, [number]>("DELETE FROM rows WHERE partition = ?"),
    deletePosition: db.prepare<null, [number]>("DELETE FROM positions WHERE partition = ?"),
    selectMeta: db.prepare<{ value: string }, [string]>("SELECT value FROM meta WHERE name = ?"),
    upsertMeta: db.prepare<null, [string, string]>(
      `INSERT INTO meta (name, value) VALUES (?1, ?2)
       ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** The rows, positions and meta of one node, in one sqlite database. Not safe to share between
 * processes: one node owns its file. */
export class KvStore {
  readonly path: string;
  private readonly db: Database;
  private readonly statements: Statements;
  // Mirrors the positions table. Updated only after a commit succeeds, so a rolled-back batch
  // leaves it as it was.
  private readonly positionCache = new Map<number, Version>();
  private readonly applyTransaction: (rows: readonly StoredRow[]) => ApplyOutcome;
  private isClosed = false;

  private constructor(path: string, db: Database) {
    this.path = path;
    this.db = db;
    this.statements = prepareStatements(db);
    this.applyTransaction = db.transaction((rows: readonly StoredRow[]) => this.applyRows(rows))
      .immediate;
    for (const record of this.statements.selectPositions.all()) {
      assertPartition(record.partition, "stored position");
      assertVersion(record, `stored position of partition ${record.partition}`);
      this.positionCache.set(record.partition, versionOf(record));
    }
  }

  /**
   * Opens (creating if needed, with its parent directories) the database at `path`, or a
   * private in-memory database for ":memory:". Throws StorageError when the file cannot be
   * opened, made durable (WAL) or migrated.
   */
  static open(path: string, options: KvStoreOptions = {}): KvStore {
    const connection: ConnectionOptions = {
      busyTimeoutMs: options.busyTimeoutMs ?? defaultOptions.busyTimeoutMs,
    };
    assert(connection.busyTimeoutMs >= 0, `busyTimeoutMs ${connection.busyTimeoutMs} < 0`);
    return new KvStore(path, openDatabase(path, connection));
  }

  /** The stored row of `key`, tombstones included (value null); undefined if never written. */
  get(key: string): StoredRow | undefined {
    this.assertOpen();
    const record = this.guard("get", () => this.statements.selectRow.get(key));
    return record === null ? undefined : rowFromRecord(record);
  }

  /**
   * Applies every row that is newer than the stored version of its key, in order, in ONE
   * transaction (one fsync for the whole batch). Returns, per row, whether it was applied.
   * A later row for the same key is compared with the earlier one. Throws StorageError, with
   * nothing applied, if sqlite fails.
   */
  applyBatch(rows: readonly StoredRow[]): boolean[] {
    this.assertOpen();
    for (const row of rows) assertRow(row, "applyBatch");
    if (rows.length === 0) return [];
    const outcome = this.guard("applyBatch", () => this.applyTransaction(rows));
    assert(outcome.applied.length === rows.length, "applyBatch: one flag per row");
    for (const [partition, version] of outcome.positions) {
      this.positionCache.set(partition, version);
    }
    return outcome.applied;
  }

  /**
   * Up to `limit` rows of `partition` newer than `after`, oldest first. Page by passing the last
   * row's version as the next `after`. Paging relies on versions being unique within a
   * partition (the leader stamps each write with a fresh one): two rows sharing a version could
   * be split across a page boundary and the second skipped.
   */
  rowsSince(partition: number, after: Version, limit: number): StoredRow[] {
    this.assertOpen();
    assertPartition(partition, "rowsSince");
    assertVersion(after, "rowsSince");
    assert(Number.isSafeInteger(limit), `rowsSince: limit ${limit} is not an integer`);
    assert(limit >= 1, `rowsSince: limit ${limit} is below 1`);
    const records = this.guard("rowsSince", () =>
      this.statements.selectSince.all(partition, after.term, after.seq, limit),
    );
    assert(records.every((record) => isNewer(record, after)), "rowsSince: row not after cursor");
    let previous: Version = after;
    return records.map((record) => {
      const row = rowFromRecord(record);
      assert(row.partition === partition, `rowsSince: row of partition ${row.partition}`);
      assert(!isNewer(previous, row), `rowsSince: rows out of version order in ${partition}`);
      previous = row;
      return row;
    });
  }

  /** The highest version applied in `partition`; versionZero if none. */
  position(partition: number): Version {
    this.assertOpen();
    assertPartition(partition, "position");
    return this.positionCache.get(partition) ?? versionZero;
  }

  /** Every partition that has a position, with it. A copy: changing it changes nothing here. */
  positions(): Map<number, Version> {
    this.assertOpen();
    return new Map(this.positionCache);
  }

  /** The highest term of any applied version; 0 if nothing was ever applied. */
  maxTerm(): number {
    this.assertOpen();
    let term = 0;
    for (const version of this.positionCache.values()) term = Math.max(term, version.term);
    return term;
  }

  /**
   * The highest seq held in `partition`, from any term (0 if none): a new leader that
   * continues from here keeps seq growing across terms.
   */
  maxSeq(partition: number): number {
    this.assertOpen();
    assertPartition(partition, "maxSeq");
    const record = this.guard("maxSeq", () => this.statements.selectSeqMax.get(partition));
    return Math.max(record?.seq ?? 0, this.position(partition).seq);
  }

  /** Live (not deleted) keys of `partition`, sorted. For tests and diagnostics. */
  partitionKeys(partition: number): string[] {
    this.assertOpen();
    assertPartition(partition, "partitionKeys");
    const records = this.guard("partitionKeys", () =>
      this.statements.selectLiveKeys.all(partition),
    );
    return records.map((record) => record.key);
  }

  /** Every row, tombstones included, by partition then version. For tests and diagnostics. */
  allRows(): StoredRow[] {
    this.assertOpen();
    return this.guard("allRows", () => this.statements.selectAll.all()).map(rowFromRecord);
  }

  /** How many keys hold a value (tombstones not counted). */
  countLive(): number {
    this.assertOpen();
    const record = this.guard("countLive", () => this.statements.countLive.get());
    return record?.n ?? 0;
  }

  /**
   * Deletes the tombstones of `partition` at or below `upTo`. Call only with a version every
   * replica holds: once a tombstone is gone, a replayed older write of its key would apply.
   * Returns how many were deleted. The position is kept.
   */
  purgeTombstones(partition: number, upTo: Version): number {
    this.assertOpen();
    assertPartition(partition, "purgeTombstones");
    assertVersion(upTo, "purgeTombstones");
    const result = this.guard("purgeTombstones", () =>
      this.statements.purgeTombstones.run(partition, upTo.term, upTo.seq),
    );
    return Number(result.changes);
  }

  /** Forgets `partition` entirely (rows, tombstones, position) when it moves to other nodes.
   * Returns how many rows were deleted. */
  dropPartition(partition: number): number {
    this.assertOpen();
    assertPartition(partition, "dropPartition");
    const drop = this.db.transaction(() => {
      const result = this.statements.deletePartitionRows.run(partition);
      this.statements.deletePosition.run(partition);
      return Number(result.changes);
    });
    const count = this.guard("dropPartition", () => drop.immediate());
    this.positionCache.delete(partition);
    return count;
  }

  /** A node identity value (see `metaNames`); undefined if never set. */
  getMeta(name: string): string | undefined {
    this.assertOpen();
    const record = this.guard("getMeta", () => this.statements.selectMeta.get(name));
    return record === null ? undefined : record.value;
  }

  /** Durably sets a node identity value before returning. */
  setMeta(name: string, value: string): void {
    this.assertOpen();
    assert(name.length > 0, "setMeta: empty name");
    this.guard("setMeta", () => this.statements.upsertMeta.run(name, value));
  }

  /** Closes the database. Safe to call twice; any other call after it is a programmer error. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.guard("close", () => this.db.close());
  }

  // Runs inside the write transaction: throwing here rolls the whole batch back.
  private applyRows(rows: readonly StoredRow[]): ApplyOutcome {
    const applied: boolean[] = [];
    const positions = new Map<number, Version>();
    for (const row of rows) {
      const stored = this.statements.selectVersion.get(row.key);
      if (stored !== null) {
        // partition(key) is a pure function of the key, so a key never changes partition.
        assert(
          stored.partition === row.partition,
          `key ${row.key} is stored in partition ${stored.partition}, written to ${row.partition}`,
        );
        if (!isNewer(row, stored)) {
          applied.push(false);
          continue;
        }
      }
      const tombstone = row.value === null ? 1 : 0;
      const { key, partition, term, seq, value } = row;
      this.statements.upsertRow.run(key, partition, term, seq, value, tombstone);
      applied.push(true);
      const position = positions.get(row.partition) ?? this.position(row.partition);
      if (isNewer(row, position)) positions.set(row.partition, versionOf(row));
    }
    for (const [partition, version] of positions) {
      // Versions only grow per partition: a position never moves back.
      assert(isNewer(version, this.position(partition)), `position of ${partition} moved back`);
      this.statements.upsertPosition.run(partition, version.term, version.seq);
    }
    return { applied, positions };
  }

  private assertOpen(): void {
    assert(!this.isClosed, `store ${this.path} is closed`);
  }

  // Turns sqlite failures into StorageError; assertions and other errors pass unchanged.
  private guard<T>(operation: string, run: () => T): T {
    return guardSqlite(this.path, operation, run);
  }
}

interface ApplyOutcome {
  readonly applied: boolean[];
  readonly positions: Map<number, Version>;
}

function rowFromRecord(record: RowRecord): StoredRow {
  // The table's CHECK constraints say the same; asserting here catches a file edited by hand
  // or a column mix-up in a query.
  assert(record.tombstone === 0 || record.tombstone === 1, `bad tombstone flag of ${record.key}`);
  assert((record.tombstone === 1) === (record.value === null), `tombstone mismatch ${record.key}`);
  const row: StoredRow = {
    key: record.key,
    partition: record.partition,
    term: record.term,
    seq: record.seq,
    value: record.value,
  };
  assertRow(row, "stored row");
  return row;
}
