// The data plane's storage contract (stage 2): per partition, the fenced epoch, a change log
// with before-images, and the rows the log produces. Two implementations keep it: sqlite for a
// node, memory for the simulation; one contract suite runs against both. Types only.
//
// Invariants every implementation keeps, checked by the contract suite:
// - rows(p) always equals the base state of p with every retained change applied in seq order;
// - log seqs of a partition are contiguous after the base: base.seq + 1, base.seq + 2, ...;
// - epochs never decrease along a partition's log, and the fenced epoch never decreases;
// - a truncation restores every row the undone changes touched from their before-images.

/** A place in a partition's history: the change with this seq, written in this epoch. */
export interface LogPosition {
  readonly epoch: number;
  readonly seq: number;
}

export const positionZero: LogPosition = Object.freeze({ epoch: 0, seq: 0 });

/** One change as the leader orders it and replicas receive it. `value` null = delete. */
export interface ChangeRecord {
  readonly seq: number;
  readonly epoch: number;
  readonly key: string;
  readonly value: string | null;
  /**
   * The client request that made it ("<client>:<request>"), so a retry can be answered with
   * the first attempt's outcome; null when the client gave none.
   */
  readonly writer: string | null;
  /**
   * When the key expires, in ms of the cluster clock (lib/cluster/cluster-clock.ts); absent for
   * a key without a TTL and for deletes.
   */
  readonly expiresAt?: number;
}

export type ChangeStatus = "created" | "updated" | "deleted" | "not_found";

/** A change as a replica applied it: its outcome there. */
export interface AppliedChange extends ChangeRecord {
  readonly status: ChangeStatus;
}

/** A key's current value. `seq` is its version: the seq of the change that last set it. */
export interface DataRow {
  readonly key: string;
  readonly partition: number;
  readonly seq: number;
  readonly epoch: number;
  readonly value: string;
  readonly writer: string | null;
  /** When the key expires, in cluster-clock ms; absent when it has no TTL. */
  readonly expiresAt?: number;
}

/** Where the first epoch of the retained log begins. */
export interface EpochStart {
  readonly epoch: number;
  readonly seq: number;
}

export interface LogSummary {
  /** The position before the first retained change (positionZero for a log never trimmed). */
  readonly base: LogPosition;
  /** The last change, or the base when no change is retained. */
  readonly last: LogPosition;
  /** Epoch starts of the retained changes, ascending. */
  readonly epochs: readonly EpochStart[];
  /** A full copy into this partition began and has not finished: its rows are incomplete. */
  readonly isCopying: boolean;
}

/**
 * Writes, applied in order in one transaction by `commit`. Preconditions are the caller's
 * (the replica core checks them against what it has already queued); a broken one is a
 * programmer error and throws AssertionError with nothing written.
 */
export type ReplicaWrite =
  /** Raise the partition's fenced epoch (never lowers it). */
  | { readonly type: "fence"; readonly partition: number; readonly epoch: number }
  /** Append changes that continue the log exactly (seq = last.seq + 1, epoch >= last.epoch). */
  | { readonly type: "append"; readonly partition: number; readonly changes: readonly ChangeRecord[] }
  /** Undo and forget every change after `afterSeq` (>= base.seq), newest first. */
  | { readonly type: "truncate"; readonly partition: number; readonly afterSeq: number }
  /** Forget changes up to and including `uptoSeq` (<= last.seq); the base moves there. */
  | { readonly type: "trim"; readonly partition: number; readonly uptoSeq: number }
  /** Start a full copy: drop the partition's rows and log; the log starts after `base`. */
  | { readonly type: "copy-start"; readonly partition: number; readonly base: LogPosition }
  /** Rows of a full copy, in any order; only while copying. */
  | { readonly type: "copy-rows"; readonly partition: number; readonly rows: readonly DataRow[] }
  | { readonly type: "copy-end"; readonly partition: number }
  /** Drop everything of the partition except its fenced epoch (it moved to other members). */
  | { readonly type: "drop"; readonly partition: number };

/** What `commit` reports: per append write, the status of each of its changes. */
export interface CommitOutcome {
  readonly statuses: readonly (readonly ChangeStatus[])[];
}

export interface ReplicaStorage {
  fencedEpoch(partition: number): number;
  summary(partition: number): LogSummary;
  /** The row of `key`, kept in `partition` (the key's partition under placement). */
  get(partition: number, key: string): DataRow | undefined;
  /** Retained changes of `partition` with seq > afterSeq, ascending, at most `limit`. */
  changesAfter(partition: number, afterSeq: number, limit: number): AppliedChange[];
  /** Retained changes of `key` (in `partition`) with seq > afterSeq, ascending, at most `limit`
   * (WATCH since). */
  keyChangesAfter(partition: number, key: string, afterSeq: number, limit: number): AppliedChange[];
  /** Rows of `partition` with key > afterKey ("" = from the start), in key order. */
  rowsAfter(partition: number, afterKey: string, limit: number): DataRow[];
  /**
   * What the keys in (afterKey, uptoKey] that changed after `atSeq` held at `atSeq`, from the
   * before-image of each one's first later change (undefined: absent then). `uptoKey` null: no
   * upper bound. Meaningful only while the log reaches back to `atSeq` (base.seq <= atSeq).
   */
  rowsBeforeChangesAfter(
    partition: number,
    atSeq: number,
    afterKey: string,
    uptoKey: string | null,
  ): Map<string, DataRow | undefined>;
  /** The same, for rows with a TTL (`expiresAt`) only: what a new leader must expire. */
  expiringAfter(partition: number, afterKey: string, limit: number): DataRow[];
  /**
   * The latest retained change of `partition` to `key` made by `writer`, if any (retry answers:
   * a retry names its first attempt's key, so no index by writer is needed).
   */
  changeByWriter(partition: number, key: string, writer: string): AppliedChange | undefined;
  countRows(partition: number): number;
  /**
   * Runs `read`, whose reads of this store see one committed state, and returns its result.
   * For a batch of reads: sqlite then takes its locks once instead of once per statement.
   * Nothing may write (commit) inside.
   */
  readTogether<T>(read: () => T): T;
  /** Applies `writes` in order, atomically: all of them or (on a thrown error) none. */
  commit(writes: readonly ReplicaWrite[]): CommitOutcome;
  close(): void;
}
