// The leader's view of one follower (thesis §3.5 and etcd's progress states): match/next,
// whether it probes, replicates with pipelined appends, or waits for a snapshot, and a bounded
// window of appends in flight. Pure data, no I/O.
import { assert } from "./assert.ts";
import type { ProgressState } from "./types.ts";

/** A ring of the last indexes of appends in flight, bounded by count. */
export class Inflights {
  private readonly buffer: number[];
  private start = 0;
  count = 0;

  constructor(readonly countMax: number) {
    assert(countMax >= 1, "inflight window must hold at least one append");
    this.buffer = new Array<number>(countMax).fill(0);
  }

  isFull(): boolean {
    return this.count >= this.countMax;
  }

  add(lastIndex: number): void {
    assert(!this.isFull(), "inflight window is full");
    this.buffer[(this.start + this.count) % this.countMax] = lastIndex;
    this.count += 1;
  }

  /** Frees every append whose last index is <= `index` (they are acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && (this.buffer[this.start] ?? 0) <= index) {
      this.start = (this.start + 1) % this.countMax;
      this.count -= 1;
    }
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export class Progress {
  /** Highest index known replicated on the follower (§5.3 matchIndex). */
  match = 0;
  /** Next index to send (§5.3 nextIndex). */
  next: number;
  state: ProgressState = "probe";
  /** Probe: one append is out and unanswered; wait for a response or a heartbeat answer. */
  probeSent = false;
  /** Snapshot: the index of the snapshot sent, and ticks spent waiting for it. */
  pendingSnapshot = 0;
  snapshotTicks = 0;
  /** The leader's tick count when it last heard from this follower (CheckQuorum). */
  lastActiveTick = 0;
  /** Newest heartbeat round the follower echoed in this term. */
  ackedRound = 0;
  readonly inflights: Inflights;

  constructor(next: number, inflightsMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightsMax);
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it; otherwise right after the match.
    if (this.state === "snapshot") {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.reset("probe");
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.reset("replicate");
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.reset("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflights.reset();
  }

  /** An accepted append up to `index`: returns whether match moved. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Records an append sent with entries up to `lastIndex`. */
  sentEntries(lastIndex: number, entryCount: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /**
   * A rejected append at `rejected` with the follower's hint: returns whether next moved back.
   * Stale rejections (for an index already matched or no longer probed) are ignored.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = Math.max(this.match + 1, Math.min(rejected, hint + 1));
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.isFull();
      case "snapshot":
        return true;
    }
  }
}
