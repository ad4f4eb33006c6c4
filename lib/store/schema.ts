// Owns the sqlite schema of a node's database and the connection settings that make an
// acknowledged write durable. Knows nothing of rows or versions beyond the table shapes; must
// not be imported outside lib/store.

import type { Database } from "bun:sqlite";
import { assert, StorageError } from "../util/errors.ts";

/** The schema this code writes. Stored in `PRAGMA user_version`; 0 means a new, empty file. */
export const schemaVersion = 6;

export interface ConnectionOptions {
  /** How long a write waits for a lock another connection holds before failing with STORAGE. */
  readonly busyTimeoutMs: number;
  /**
   * Who syncs the WAL after a commit: sqlite, inside every commit (synchronous=FULL, the
   * default), or the caller, who must fsync the WAL file (walPath) before anything that depends
   * on the commit leaves the process (synchronous=NORMAL; node-storage.ts does this, off the
   * event loop). Checkpoints sync the WAL and the database file either way.
   */
  readonly walSync?: "commit" | "caller";
}

/** The write-ahead log sqlite keeps beside the database file `path` in WAL mode. */
export function walPath(path: string): string {
  return `${path}-wal`;
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
const migrations: readonly string[] = [
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
  // The change log becomes a rowid table keyed by one integer, (partition << 48) + seq: still
  // clustered by partition and seq, but its interior pages hold 8-byte keys. As a WITHOUT ROWID
  // table every interior cell held a whole change (a value and its before-image, about a
  // tenth of a page), so the tree was deep and the tail of each partition's log split its
  // parents often: every commit rewrote those interior pages as well as the leaves.
  // 4096 partitions at most (PARTITIONS_MAX) and 2^48 changes per partition keep the id in 60
  // bits. Rows are copied inside the migration's transaction, like schema 5's.
  `
  CREATE TABLE changes_log (
    id INTEGER PRIMARY KEY NOT NULL,
    partition INTEGER NOT NULL CHECK (partition >= 0 AND partition < 4096),
    seq INTEGER NOT NULL CHECK (seq >= 1 AND seq < 281474976710656),
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
    CHECK ((before_seq IS NULL) = (before_value IS NULL)),
    CHECK (id = (partition << 48) + seq)
  ) STRICT;
  INSERT INTO changes_log (id, partition, seq, epoch, key, value, writer, status, before_seq,
      before_epoch, before_value, before_writer, expires_at, before_expires_at)
    SELECT (partition << 48) + seq, partition, seq, epoch, key, value, writer, status,
      before_seq, before_epoch, before_value, before_writer, expires_at, before_expires_at
    FROM changes ORDER BY partition, seq;
  DROP TABLE changes;
  ALTER TABLE changes_log RENAME TO changes;
  CREATE INDEX changes_by_writer ON changes (writer) WHERE writer IS NOT NULL;
  `,
];

assert(migrations.length === schemaVersion, "one migration per schema version");

/**
 * Sets the per-connection pragmas. WAL lets readers run beside the one writer; FULL syncs the
 * WAL on every commit, so a committed transaction survives power loss, which is what an
 * acknowledgement promises (docs/architecture.md, Storage). With `walSync: "caller"` the caller
 * gives that promise by syncing the WAL itself before it acknowledges anything.
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
  // NORMAL skips only the sync at the end of each commit (sqlite still syncs the WAL before a
  // checkpoint, the database after it, and the WAL header when the log restarts); a caller that
  // asks for it makes every commit durable itself before acting on it.
  db.run(`PRAGMA synchronous = ${options.walSync === "caller" ? "NORMAL" : "FULL"}`);
  // Stores write inside savepoints of the node's one transaction (transaction.ts); sqlite keeps
  // each savepoint's undo pages in a temporary file, opened and written page by page on every
  // commit. In memory they cost no system calls; they are never needed after a crash (the
  // uncommitted transaction is simply not in the WAL), so durability does not change.
  db.run("PRAGMA temp_store = MEMORY");
  // A checkpoint copies each page changed since the last one once, however often it changed:
  // checkpointing every 10000 WAL pages (about 40 MB) instead of sqlite's 1000 copies the hot
  // pages (change-log tails, index interiors) far less often. Commits still fsync the WAL.
  db.run("PRAGMA wal_autocheckpoint = 10000");
}

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
      db.run(step);
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
