// A node's replica role in the data plane: answers the leader's data requests for the
// partitions this node holds. Pure: reads go to the injected ReplicaStorage; writes are queued
// and handed to the shell as one batch (`takeBatch`), which it commits in one transaction
// before the answers that depend on them go out (persist before acknowledge). Requests that
// arrive before the batch commits are checked against what is already queued.
//
// The epoch rules (docs/agreement.md): a request older than the fenced epoch is refused (a
// deposed leader); writes at a newer epoch raise the fence; reads, fetches and copies must come
// from exactly the fenced epoch (the leader that took this replica over).

import { assert } from "../util/errors.ts";
import type {
  ChangeStatus,
  CommitOutcome,
  LogPosition,
  LogSummary,
  ReplicaStorage,
  ReplicaWrite,
} from "../store/replica-types.ts";
import { changeBytesAtMost, countWithin, rowBytesAtMost } from "./batch-bytes.ts";
import type { DataReply, DataRequest, RefusalReason } from "./data-messages.ts";
import { divergencePoint, epochAt } from "./divergence.ts";
import { readSnapshotPage } from "./snapshot-page.ts";

/**
 * Changes a partition's log keeps: catch-up and reconcile send what a replica misses from it,
 * so a replica that missed more gets a full copy instead. Trimmed in steps of a tenth.
 */
export const LOG_RETAIN_DEFAULT = 10_000;

/** Rows one page of a full copy reads at most (the page is also cut to a byte budget). */
export const SNAPSHOT_PAGE_ROWS = 1000;

/** Value characters in one key-changes answer past its first change. */
const KEY_CHANGES_CHARS_MAX = 4 * 1024 * 1024;

/** Sizes the simulation shrinks so that trims and many-page copies happen in short runs. */
export interface ReplicaOptions {
  readonly logRetain?: number;
  readonly snapshotPageRows?: number;
}

/** What the shell commits, and how to finish the answers once it is durable. */
export interface ReplicaBatch {
  readonly writes: readonly ReplicaWrite[];
  /** Call with the commit's outcome; returns the answers to send, in request order. */
  complete(outcome: CommitOutcome): PendingAnswer[];
}

export interface PendingAnswer {
  readonly to: number;
  readonly reply: DataReply;
}

interface Deferred {
  readonly to: number;
  /** Index among this batch's append writes, when the answer needs their outcomes. */
  readonly appendIndex: number | null;
  readonly build: (statuses: readonly ChangeStatus[]) => DataReply;
}

/** What a partition looks like with the queued writes applied. */
interface Overlay {
  fenced: number;
  last: LogPosition;
  isCopying: boolean;
  hasQueuedLogWrites: boolean;
}

export class ReplicaCore {
  private readonly store: ReplicaStorage;
  private writes: ReplicaWrite[] = [];
  private appendCount = 0;
  private deferred: Deferred[] = [];
  private readonly overlays = new Map<number, Overlay>();

  private readonly logRetain: number;
  private readonly snapshotPageRows: number;

  constructor(store: ReplicaStorage, options: ReplicaOptions = {}) {
    this.store = store;
    this.logRetain = options.logRetain ?? LOG_RETAIN_DEFAULT;
    this.snapshotPageRows = options.snapshotPageRows ?? SNAPSHOT_PAGE_ROWS;
  }

  /** Handles one request from `from`. An immediate answer is returned; null means it waits
   * for the batch (see takeBatch). */
  handle(from: number, request: DataRequest): DataReply | null {
    const view = this.view(request.partition);
    if (request.epoch < view.fenced) return this.refuse(request, "stale-epoch");
    switch (request.type) {
      case "fence":
        this.queueFence(request.partition, request.epoch);
        return this.defer(from, null, () => ({
          type: "fenced",
          rid: request.rid,
          summary: this.store.summary(request.partition),
        }));
      case "replicate":
        return this.replicate(from, request);
      case "truncate":
        return this.truncate(from, request);
      case "install":
        return this.install(from, request);
      case "drop":
        this.queueFence(request.partition, request.epoch);
        this.queue({ type: "drop", partition: request.partition });
        Object.assign(view, { last: { epoch: 0, seq: 0 }, isCopying: false });
        return this.defer(from, null, () => ({ type: "dropped", rid: request.rid }));
      case "read":
      case "fetch":
      case "snapshot":
      case "rows":
      case "writer":
      case "count":
      case "key-changes":
        return this.serveRead(request, view);
    }
  }

  /** Runs `handle` calls together: their reads of the store see one state, read at once. */
  readTogether<T>(run: () => T): T {
    return this.store.readTogether(run);
  }

  hasBatch(): boolean {
    return this.writes.length > 0 || this.deferred.length > 0;
  }

  /** Hands the queued writes to the shell and starts a new batch. */
  takeBatch(): ReplicaBatch {
    const writes = this.writes;
    const deferred = this.deferred;
    this.writes = [];
    this.deferred = [];
    this.appendCount = 0;
    this.overlays.clear();
    return {
      writes,
      complete: (outcome) =>
        deferred.map((d) => ({
          to: d.to,
          reply: d.build(d.appendIndex === null ? [] : (outcome.statuses[d.appendIndex] ?? [])),
        })),
    };
  }

  // ---- requests ----------------------------------------------------------------------------

  private replicate(from: number, request: Extract<DataRequest, { type: "replicate" }>) {
    const view = this.view(request.partition);
    if (view.isCopying) return this.refuse(request, "copying");
    if (request.prev.seq !== view.last.seq || request.prev.epoch !== view.last.epoch) {
      return this.refuse(request, "gap");
    }
    if (!continues(request.prev, request.changes, request.epoch)) return this.refuse(request, "gap");
    this.queueFence(request.partition, request.epoch);
    const appendIndex = this.appendCount++;
    this.queue({ type: "append", partition: request.partition, changes: request.changes });
    const lastChange = request.changes[request.changes.length - 1];
    if (lastChange !== undefined) view.last = { epoch: lastChange.epoch, seq: lastChange.seq };
    view.hasQueuedLogWrites = true;
    this.trimIfLong(request.partition, view.last.seq);
    const last = view.last;
    return this.defer(from, appendIndex, (statuses) => ({
      type: "replicated",
      rid: request.rid,
      last,
      statuses,
    }));
  }

  private truncate(from: number, request: Extract<DataRequest, { type: "truncate" }>) {
    const view = this.view(request.partition);
    if (view.isCopying) return this.refuse(request, "copying");
    // Divergence is computed on the committed log; the leader never overlaps a reconcile with
    // writes to the same replica, so queued log writes here mean "ask again".
    if (view.hasQueuedLogWrites) return this.refuse(request, "gap");
    if (!samePosition(view.last, request.expect)) return this.refuse(request, "gap");
    const own = this.store.summary(request.partition);
    const point = divergencePoint(own, request.source);
    if (point === null) return this.refuse(request, "trimmed");
    const epoch = epochAt(own, point);
    assert(epoch !== undefined, `divergence point ${point} is not in the log`);
    this.queueFence(request.partition, request.epoch);
    if (point < own.last.seq) {
      this.queue({ type: "truncate", partition: request.partition, afterSeq: point });
      view.hasQueuedLogWrites = true;
    }
    const last = { epoch, seq: point };
    view.last = last;
    return this.defer(from, null, () => ({ type: "truncated", rid: request.rid, last }));
  }

  private install(from: number, request: Extract<DataRequest, { type: "install" }>) {
    const view = this.view(request.partition);
    const { partition } = request;
    if (!request.first && !view.isCopying) return this.refuse(request, "gap");
    // A first page that arrives late must not wipe what the replica took since.
    if (request.first && !samePosition(view.last, request.expect)) return this.refuse(request, "gap");
    this.queueFence(partition, request.epoch);
    if (request.first) this.queue({ type: "copy-start", partition, base: request.base });
    if (request.rows.length > 0) this.queue({ type: "copy-rows", partition, rows: request.rows });
    if (request.last) this.queue({ type: "copy-end", partition });
    view.isCopying = !request.last;
    view.last = request.base;
    view.hasQueuedLogWrites = true;
    const last = request.base;
    return this.defer(from, null, () => ({ type: "installed", rid: request.rid, last }));
  }

  private serveRead(
    request: Extract<
      DataRequest,
      { type: "read" | "fetch" | "snapshot" | "rows" | "writer" | "count" | "key-changes" }
    >,
    view: Overlay,
  ): DataReply {
    // Only the leader that fenced this replica may read it: a newer epoch has not taken it over.
    if (request.epoch !== view.fenced) return this.refuse(request, "gap");
    if (view.isCopying) return this.refuse(request, "copying");
    const { partition, rid } = request;
    switch (request.type) {
      case "read": {
        const row = this.store.get(partition, request.key);
        const asOf = this.store.summary(partition).last.seq;
        return { type: "row", rid, row: row?.partition === partition ? row : null, asOf };
      }
      case "fetch": {
        const summary = this.store.summary(partition);
        if (request.afterSeq < summary.base.seq) return this.refuse(request, "trimmed");
        const found = this.store.changesAfter(partition, request.afterSeq, request.limit);
        // The asker fetches again after the last one it got.
        const changes = found.slice(0, countWithin(found, changeBytesAtMost));
        return { type: "changes", rid, changes, last: summary.last };
      }
      case "snapshot": {
        const summary = this.store.summary(partition);
        const base = request.base ?? summary.last;
        // The pages are read as of the base through the log after it: once trimmed past it
        // (or, defensively, not holding it), the copy must start again from a new base.
        if (epochAt(summary, base.seq) !== base.epoch) return this.refuse(request, "trimmed");
        const { afterKey } = request;
        const rowsMax = this.snapshotPageRows;
        const page = readSnapshotPage(this.store, partition, base.seq, afterKey, rowsMax);
        return { type: "snapshot-rows", rid, base, ...page };
      }
      case "rows": {
        const { afterKey, limit } = request;
        const found = request.ttlOnly === true
          ? this.store.expiringAfter(partition, afterKey, limit)
          : this.store.rowsAfter(partition, afterKey, limit);
        // Cut to a byte budget: `limit` rows of large values would not fit one message.
        const rows = found.slice(0, countWithin(found, rowBytesAtMost));
        return rows.length < found.length
          ? { type: "rows-page", rid, rows, more: true }
          : { type: "rows-page", rid, rows };
      }
      case "count":
        return { type: "row-count", rid, count: this.store.countRows(partition) };
      case "writer":
        return {
          type: "writer-change",
          rid,
          change: this.store.changeByWriter(partition, request.key, request.writer) ?? null,
        };
      case "key-changes":
        return this.keyChanges(request);
    }
  }

  /**
   * WATCH since: the key's retained changes after `afterSeq`. When the log starts after it, the
   * key may have changed in the trimmed part, unless its row was set at or before `afterSeq`
   * (a later change would have replaced or deleted that row).
   */
  private keyChanges(request: Extract<DataRequest, { type: "key-changes" }>): DataReply {
    const { partition, rid, key, afterSeq } = request;
    const { base, last } = this.store.summary(partition);
    const answer = { type: "key-changes", rid, asOf: last.seq, base: base.seq } as const;
    if (afterSeq < base.seq) {
      const row = this.store.get(partition, key);
      const isUnchanged = row !== undefined && row.seq <= afterSeq;
      if (!isUnchanged) return { ...answer, changes: [], more: false, compacted: true };
      return { ...answer, changes: [], more: false, compacted: false };
    }
    const found = this.store.keyChangesAfter(partition, key, afterSeq, request.limit);
    // Values of one answer stay far below the frame limit: cut after KEY_CHANGES_CHARS_MAX.
    const changes = [];
    let chars = 0;
    for (const change of found) {
      if (changes.length > 0 && chars + (change.value?.length ?? 0) > KEY_CHANGES_CHARS_MAX) break;
      changes.push(change);
      chars += change.value?.length ?? 0;
    }
    const more = changes.length < found.length || found.length === request.limit;
    return { ...answer, changes, more, compacted: false };
  }

  // ---- helpers -----------------------------------------------------------------------------

  private trimIfLong(partition: number, lastSeq: number): void {
    const { base } = this.store.summary(partition);
    const slack = Math.max(1, Math.floor(this.logRetain / 10));
    if (lastSeq - base.seq <= this.logRetain + slack) return;
    this.queue({ type: "trim", partition, uptoSeq: lastSeq - this.logRetain });
  }

  private view(partition: number): Overlay {
    let overlay = this.overlays.get(partition);
    if (overlay === undefined) {
      const summary: LogSummary = this.store.summary(partition);
      overlay = {
        fenced: this.store.fencedEpoch(partition),
        last: summary.last,
        isCopying: summary.isCopying,
        hasQueuedLogWrites: false,
      };
      this.overlays.set(partition, overlay);
    }
    return overlay;
  }

  private queueFence(partition: number, epoch: number): void {
    const view = this.view(partition);
    if (epoch <= view.fenced) return;
    view.fenced = epoch;
    this.queue({ type: "fence", partition, epoch });
  }

  private queue(write: ReplicaWrite): void {
    this.writes.push(write);
  }

  private defer(
    to: number,
    appendIndex: number | null,
    build: (statuses: readonly ChangeStatus[]) => DataReply,
  ): null {
    this.deferred.push({ to, appendIndex, build });
    return null;
  }

  private refuse(request: DataRequest, reason: RefusalReason): DataReply {
    const view = this.view(request.partition);
    return { type: "refused", rid: request.rid, reason, fenced: view.fenced, last: view.last };
  }
}

/** Whether `changes` continue the log after `prev`: contiguous seqs, epochs between. */
function continues(
  prev: LogPosition,
  changes: readonly { seq: number; epoch: number }[],
  epoch: number,
): boolean {
  let last = prev;
  for (const change of changes) {
    if (change.seq !== last.seq + 1) return false;
    if (change.epoch < last.epoch || change.epoch > epoch) return false;
    last = change;
  }
  return true;
}

function samePosition(a: LogPosition, b: LogPosition): boolean {
  return a.epoch === b.epoch && a.seq === b.seq;
}
