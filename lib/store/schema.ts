// Owns the sqlite schema of a node's database and the connection settings that make an
// acknowledged write durable. Knows nothing of rows or versions beyond the table shapes; must
// not be imported outside lib/store.

import type { Database } from "bun:sqlite";
import { assert, StorageError } from "../util/errors.ts";

/** The schema this code writes. Stored in `PRAGMA user_version`; 0 means a new, empty file. */
export const schemaVersion = 7;

export interface ConnectionOptions {
  /** How long a write waits for a lock another connection holds before failing with STORAGE. */
  readonly busyTimeoutMs: number;
}

/** Names the node keeps in the `meta` table. Values are text; numbers are written in decimal. */
export const metaNames = {
  nodeId: "node_id",
  rf: "rf",
  partitions: "partitions",
  members: "members",
  currentTerm: "current_term",
} as const;

// migrations[i] takes a database from version i to version i + 1. Append, never edit: a file
// written by an older build replays only the steps it has not seen.
const migrations: readonly (string | ((db: Database) => void))[] = [
  `
  CREATE TABLE rows (
    key TEXT PRIMARY KEY NOT NULL,
    partition INTEGER NOT NULL CHECK (partition >= 0),
    term INTEGER NOT NULL CHECK (term >= 1),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    value TEXT,
    tombstone INTEGER NOT NULL CHECK (tombstone IN (0, 1)),
    CHECK ((tombstone = 1) = (value IS NULL))
  ) STRICT;
  -- Catch-up reads a partition in version order; purge and drop scan the same range.
  CREATE INDEX rows_by_version ON rows (partition, term, seq);
  CREATE TABLE positions (
    partition INTEGER PRIMARY KEY NOT NULL CHECK (partition >= 0),
    term INTEGER NOT NULL CHECK (term >= 0),
    seq INTEGER NOT NULL CHECK (seq >= 0)
  ) STRICT;
  CREATE TABLE meta (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
  ) STRICT;
  `,
  // Stage 2's data plane (replica-types.ts): rows without tombstones, the change log with the
  // before-image of every change, and each partition's fenced epoch and log base.
  `
  CREATE TABLE kv (
    key TEXT PRIMARY KEY NOT NULL,
    partition INTEGER NOT NULL CHECK (partition >= 0),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    epoch INTEGER NOT NULL CHECK (epoch >= 1),
    value TEXT NOT NULL,
    writer TEXT
  ) STRICT;
  CREATE INDEX kv_by_partition ON kv (partition, key);
  CREATE TABLE changes (
    partition INTEGER NOT NULL CHECK (partition >= 0),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    epoch INTEGER NOT NULL CHECK (epoch >= 1),
    key TEXT NOT NULL,
    value TEXT,
    writer TEXT,
    status TEXT NOT NULL CHECK (status IN ('created', 'updated', 'deleted', 'not_found')),
    before_seq INTEGER,
    before_epoch INTEGER,
    before_value TEXT,
    before_writer TEXT,
    CHECK ((before_seq IS NULL) = (before_value IS NULL)),
    PRIMARY KEY (partition, seq)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX changes_by_writer ON changes (partition, writer) WHERE writer IS NOT NULL;
  CREATE TABLE partition_logs (
    partition INTEGER PRIMARY KEY NOT NULL CHECK (partition >= 0),
    fenced INTEGER NOT NULL CHECK (fenced >= 0),
    base_seq INTEGER NOT NULL CHECK (base_seq >= 0),
    base_epoch INTEGER NOT NULL CHECK (base_epoch >= 0),
    is_copying INTEGER NOT NULL CHECK (is_copying IN (0, 1))
  ) STRICT;
  `,
  // Stage 2's control plane (raft-log-store.ts): the Raft log after the latest snapshot, the
  // hard state and that snapshot. The last two hold at most one row each (id = 1); no row means
  // the initial state (term 0, no vote, commit 0; the empty snapshot at index 0).
  `
  CREATE TABLE raft_entries (
    log_index INTEGER PRIMARY KEY NOT NULL CHECK (log_index >= 1),
    term INTEGER NOT NULL CHECK (term >= 1),
    type TEXT NOT NULL CHECK (type IN ('normal', 'conf-change')),
    data TEXT NOT NULL
  ) STRICT;
  CREATE TABLE raft_hard_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    term INTEGER NOT NULL CHECK (term >= 0),
    vote INTEGER NOT NULL CHECK (vote >= 0),
    commit_index INTEGER NOT NULL CHECK (commit_index >= 0)
  ) STRICT;
  CREATE TABLE raft_snapshot (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    log_index INTEGER NOT NULL CHECK (log_index >= 0),
    term INTEGER NOT NULL CHECK (term >= 0),
    conf_state TEXT NOT NULL,
    data TEXT NOT NULL
  ) STRICT;
  `,
  // Expiring keys: a row's and a change's expiry in cluster-clock ms (NULL: no TTL), and the
  // before-image's, so a truncation restores it. The partial index lists only rows with a TTL,
  // which is what a new leader reads to take over their expiry.
  `
  ALTER TABLE kv ADD COLUMN expires_at INTEGER;
  ALTER TABLE changes ADD COLUMN expires_at INTEGER;
  ALTER TABLE changes ADD COLUMN before_expires_at INTEGER;
  CREATE INDEX kv_expiring ON kv (partition, key) WHERE expires_at IS NOT NULL;
  `,
  // kv loses its key index: rows are found by (partition, key), the partition being a function of
  // the key, so the partition index alone (now unique) finds them. A new row is appended at the
  // table's rowid end, so a change dirties one random index page instead of two. (A WITHOUT ROWID
  // table keyed by the key dirtied more: a random leaf holding a dozen whole rows per change.)
  // Rows are copied inside the migration's transaction: a crash leaves the old table and version.
  // The retry index is keyed by the writer alone ("<client uuid>/<counter>"): one client's
  // changes extend one run of the index rather than one run in each partition, so a batch of
  // changes dirties a page per client there instead of a page per change.
  `
  CREATE TABLE kv_rows (
    key TEXT NOT NULL,
    partition INTEGER NOT NULL CHECK (partition >= 0),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    epoch INTEGER NOT NULL CHECK (epoch >= 1),
    value TEXT NOT NULL,
    writer TEXT,
    expires_at INTEGER
  ) STRICT;
  INSERT INTO kv_rows (key, partition, seq, epoch, value, writer, expires_at)
    SELECT key, partition, seq, epoch, value, writer, expires_at FROM kv ORDER BY partition, key;
  DROP TABLE kv;
  ALTER TABLE kv_rows RENAME TO kv;
  CREATE UNIQUE INDEX kv_by_partition ON kv (partition, key);
  CREATE INDEX kv_expiring ON kv (partition, key) WHERE expires_at IS NOT NULL;
  DROP INDEX changes_by_writer;
  CREATE INDEX changes_by_writer ON changes (writer) WHERE writer IS NOT NULL;
  `,
  // Each partition's change log becomes a table of its own, `changes_<partition>`, keyed by seq
  // (a rowid table: interior pages hold 8-byte keys), and the retry index a table of its own,
  // `writers`. In one table keyed by (partition, seq), a partition's log ended in the middle of
  // the b-tree: every few appends its tail leaf split and sqlite rebalanced it with its
  // neighbours (another partition's head) and their parent, and, as a WITHOUT ROWID table, each
  // interior cell held a whole change, so the tree was deep. A log of its own always grows at
  // its b-tree's right edge, where sqlite starts a new leaf and leaves the full one alone.
  // Rows are copied inside the migration's transaction, like schema 5's.
  (db) => {
    db.run(writersTableSql);
    const found = db.query<{ partition: number }, []>(
      "SELECT DISTINCT partition FROM changes ORDER BY partition").all();
    for (const { partition } of found) {
      db.run(changeLogTableSql(partition));
      db.run(
        `INSERT INTO ${changeLogTable(partition)} (${changeLogColumns})
         SELECT ${changeLogColumns} FROM changes WHERE partition = ? ORDER BY seq`,
        [partition],
      );
    }
    db.run(`INSERT INTO writers (writer, partition, seq)
      SELECT writer, partition, seq FROM changes WHERE writer IS NOT NULL`);
    // Drops changes_by_writer with it.
    db.run("DROP TABLE changes");
  },
  // The retry index goes: a retry names its first attempt's key, and the partition's log is
  // searched by key and writer, newest first (change-log-tables.ts, byWriter). Retries are rare;
  // the index cost every write a random page of its own (each client's run of it is elsewhere):
  // a fifth of the pages a change wrote in bench/replica-store.ts with four clients, more with
  // more clients.
  `
  DROP TABLE writers;
  `,
];

assert(migrations.length === schemaVersion, "one migration per schema version");

/** Partitions a change log table may be made for (PARTITIONS_MAX in lib/cluster/state.ts). */
const LOG_PARTITIONS_MAX = 4096;

/** The table holding partition `partition`'s change log (schema 6). */
export function changeLogTable(partition: number): string {
  assert(
    Number.isSafeInteger(partition) && partition >= 0 && partition < LOG_PARTITIONS_MAX,
    `no change log table for partition ${partition}`,
  );
  return `changes_${partition}`;
}

/** A change log table's name is `changes_` and the partition in decimal. */
export const changeLogTablePattern = /^changes_(0|[1-9][0-9]*)$/;

/** The columns of a change log table, in order. */
export const changeLogColumns =
  "seq, epoch, key, value, writer, status, before_seq, before_epoch, before_value, " +
  "before_writer, expires_at, before_expires_at";

/** Creates partition `partition`'s change log (schema 6); the columns are schema 5's. */
export function changeLogTableSql(partition: number): string {
  return `
  CREATE TABLE ${changeLogTable(partition)} (
    seq INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    epoch INTEGER NOT NULL CHECK (epoch >= 1),
    key TEXT NOT NULL,
    value TEXT,
    writer TEXT,
    status TEXT NOT NULL CHECK (status IN ('created', 'updated', 'deleted', 'not_found')),
    before_seq INTEGER,
    before_epoch INTEGER,
    before_value TEXT,
    before_writer TEXT,
    expires_at INTEGER,
    before_expires_at INTEGER,
    CHECK ((before_seq IS NULL) = (before_value IS NULL))
  ) STRICT`;
}

/**
 * The retry index (schema 6): every change that names a writer, found by writer. Keyed by the
 * writer first, so one client's changes extend one run of it; a writer may recur (a write made
 * again after its first attempt was found not to have happened), hence partition and seq.
 */
const writersTableSql = `
  CREATE TABLE writers (
    writer TEXT NOT NULL,
    partition INTEGER NOT NULL CHECK (partition >= 0),
    seq INTEGER NOT NULL CHECK (seq >= 1),
    PRIMARY KEY (writer, partition, seq)
  ) STRICT, WITHOUT ROWID`;

/**
 * Sets the per-connection pragmas. WAL lets readers run beside the one writer; FULL syncs the
 * WAL on every commit, so a committed transaction survives power loss, which is what an
 * acknowledgement promises (docs/architecture.md, Storage).
 */
export function configureConnection(db: Database, path: string, options: ConnectionOptions): void {
  db.run(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`);
  const mode = db.query<{ journal_mode: string }, []>("PRAGMA journal_mode = WAL").get();
  const journalMode = mode?.journal_mode ?? "unknown";
  // An in-memory database reports "memory" and has nothing to make durable.
  if (journalMode !== "wal" && !isMemoryPath(path)) {
    throw new StorageError(
      `could not switch ${path} to WAL mode (journal_mode is ${journalMode}); ` +
        "check that the data directory is on a local filesystem that supports shared memory",
    );
  }
  db.run("PRAGMA synchronous = FULL");
  // Stores write inside savepoints of the node's one transaction (transaction.ts); sqlite keeps
  // each savepoint's undo pages in a temporary file, opened and written page by page on every
  // commit. In memory they cost no system calls; they are never needed after a crash (the
  // uncommitted transaction is simply not in the WAL), so durability does not change.
  db.run("PRAGMA temp_store = MEMORY");
  // Checkpoints are the worker's (background-checkpoints.ts); this connection's own automatic
  // one is what lets the WAL start over from its beginning. Under sustained writes it is not
  // cheap: it fsyncs the database file, flushing every page the worker copied since the
  // worker's last fsync (66 ms on average, timed with strace while a replica stored a
  // catch-up, 19 times per 200,000 changes at 10,000 pages). At WAL_AUTOCHECKPOINT_PAGES
  // (about 160 MB of WAL at most) it runs a quarter as often. Commits still fsync the WAL.
  db.run(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  // 16 MiB of page cache instead of sqlite's 2 MB: a batch of changes at random keys walks the
  // interior pages of `kv` and its index and of many change logs, which at a million keys no
  // longer stay cached in 2 MB and are read again from the file, one system call each. A
  // catch-up at 1M keys (bench/catch-up.ts) stores its changes about 9 % faster; more cache did
  // not help further.
  db.run(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
}

/** WAL pages after which the committing connection checkpoints (see configureConnection). */
export const WAL_AUTOCHECKPOINT_PAGES = 40_000;

/** The page cache of a connection, in KiB (see configureConnection). */
const PAGE_CACHE_KIB = 16 * 1024;

/** Brings the schema up to `schemaVersion` in one transaction. */
export function migrate(db: Database, path: string): void {
  const found = readSchemaVersion(db);
  if (found > schemaVersion) {
    throw new StorageError(
      `${path} has schema version ${found} but this build knows only up to ${schemaVersion}; ` +
        "run a newer build on this data directory",
    );
  }
  if (found === schemaVersion) return;
  db.transaction(() => {
    for (let version = found; version < schemaVersion; version++) {
      const step = migrations[version];
      if (step === undefined) throw new StorageError(`no migration from schema version ${version}`);
      if (typeof step === "string") db.run(step);
      else step(db);
    }
    // user_version is written inside the same transaction, so a crash leaves the old version.
    db.run(`PRAGMA user_version = ${schemaVersion}`);
  }).immediate();
}

export function readSchemaVersion(db: Database): number {
  const row = db.query<{ user_version: number }, []>("PRAGMA user_version").get();
  return row?.user_version ?? 0;
}

export function isMemoryPath(path: string): boolean {
  return path === ":memory:" || path === "";
}
