// Owns a node's database file and the stores in it: the Raft log and hard state, the data
// plane's rows and change logs, and a few identity values. `persist` commits a turn's Raft
// state and data-plane writes in ONE transaction (one fsync), so neither is durable without the
// other. Every sqlite failure is a StorageError; the node stops on it (exit status 3).

import type { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { StorageError } from "../util/errors.ts";
import { BackgroundCheckpoints } from "./background-checkpoints.ts";
import { guardSqlite, openDatabase } from "./database.ts";
import { SqliteRaftStorage, type RaftPersist } from "./raft-log-store.ts";
import type { CommitOutcome, ReplicaWrite } from "./replica-types.ts";
import { SqliteReplicaStore } from "./sqlite-replica-store.ts";
import { runTransaction } from "./transaction.ts";

export const databaseFileName = "warehouse.sqlite";

export interface NodeStorageOptions {
  /** Told why background checkpoints stopped; the node's own checkpoints carry on. */
  readonly onCheckpointsStopped?: (reason: string) => void;
}

export class NodeStorage {
  readonly path: string;
  readonly raft: SqliteRaftStorage;
  readonly replica: SqliteReplicaStore;
  private readonly db: Database;
  private readonly checkpoints: BackgroundCheckpoints;
  private isClosed = false;

  private constructor(path: string, db: Database, options: NodeStorageOptions) {
    this.path = path;
    this.db = db;
    this.raft = new SqliteRaftStorage(path, db);
    this.replica = new SqliteReplicaStore(path, db);
    // Last: the stores above may refuse the file, and then no thread should have started.
    this.checkpoints = new BackgroundCheckpoints(path, (reason) =>
      options.onCheckpointsStopped?.(reason),
    );
  }

  /** Opens (creating) `<dataDir>/warehouse.sqlite`; the directory is made private to us. */
  static open(dataDir: string, options: NodeStorageOptions = {}): NodeStorage {
    prepareDataDir(dataDir);
    const path = join(dataDir, databaseFileName);
    const db = openDatabase(path, { busyTimeoutMs: 5000 });
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      if (existsSync(file)) chmodSync(file, 0o600);
    }
    return new NodeStorage(path, db, options);
  }

  /** Whether this database already holds a node's Raft state (a restart, not a new node). */
  hasRaftState(): boolean {
    return this.raft.lastIndex() > 0 || this.raft.snapshot().meta.index > 0;
  }

  /** Makes a turn durable: Raft state and data-plane writes, in one transaction. */
  persist(raft: RaftPersist | null, writes: readonly ReplicaWrite[]): CommitOutcome {
    const hasRaft =
      raft !== null &&
      (raft.hardState !== null ||
        raft.entries.length > 0 ||
        raft.snapshot !== null ||
        raft.compaction !== null);
    if (!hasRaft && writes.length === 0) return { statuses: [] };
    // A partition's first change needs its log's table, which is made in a transaction of its
    // own: the turn's transaction below may roll back, the table must not.
    this.replica.createLogs(writes);
    const outcome = runTransaction(this.db, this.path, (transaction) => {
      if (hasRaft && raft !== null) this.raft.persistWithin(transaction, raft);
      return this.replica.commitWithin(transaction, writes);
    });
    this.checkpoints.noteCommit();
    return outcome;
  }

  getMeta(name: string): string | undefined {
    const row = guardSqlite(this.path, "read meta", () =>
      this.db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE name = ?").get(name),
    );
    return row?.value;
  }

  setMeta(name: string, value: string): void {
    guardSqlite(this.path, "write meta", () =>
      this.db
        .query(
          `INSERT INTO meta (name, value) VALUES (?1, ?2)
           ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
        )
        .run(name, value),
    );
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.checkpoints.stop();
    this.raft.close();
    this.replica.close();
    guardSqlite(this.path, "close", () => this.db.close());
  }
}

/** Creates the data directory (0700) and refuses one other users can write to. */
function prepareDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const mode = statSync(dataDir).mode;
    if ((mode & 0o022) !== 0) {
      throw new StorageError(
        `data directory ${dataDir} can be written by other users (mode ` +
          `${(mode & 0o777).toString(8)}); run chmod 700 on it and start again`,
      );
    }
  } catch (error) {
    if (error instanceof StorageError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new StorageError(`cannot use data directory ${dataDir}: ${message}`, { cause: error });
  }
}
