// Owns the sqlite schema of a node's database and the connection settings that make an
// acknowledged write durable. Knows nothing of rows or versions beyond the table shapes; must
// not be imported outside lib/store.

import type { Database } from "bun:sqlite";
import { assert, StorageError } from "../util/errors.ts";

/** The schema this code writes. Stored in `PRAGMA user_version`; 0 means a new, empty file. */
export const schemaVersion = 1;

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
];

assert(migrations.length === schemaVersion, "one migration per schema version");

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
