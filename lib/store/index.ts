// Public face of lib/store: the sqlite-backed row store, group commit and the row types. Other
// areas import from here only, never from the files behind it.

export { KvStore, type KvStoreOptions } from "./kv-store.ts";
export {
  GroupCommitter,
  groupCommitDefaults,
  type BatchApplier,
  type CommitScheduling,
  type GroupCommitStats,
  type GroupCommitterOptions,
} from "./group-commit.ts";
export {
  compareVersions,
  isCanonicalKey,
  isNewer,
  versionZero,
  type StoredRow,
  type Version,
} from "./row.ts";
export { metaNames, schemaVersion, WAL_AUTOCHECKPOINT_PAGES } from "./schema.ts";
export { guardSqlite, openDatabase } from "./database.ts";
export { runTransaction, SharedTransaction } from "./transaction.ts";
export { entrySizeBytes, SqliteRaftStorage, type RaftPersist } from "./raft-log-store.ts";
export { MemoryReplicaStore } from "./memory-replica-store.ts";
export { SqliteReplicaStore } from "./sqlite-replica-store.ts";
export {
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
