// The data plane's peer messages: what the leader (coordinator) asks of a partition's replicas
// and what they answer. Types only; parsing and validation live in peer-protocol.ts. Every
// request names the partition and the epoch (the leader's term) it is made in; a replica
// fenced at a newer epoch refuses it, which is what keeps a deposed leader from writing or
// reading (docs/agreement.md).

import type {
  AppliedChange,
  ChangeRecord,
  ChangeStatus,
  DataRow,
  LogPosition,
  LogSummary,
} from "../store/replica-types.ts";

export type DataRequest =
  /** Take the partition over at `epoch`; answered with the replica's log summary. */
  | { readonly type: "fence"; readonly rid: number; readonly partition: number; readonly epoch: number }
  /** Append `changes`, which follow `prev`; answered once durable, with their outcomes. */
  | {
      readonly type: "replicate";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      readonly prev: LogPosition;
      readonly changes: readonly ChangeRecord[];
    }
  /** The current row of `key`. */
  | {
      readonly type: "read";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      readonly key: string;
    }
  /**
   * Make the log a prefix of `source`'s: undo everything after the divergence point. Only if
   * the replica's last change is still `expect`: a truncate that arrives late (after the
   * replica moved on, e.g. took acknowledged writes) must change nothing.
   */
  | {
      readonly type: "truncate";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      readonly source: Pick<LogSummary, "base" | "last" | "epochs">;
      readonly expect: LogPosition;
    }
  /** Changes after `afterSeq` (this replica is the source of a catch-up). */
  | {
      readonly type: "fetch";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      readonly afterSeq: number;
      readonly limit: number;
    }
  /**
   * A page of a full copy (this replica is its source): the rows after `afterKey` as they were
   * at `base`, the source's last change when the copy began (null: begin one now, at it).
   */
  | {
      readonly type: "snapshot";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      readonly base: LogPosition | null;
      readonly afterKey: string;
    }
  /**
   * Install part of a full copy: `first` starts it at `base` (only if the replica's last change
   * is still `expect`, as for truncate), `last` ends it.
   */
  | {
      readonly type: "install";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      readonly base: LogPosition;
      readonly rows: readonly DataRow[];
      readonly first: boolean;
      readonly last: boolean;
      readonly expect: LogPosition;
    }
  /** Rows in key order after `afterKey` (SCAN) and the answer to "was this write applied". */
  | {
      readonly type: "rows";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      readonly afterKey: string;
      readonly limit: number;
      /** Only rows with a TTL: a new leader learning which keys it must expire. */
      readonly ttlOnly?: boolean;
    }
  | {
      readonly type: "writer";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      /** The retried write's key: the log is searched by it (see changeByWriter). */
      readonly key: string;
      readonly writer: string;
    }
  /** The retained changes of `key` after `afterSeq` (WATCH since), at most `limit`. */
  | {
      readonly type: "key-changes";
      readonly rid: number;
      readonly partition: number;
      readonly epoch: number;
      readonly key: string;
      readonly afterSeq: number;
      readonly limit: number;
    }
  /** How many keys the partition holds (COUNT). */
  | { readonly type: "count"; readonly rid: number; readonly partition: number; readonly epoch: number }
  /** Forget the partition: placement moved it away and the in-sync set no longer has us. */
  | { readonly type: "drop"; readonly rid: number; readonly partition: number; readonly epoch: number };

export type RefusalReason =
  /** Fenced at a newer epoch: the asker is a deposed leader. */
  | "stale-epoch"
  /** `prev` is not this replica's last change: it missed or holds something else. */
  | "gap"
  /** A full copy into the partition is unfinished: its rows are not a valid state. */
  | "copying"
  /** The source no longer holds the changes asked for, or the logs share nothing: copy. */
  | "trimmed";

export type DataReply =
  | {
      readonly type: "refused";
      readonly rid: number;
      readonly reason: RefusalReason;
      readonly fenced: number;
      readonly last: LogPosition;
    }
  | { readonly type: "fenced"; readonly rid: number; readonly summary: LogSummary }
  | {
      readonly type: "replicated";
      readonly rid: number;
      readonly last: LogPosition;
      readonly statuses: readonly ChangeStatus[];
    }
  /** `asOf`: the seq of the replica's last change when it read: the read reflects no later one. */
  | { readonly type: "row"; readonly rid: number; readonly row: DataRow | null; readonly asOf: number }
  | { readonly type: "truncated"; readonly rid: number; readonly last: LogPosition }
  | {
      readonly type: "changes";
      readonly rid: number;
      readonly changes: readonly AppliedChange[];
      readonly last: LogPosition;
    }
  /** `next`: the key the next page starts after; null when this was the last page. */
  | {
      readonly type: "snapshot-rows";
      readonly rid: number;
      readonly base: LogPosition;
      readonly rows: readonly DataRow[];
      readonly next: string | null;
    }
  | { readonly type: "installed"; readonly rid: number; readonly last: LogPosition }
  | {
      readonly type: "rows-page";
      readonly rid: number;
      readonly rows: readonly DataRow[];
      /** The page was cut to its byte budget: the partition has rows after the last one. */
      readonly more?: boolean;
    }
  | { readonly type: "writer-change"; readonly rid: number; readonly change: AppliedChange | null }
  | { readonly type: "row-count"; readonly rid: number; readonly count: number }
  /**
   * The key's changes after the asked seq, oldest first. `asOf`: the replica's last seq when it
   * read; `more`: a limit cut the list short (ask again after its last). `compacted`: the log
   * no longer reaches back to the asked seq and the key may have changed in between; then
   * `changes` is empty and `base` is the seq the retained log starts after.
   */
  | {
      readonly type: "key-changes";
      readonly rid: number;
      readonly changes: readonly AppliedChange[];
      readonly asOf: number;
      readonly base: number;
      readonly more: boolean;
      readonly compacted: boolean;
    }
  | { readonly type: "dropped"; readonly rid: number };
