// Owns group commit: writes submitted in the same event-loop turn share one applyBatch call, so
// one transaction and one fsync acknowledge all of them. Knows nothing of sqlite or of what a
// write means; must not reorder writes (a batch keeps submit order, batches commit in order).

import { assert, KvError } from "../util/errors.ts";
import { assertRow, type StoredRow } from "./row.ts";

/** What the committer needs from a store: KvStore, or a wrapper that counts or injects faults. */
export interface BatchApplier {
  applyBatch(rows: readonly StoredRow[]): boolean[];
}

/**
 * When a batch is committed after its first submit:
 * - "immediate": at the end of the current event-loop iteration (setImmediate), so every
 *   request that arrived in this iteration's I/O callbacks joins the batch.
 * - "microtask": as soon as the current task's microtasks drain, so only submits made by the
 *   same task (and its promise continuations) join.
 */
export type CommitScheduling = "immediate" | "microtask";

export interface GroupCommitterOptions {
  /** Rows in one transaction at most; more in the same turn start another batch. */
  readonly batchRowsMax?: number;
  readonly scheduling?: CommitScheduling;
  /** Told after each successful commit: rows in it and seconds it took (fsync included). */
  readonly onCommit?: (rows: number, seconds: number) => void;
}

export interface GroupCommitStats {
  /** Batches committed (= applyBatch calls that succeeded). */
  readonly batchCount: number;
  /** Rows those batches carried. */
  readonly rowCount: number;
}

interface Pending {
  readonly row: StoredRow;
  readonly resolve: (applied: boolean) => void;
  readonly reject: (error: unknown) => void;
}

export const groupCommitDefaults = {
  batchRowsMax: 1024,
  // bench/store.ts: with writes arriving as separate socket callbacks, microtask scheduling
  // commits each one alone; setImmediate gathers everything that arrived in one iteration.
  scheduling: "immediate",
} as const satisfies Required<Omit<GroupCommitterOptions, "onCommit">>;

/** Collects `submit` calls into batches and commits each batch with one `applyBatch`. */
export class GroupCommitter {
  private readonly store: BatchApplier;
  private readonly batchRowsMax: number;
  private readonly scheduling: CommitScheduling;
  // Oldest first. Only the last batch takes new rows; every other one is full.
  private batches: Pending[][] = [];
  private isScheduled = false;
  private isClosed = false;
  private failure: { readonly error: unknown } | undefined;
  private batchCount = 0;
  private rowCount = 0;
  private readonly onCommit: (rows: number, seconds: number) => void;

  constructor(store: BatchApplier, options: GroupCommitterOptions = {}) {
    this.store = store;
    this.batchRowsMax = options.batchRowsMax ?? groupCommitDefaults.batchRowsMax;
    this.scheduling = options.scheduling ?? groupCommitDefaults.scheduling;
    this.onCommit = options.onCommit ?? (() => undefined);
    assert(Number.isSafeInteger(this.batchRowsMax), "batchRowsMax is not an integer");
    assert(this.batchRowsMax >= 1, `batchRowsMax ${this.batchRowsMax} is below 1`);
  }

  /**
   * Queues `row` for the next batch. Resolves once the batch is durable, with whether the row
   * was newer than the stored one and so applied. Rejects with the store's error (StorageError)
   * if its batch failed, and with that same error for every submit after it.
   */
  submit(row: StoredRow): Promise<boolean> {
    // A malformed row is the caller's bug: fail its call, not the batch it would have joined.
    assertRow(row, "submit");
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.isClosed) {
      return Promise.reject(new KvError("CLOSED", "group committer is closed; write not applied"));
    }
    const { promise, resolve, reject } = Promise.withResolvers<boolean>();
    let batch = this.batches.at(-1);
    if (batch === undefined || batch.length >= this.batchRowsMax) {
      batch = [];
      this.batches.push(batch);
    }
    batch.push({ row, resolve, reject });
    this.schedule();
    return promise;
  }

  /** Rows submitted and not yet committed (or failed). */
  get pendingCount(): number {
    let count = 0;
    for (const batch of this.batches) count += batch.length;
    return count;
  }

  stats(): GroupCommitStats {
    return { batchCount: this.batchCount, rowCount: this.rowCount };
  }

  /** Commits every pending batch now, in order, without waiting for the scheduled turn. */
  flush(): void {
    while (this.commitOldest()) {
      // Each iteration commits one batch; commitOldest returns false once none is left.
    }
  }

  /** Commits what is pending, then refuses new submits. Call before closing the store. */
  close(): void {
    this.flush();
    this.isClosed = true;
  }

  private schedule(): void {
    if (this.isScheduled) return;
    this.isScheduled = true;
    const run = (): void => this.onScheduled();
    if (this.scheduling === "immediate") setImmediate(run);
    else queueMicrotask(run);
  }

  // One batch per turn: the event loop (heartbeats, new requests) runs between fsyncs, and rows
  // arriving meanwhile still join the newest batch.
  private onScheduled(): void {
    this.isScheduled = false;
    this.commitOldest();
    if (this.batches.length > 0) this.schedule();
  }

  private commitOldest(): boolean {
    const batch = this.batches.shift();
    if (batch === undefined) return false;
    let applied: boolean[];
    const started = performance.now();
    try {
      applied = this.store.applyBatch(batch.map((pending) => pending.row));
    } catch (error) {
      this.fail(error, batch);
      return false;
    }
    assert(applied.length === batch.length, "applyBatch returned one flag per row");
    this.batchCount += 1;
    this.rowCount += batch.length;
    this.onCommit(batch.length, (performance.now() - started) / 1000);
    batch.forEach((pending, index) => pending.resolve(applied[index] === true));
    return true;
  }

  // Sticky on purpose: after a failed commit (a failed fsync above all) a retry that seems to
  // succeed may acknowledge writes that never reached the disk. The node has to stop instead
  // (docs/architecture.md, Storage), so every write, pending or later, gets the original error.
  private fail(error: unknown, batch: readonly Pending[]): void {
    this.failure = { error };
    const rejected = [batch, ...this.batches];
    this.batches = [];
    for (const each of rejected) for (const pending of each) pending.reject(error);
  }
}
