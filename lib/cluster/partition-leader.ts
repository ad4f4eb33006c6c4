// The leader's coordination of ONE partition in one term (epoch): takeover (fence, drop the
// unreachable, reconcile), then writes, reads and the catch-up of replicas that are not in
// sync. Pure: it sends data requests through its context and learns of answers, failures and
// applied Raft entries through calls; no clock (timeouts are the coordinator's, in ticks).
// docs/agreement.md explains each rule; the comments here say which one a step keeps.

import type {
  AppliedChange,
  ChangeRecord,
  ChangeStatus,
  DataRow,
  LogPosition,
  LogSummary,
} from "../store/replica-types.ts";
import { changeBytesAtMost, countWithin } from "./batch-bytes.ts";
import type { DataReply, DataRequest } from "./data-messages.ts";
import { ReadCache } from "./read-cache.ts";
import type { ClusterCommand } from "./state.ts";
import {
  ExpiryIndex,
  KeyVersions,
  plainWrite,
  type HeadVersion,
  type WriteOptions,
} from "./write-conditions.ts";

/** Distributes a request without its rid: the coordinator numbers and times it. */
export type OutgoingRequest = DataRequest extends infer R
  ? R extends DataRequest
    ? Omit<R, "rid">
    : never
  : never;

export interface PartitionContext {
  readonly selfId: number;
  readonly epoch: number;
  readonly minInsync: number;
  /** What this partition keeps of its recent changes, in changeChars (recentCharsMaxFor). */
  readonly recentCharsMax: number;
  /** What its read cache may hold (readCacheCharsMaxFor); absent or 0: no cache. */
  readonly readCacheCharsMax?: number;
  /** The in-sync set as the applied Raft state says. */
  insync(): readonly number[];
  /** The replicas placement gives the partition over the current members. */
  placement(): readonly number[];
  /** Sends a request; the answer comes to onReply, or onFailure after a timeout. */
  send(to: number, request: OutgoingRequest): number;
  /** Proposes an in-sync change; false when it could not be proposed (not the leader). */
  propose(command: ClusterCommand): boolean;
  /** A member not heard from lately: a takeover does not wait for its answer. */
  isSuspect(id: number): boolean;
  /** `count` changes were stored durably by replica `id` (for metrics). */
  replicated?(id: number, count: number): void;
  /** A write was acknowledged, in seq order: the one point every committed change passes. */
  committed?(change: AppliedChange): void;
  /** A read of a partition another node holds was answered from the cache (hit) or not. */
  readCached?(hit: boolean): void;
}

export type WriteResult =
  | { ok: true; status: ChangeStatus; version: number; replicas: number }
  | { ok: false; code: "UNAVAILABLE" | "TIMEOUT"; message: string }
  /** A compare-and-set found another version (`version`: the key's, 0 when absent). */
  | { ok: false; code: "CONFLICT"; message: string; version: number };

export type ReadResult =
  | { ok: true; row: DataRow | null }
  | { ok: false; code: "UNAVAILABLE"; message: string };

/** WATCH since: a key's changes, complete up to `version` (more may follow after it). */
export type WatchResult =
  | { ok: true; changes: readonly AppliedChange[]; version: number; more: boolean }
  | { ok: false; code: "UNAVAILABLE"; message: string }
  | { ok: false; code: "COMPACTED"; message: string; oldest: number };

/** A page of rows in key order (SCAN), or a key count (COUNT), from an in-sync replica. */
export type PageResult =
  /** `more`: the replica cut the page to its byte budget; the partition has rows after it. */
  | { ok: true; rows: readonly DataRow[]; count: number; more: boolean }
  | { ok: false; code: "UNAVAILABLE"; message: string };

type Phase = "fencing" | "reconciling" | "serving" | "deposed";

/** What a replica's answer to a read, page or count carries. */
type ReadAnswer =
  | {
      ok: true;
      row: DataRow | null;
      asOf?: number;
      rows?: readonly DataRow[];
      more?: boolean;
      count?: number;
    }
  | { ok: false; code: "UNAVAILABLE"; message: string };

type Mode = "insync" | "catching-up" | "tailing" | "idle";

/** The leader's view of one replica of the partition (like Raft's follower progress). */
interface Progress {
  mode: Mode;
  /** Its last change as far as we know; null before it told us. */
  last: LogPosition | null;
  /** Highest seq it acknowledged durably in this epoch. */
  ackedSeq: number;
  /** The request of a catch-up step in flight, or 0. */
  stepRid: number;
  /**
   * A full copy in flight, page by page from the step's source: the base all its pages are
   * read at (null until the first arrives) and the key the next page starts after (null: the
   * page being installed is the last).
   */
  copy: { base: LogPosition | null; next: string | null } | null;
  isFailed: boolean;
  isAddPending: boolean;
  isRemovePending: boolean;
  /** Left the in-sync set because placement moved the partition: tell it to drop its copy. */
  isDropDue: boolean;
  /** Ticks to wait before the next catch-up attempt after a failure. */
  retryTicks: number;
  /**
   * Ticks an in-sync change of ours has been waiting to apply. A proposal can be dropped (a
   * leadership blip) or ignored when it applies (the set changed first): after a while the
   * change is taken as not coming, and decided again.
   */
  changeWaitTicks: number;
}

interface PendingWrite {
  readonly change: ChangeRecord;
  status: ChangeStatus | null;
  readonly done: Array<(result: WriteResult) => void>;
}

const FETCH_LIMIT = 512;
const RETRY_TICKS = 10;
/** Ticks an in-sync change may take to apply before it is decided again. */
const CHANGE_WAIT_TICKS_MAX = 40;
/** Changes of this epoch kept in memory, so a replica close behind is fed without a source. */
const RECENT_CHANGES_MAX = 8192;
/**
 * What the leaders of all a node's partitions keep of their recent changes, together, in
 * changeChars: large values must not fill the leader's memory, and neither may many partitions
 * (each partition had 2 Mi characters once: 64 of them grew a leader by ~500 MiB of 256-byte
 * values). Each partition gets its share (recentCharsMaxFor); a replica further behind is fed
 * from a source's change log instead.
 */
const RECENT_NODE_CHARS_MAX = 16 * 1024 * 1024;
/** The least share of a partition, so that a few changes stay even with thousands of them. */
const RECENT_PARTITION_CHARS_MIN = 16 * 1024;
/**
 * What a change costs in memory beyond its strings' characters: the record, three string
 * headers and its slot, ~300 bytes as measured (a leader holding 60,000 changes of 328
 * characters grew by ~630 B each). Counted so that small changes are bounded as well.
 */
const CHANGE_OVERHEAD_CHARS = 256;

/** A partition's share of what a node keeps of recent changes, with `partitions` of them. */
export function recentCharsMaxFor(partitions: number): number {
  const share = Math.floor(RECENT_NODE_CHARS_MAX / Math.max(1, partitions));
  return Math.max(RECENT_PARTITION_CHARS_MIN, share);
}

/** Rows with a TTL read per page when a new leader learns which keys it must expire. */
const EXPIRING_PAGE_ROWS = 1000;

export class PartitionLeader {
  readonly partition: number;
  private readonly context: PartitionContext;
  private phase: Phase = "fencing";
  private readonly progress = new Map<number, Progress>();
  private summaries = new Map<number, LogSummary>();
  private last: LogPosition = { epoch: 0, seq: 0 };
  private source: number | null = null;
  private readonly pending: PendingWrite[] = [];
  private readonly pendingByKey = new Map<string, number>();
  private readonly pendingByWriter = new Map<string, PendingWrite>();
  private readonly waitingReads = new Map<string, Array<() => void>>();
  private readonly readsInFlight = new Map<number, (result: ReadAnswer) => void>();
  private readonly recent: ChangeRecord[] = [];
  /** Characters of the changes in `recent` (changeChars). */
  private recentChars = 0;
  private unsent: ChangeRecord[] = [];
  private unsentPrev: LogPosition = { epoch: 0, seq: 0 };
  private queuedWrites: Array<() => void> = [];
  /** Every write up to this seq is acknowledged (or was, by an earlier leader). */
  private acknowledgedSeq = 0;
  private readsAwaitingAcks: Array<{
    seq: number;
    then: () => void;
    fail: (result: { ok: false; code: "UNAVAILABLE"; message: string }) => void;
  }> = [];
  /** The fetch that reads outcomes of pending writes (see fetchStatuses), or 0. */
  private statusRid = 0;
  /** Which holder that fetch asks: the next one after a holder that could not answer. */
  private statusTurn = 0;
  private readonly versions = new KeyVersions();
  /** Rows known current in this epoch (read-cache.ts); null when the context gives no room. */
  private readonly cache: ReadCache | null;
  /** Writes ordered so far: a read's row is cached only if none was ordered while it ran. */
  private orderedCount = 0;
  private readonly expiry = new ExpiryIndex();
  /** Where the takeover's read of rows with a TTL resumes; null when it is done. */
  private expiringAfter: string | null = "";
  private isExpiringReadInFlight = false;

  constructor(partition: number, context: PartitionContext) {
    this.partition = partition;
    this.context = context;
    const cacheChars = context.readCacheCharsMax ?? 0;
    this.cache = cacheChars > 0 ? new ReadCache(cacheChars) : null;
    this.startFencing();
  }

  get isServing(): boolean {
    return this.phase === "serving";
  }

  /** Serving, with every in-sync replica answering and no in-sync change under way. */
  get isHealthy(): boolean {
    if (this.phase !== "serving") return false;
    return this.context.insync().every((id) => {
      const p = this.progressOf(id);
      return !p.isFailed && !p.isRemovePending;
    });
  }

  /** What `recent` holds: changes, and their changeChars against context.recentCharsMax. */
  get recentHeld(): { changes: number; chars: number } {
    return { changes: this.recent.length, chars: this.recentChars };
  }

  get phaseName(): Phase {
    return this.phase;
  }

  /** The seq of the newest write this leader ordered. */
  get headSeq(): number {
    const newest = this.unsent[this.unsent.length - 1];
    return newest === undefined ? this.unsentPrev.seq : newest.seq;
  }

  /** One line on where the takeover and each replica stand, for logs and failed simulations. */
  describe(): string {
    const replicas = [...this.progress].map(([id, p]) => {
      const flags = [
        p.isFailed ? "failed" : "",
        p.isAddPending ? "adding" : "",
        p.isRemovePending ? "removing" : "",
        p.stepRid !== 0 ? "step" : "",
      ].filter((f) => f !== "");
      const last = p.last === null ? "?" : `${p.last.epoch}.${p.last.seq}`;
      return `${id}:${p.mode}@${last}${flags.length > 0 ? `(${flags.join(",")})` : ""}`;
    });
    return `${this.phase} last ${this.unsentPrev.epoch}.${this.unsentPrev.seq} ` +
      `pending ${this.pending.length} ${replicas.join(" ")}`;
  }

  /** Each replica's mode, for the heartbeat and status pages. */
  replicaModes(): Map<number, Mode> {
    return new Map([...this.progress].map(([id, p]) => [id, p.mode]));
  }

  // ---- takeover ----------------------------------------------------------------------------

  private startFencing(): void {
    this.phase = "fencing";
    this.summaries = new Map();
    const suspects: number[] = [];
    for (const id of this.context.insync()) {
      const p = this.progressOf(id);
      p.mode = "insync";
      if (this.context.isSuspect(id)) suspects.push(id);
      else p.stepRid = this.send(id, { type: "fence", partition: this.partition, epoch: this.context.epoch });
    }
    for (const id of suspects) this.onFailure(id);
  }

  /** Fencing ends when every in-sync replica answered or left the set. */
  private checkFencingDone(): void {
    if (this.phase !== "fencing") return;
    const insync = this.context.insync();
    if (!insync.every((id) => this.summaries.has(id))) return;
    // The source holds every acknowledged write; the highest last (epoch, seq) was reconciled
    // most recently (docs/agreement.md, Takeover).
    let best: number | null = null;
    for (const id of insync) {
      const s = this.summaries.get(id) as LogSummary;
      if (s.isCopying) continue;
      const b = best === null ? null : (this.summaries.get(best) as LogSummary);
      if (b === null || compare(s.last, b.last) > 0) best = id;
    }
    if (best === null) return; // every in-sync replica is mid-copy: stay unavailable
    this.source = best;
    this.last = (this.summaries.get(best) as LogSummary).last;
    this.phase = "reconciling";
    for (const id of insync) {
      const p = this.progressOf(id);
      p.last = (this.summaries.get(id) as LogSummary).last;
      p.ackedSeq = 0;
      if (id !== best && compare(p.last, this.last) !== 0) this.startCatchUp(id);
    }
    this.checkReconciled();
  }

  private checkReconciled(): void {
    if (this.phase !== "reconciling") return;
    for (const id of this.context.insync()) {
      const p = this.progressOf(id);
      if (p.isFailed || p.last === null || compare(p.last, this.last) !== 0) return;
    }
    this.phase = "serving";
    this.readExpiring();
    this.unsentPrev = this.last;
    this.acknowledgedSeq = this.last.seq;
    for (const id of this.context.insync()) this.progressOf(id).ackedSeq = this.last.seq;
    for (const run of this.queuedWrites.splice(0)) run();
  }

  // ---- catch-up: truncate to the divergence point, then the source's changes -------------

  private startCatchUp(id: number): void {
    const p = this.progressOf(id);
    const source = this.pickSource(id);
    if (source === null) return;
    p.mode = p.mode === "insync" ? "insync" : "catching-up";
    p.copy = null;
    // First the target's own position (a fence answers with it): the truncate that follows is
    // conditional on it, so a late one cannot undo what the target took meanwhile.
    p.stepRid = this.send(id, { type: "fence", partition: this.partition, epoch: this.context.epoch });
    this.stepSource.set(p.stepRid, { target: id, source });
  }

  private readonly stepSource = new Map<number, { target: number; source: number }>();

  private pickSource(target: number): number | null {
    if (this.phase === "reconciling") return this.source;
    const candidates = this.context
      .insync()
      .filter((id) => id !== target && !this.progressOf(id).isFailed);
    if (candidates.includes(this.context.selfId)) return this.context.selfId;
    return candidates[0] ?? null;
  }

  private onStepReply(rid: number, from: number, reply: DataReply): boolean {
    const step = this.stepSource.get(rid);
    if (step === undefined) return false;
    this.stepSource.delete(rid);
    const p = this.progressOf(step.target);
    if (p.stepRid !== rid) return true;
    p.stepRid = 0;
    const { target, source } = step;
    const next = (request: OutgoingRequest, to: number) => {
      p.stepRid = this.send(to, request);
      this.stepSource.set(p.stepRid, step);
    };
    const base = { partition: this.partition, epoch: this.context.epoch };
    const startCopy = () => {
      p.copy = { base: null, next: "" };
      next({ type: "snapshot", ...base, base: null, afterKey: "" }, source);
    };
    switch (reply.type) {
      case "fenced": {
        if (from === target && from !== source) {
          p.last = reply.summary.last;
          if (reply.summary.isCopying) startCopy();
          else next({ type: "fence", ...base }, source);
          return true;
        }
        if (from !== source) return true;
        if (from === target) p.last = reply.summary.last;
        const { base: logBase, last, epochs } = reply.summary;
        const expect = p.last ?? { epoch: 0, seq: 0 };
        next({ type: "truncate", ...base, source: { base: logBase, last, epochs }, expect }, target);
        return true;
      }
      case "truncated":
      case "installed":
      case "replicated":
        p.last = reply.last;
        if (p.copy?.next != null) {
          next({ type: "snapshot", ...base, base: p.copy.base, afterKey: p.copy.next }, source);
          return true;
        }
        p.copy = null;
        if (this.tryTail(target)) return true;
        next({ type: "fetch", ...base, afterSeq: reply.last.seq, limit: FETCH_LIMIT }, source);
        return true;
      case "changes": {
        const from0 = p.last as LogPosition;
        const changes = reply.changes.filter((c) => c.seq > from0.seq);
        if (changes.length === 0) {
          // The source has nothing newer: during reconcile we are level with it.
          if (this.phase === "reconciling") this.checkReconciled();
          else p.retryTicks = 1; // serving: the tail moves on; try again next tick
          return true;
        }
        const records = changes.map(({ status: _status, ...record }) => record);
        next({ type: "replicate", ...base, prev: from0, changes: records }, target);
        return true;
      }
      case "snapshot-rows": {
        if (p.copy === null || from !== source) return this.failStep(target), true;
        const first = p.copy.base === null;
        p.copy = { base: reply.base, next: reply.next };
        const expect = p.last ?? { epoch: 0, seq: 0 };
        const { rows } = reply;
        const last = reply.next === null;
        next({ type: "install", ...base, base: reply.base, rows, first, last, expect }, target);
        return true;
      }
      case "refused":
        if (reply.reason === "stale-epoch") this.depose();
        else if (reply.reason === "trimmed" || reply.reason === "copying") {
          if (from === target) {
            p.last = reply.last;
            startCopy();
          } else if (reply.reason === "trimmed" && p.copy?.base != null) {
            // The source trimmed its log past the copy's base while the copy went on (writes
            // outran it): its later pages can no longer be read as of that base.
            startCopy();
          } else this.failStep(target);
        } else this.failStep(target);
        return true;
      default:
        this.failStep(target);
        return true;
    }
  }

  /**
   * Serving: a replica whose next change is in `recent` gets the rest from memory and every
   * new write from now on; it must acknowledge writes from here, and an insync-add is proposed.
   * During reconcile, being level with the source is enough.
   */
  private tryTail(target: number): boolean {
    const p = this.progressOf(target);
    const last = p.last as LogPosition;
    if (this.phase === "reconciling") {
      if (compare(last, this.last) !== 0) return false;
      this.checkReconciled();
      return true;
    }
    if (this.phase !== "serving") return false;
    const missing = this.changesAfter(last);
    if (missing === null) return false;
    // More than one message holds: the catch-up goes on by fetches (sized in bytes) first.
    if (countWithin(missing, changeBytesAtMost) < missing.length) return false;
    // Its last change is durable there (it answered a catch-up step with it).
    p.ackedSeq = Math.max(p.ackedSeq, last.seq);
    this.beginTailing(target);
    this.resend(target, last, missing);
    return true;
  }

  private readonly tailRids = new Map<number, number>();
  /** Fences sent to probe an in-sync replica that failed but could not be removed. */
  private readonly probeRids = new Map<number, number>();

  /** Sends `changes` (this epoch's, from `recent`) to a replica whose last change is `prev`. */
  private resend(target: number, prev: LogPosition, changes: ChangeRecord[]): void {
    if (changes.length === 0) return;
    const rid = this.send(target, {
      type: "replicate",
      partition: this.partition,
      epoch: this.context.epoch,
      prev,
      changes,
    });
    this.tailRids.set(rid, target);
  }

  /** The changes after `last` that this epoch sent, or null when `recent` no longer has them. */
  private changesAfter(last: LogPosition): ChangeRecord[] | null {
    const sent = this.unsentPrev;
    if (last.seq === sent.seq) return last.epoch === sent.epoch ? [] : null;
    const first = this.recent[0];
    if (first === undefined || last.seq < first.seq - 1 || last.seq > sent.seq) return null;
    if (last.seq >= first.seq && this.recent[last.seq - first.seq]?.epoch !== last.epoch) return null;
    return this.recent.filter((c) => c.seq > last.seq && c.seq <= sent.seq);
  }

  /**
   * An in-sync replica that failed while it was the last one cannot be removed: ask it again
   * (a fence answers with its position) and send it what it misses, so writes can go on.
   */
  private probe(id: number): void {
    const p = this.progressOf(id);
    p.retryTicks = RETRY_TICKS;
    const rid = this.send(id, { type: "fence", partition: this.partition, epoch: this.context.epoch });
    this.probeRids.set(rid, id);
  }

  private onProbeReply(rid: number, from: number, reply: DataReply): boolean {
    const id = this.probeRids.get(rid);
    if (id === undefined) return false;
    this.probeRids.delete(rid);
    if (reply.type !== "fenced" || from !== id) return true;
    const missing = this.changesAfter(reply.summary.last);
    if (missing === null) return true; // its history is not ours to mend from memory
    const p = this.progressOf(id);
    p.isFailed = false;
    p.last = reply.summary.last;
    p.ackedSeq = Math.max(p.ackedSeq, reply.summary.last.seq);
    this.resend(id, reply.summary.last, missing);
    this.completeWrites();
    return true;
  }

  private beginTailing(target: number): void {
    const p = this.progressOf(target);
    if (p.mode === "insync") return;
    p.mode = "tailing";
    this.proposeAddIfLevel(target);
  }

  /**
   * A tailing replica joins the in-sync set once it holds every write acknowledged so far:
   * from then on each write waits for it too, so when the entry applies it holds them all
   * (a replica enters the set only holding every acknowledged write).
   */
  private proposeAddIfLevel(target: number): void {
    const p = this.progressOf(target);
    if (p.mode !== "tailing" || p.isAddPending || p.isFailed) return;
    if (this.context.insync().includes(target)) return;
    if (p.ackedSeq < this.acknowledgedSeq) return;
    p.changeWaitTicks = 0;
    p.isAddPending = this.context.propose({
      type: "insync-add",
      partition: this.partition,
      id: target,
      term: this.context.epoch,
    });
  }

  private failStep(target: number): void {
    this.onFailure(target);
  }

  // ---- writes ------------------------------------------------------------------------------

  /**
   * Orders a write; `done` runs once every replica that must have it has it durably. With
   * `ifVersion`, the write is ordered only if the key's version at the head of the order is
   * that one; otherwise CONFLICT, answered once the writes that version rests on are
   * acknowledged (were one lost, the version it reports would never have existed).
   */
  write(
    key: string,
    value: string | null,
    writer: string | null,
    done: (r: WriteResult) => void,
    options: WriteOptions = plainWrite,
  ) {
    if (this.phase === "deposed") {
      return done({ ok: false, code: "UNAVAILABLE", message: "this node is no longer the leader" });
    }
    if (writer !== null) {
      const same = this.pendingByWriter.get(writer);
      if (same !== undefined) return void same.done.push(done);
    }
    const again = () => this.write(key, value, writer, done, options);
    if (this.phase !== "serving") {
      if (this.isStalled()) return done(this.stalled());
      this.queuedWrites.push(again);
      return;
    }
    if (this.versions.isGated(key)) return this.versions.wait(key, again);
    if (options.ifVersion !== null) {
      const head = this.versions.get(key);
      if (head === undefined) return this.lookUpVersion(key, again, done);
      if (head.version !== options.ifVersion) return this.conflict(key, head, done);
    }
    const prev = this.unsent.length > 0 ? (this.unsent[this.unsent.length - 1] as ChangeRecord) : this.unsentPrev;
    const seq = prev.seq + 1;
    const expiresAt = value === null ? null : options.expiresAt;
    const change: ChangeRecord = {
      seq,
      epoch: this.context.epoch,
      key,
      value,
      writer,
      ...(expiresAt === null ? {} : { expiresAt }),
    };
    this.versions.ordered(key, seq, value === null);
    this.expiry.ordered(key, seq, expiresAt);
    const entry: PendingWrite = { change, status: null, done: [done] };
    this.pending.push(entry);
    this.orderedCount++;
    this.pendingByKey.set(key, (this.pendingByKey.get(key) ?? 0) + 1);
    if (writer !== null) this.pendingByWriter.set(writer, entry);
    this.unsent.push(change);
    this.recent.push(change);
    this.recentChars += changeChars(change);
    this.trimRecent();
  }

  /**
   * Trimmed in halves, not one by one: shift() copies the whole array on every write. The
   * bound in characters drops acknowledged changes only: an in-sync replica that failed as the
   * last one holds every acknowledged write, and is mended from here (onProbeReply).
   */
  private trimRecent(): void {
    if (this.recent.length >= 2 * RECENT_CHANGES_MAX) this.dropRecent(RECENT_CHANGES_MAX);
    const max = this.context.recentCharsMax;
    if (this.recentChars < 2 * max) return;
    let count = 0;
    let chars = this.recentChars;
    for (const change of this.recent) {
      if (chars <= max || change.seq > this.acknowledgedSeq) break;
      chars -= changeChars(change);
      count++;
    }
    this.dropRecent(count);
  }

  private dropRecent(count: number): void {
    for (const change of this.recent.slice(0, count)) this.recentChars -= changeChars(change);
    this.recent.splice(0, count);
  }

  hasUnsent(): boolean {
    return this.unsent.length > 0;
  }

  /**
   * The key's version is not known here (no write to it in flight): read it from an in-sync
   * replica, holding the key's other writes meanwhile so none is ordered before the answer.
   * With no write to the key in flight, every write to it is acknowledged, so every in-sync
   * replica holds them all and the row it answers is the head of the order.
   */
  private lookUpVersion(key: string, then: () => void, done: (r: WriteResult) => void): void {
    const replica = this.readReplica();
    if (replica === null) {
      const message = `partition ${this.partition} has no live in-sync replica`;
      return done({ ok: false, code: "UNAVAILABLE", message });
    }
    this.versions.close(key);
    const base = { partition: this.partition, epoch: this.context.epoch };
    const rid = this.send(replica, { type: "read", ...base, key });
    this.readsInFlight.set(rid, (answer) => {
      // The write that asked goes first, then those that waited, in arrival order.
      const waiting = this.versions.open(key);
      if (answer.ok) {
        this.versions.learned(key, answer.row?.seq ?? 0);
        then();
      } else done(answer);
      for (const run of waiting) run();
      if (!this.pendingByKey.has(key)) this.versions.forget(key);
    });
  }

  private conflict(key: string, head: HeadVersion, done: (r: WriteResult) => void): void {
    const message = head.version === 0
      ? `key ${key} does not exist (version 0)`
      : `key ${key} is at version ${head.version}`;
    this.whenAcknowledged(
      head.seq,
      () => done({ ok: false, code: "CONFLICT", message, version: head.version }),
      done,
    );
  }

  /** Reads the rows with a TTL, a page at a time, so keys of earlier leaders expire too. */
  private readExpiring(): void {
    const afterKey = this.expiringAfter;
    if (afterKey === null || this.isExpiringReadInFlight || this.phase !== "serving") return;
    const replica = this.readReplica();
    if (replica === null) return; // tried again at the next tick
    const base = { partition: this.partition, epoch: this.context.epoch };
    const limit = EXPIRING_PAGE_ROWS;
    this.isExpiringReadInFlight = true;
    const rid = this.send(replica, { type: "rows", ...base, afterKey, limit, ttlOnly: true });
    this.readsInFlight.set(rid, (answer) => {
      this.isExpiringReadInFlight = false;
      if (!answer.ok) return;
      const rows = answer.rows ?? [];
      for (const row of rows) {
        if (row.expiresAt !== undefined) this.expiry.learned(row.key, row.seq, row.expiresAt);
      }
      const last = rows[rows.length - 1];
      this.expiringAfter = rows.length < limit || last === undefined ? null : last.key;
      this.readExpiring();
    });
  }

  /** Deletes the keys whose TTL ran out by cluster time `now`, each only at its version. */
  private expire(now: number): void {
    for (const { key, version } of this.expiry.due(now)) {
      this.write(key, null, null, () => undefined, { ifVersion: version, expiresAt: null });
    }
  }

  /**
   * A retried write: if an earlier attempt of `writer` is in flight here, it answers both; if one
   * was applied (by this leader or an earlier one), its outcome is answered from an in-sync
   * replica's change log; only otherwise is the write made. A fenced replica holds every write
   * an earlier leader could still have made, so "not in its log" means "never happened".
   */
  writeOnce(
    key: string,
    value: string | null,
    writer: string,
    done: (r: WriteResult) => void,
    options: WriteOptions = plainWrite,
  ) {
    if (this.phase === "fencing" || this.phase === "reconciling") {
      if (this.isStalled()) return done(this.stalled());
      this.queuedWrites.push(() => this.writeOnce(key, value, writer, done, options));
      return;
    }
    if (this.pendingByWriter.has(writer) || this.phase !== "serving") {
      return this.write(key, value, writer, done, options);
    }
    const replica = this.readReplica();
    if (replica === null) {
      const message = `partition ${this.partition} has no live in-sync replica`;
      return done({ ok: false, code: "UNAVAILABLE", message });
    }
    const base = { partition: this.partition, epoch: this.context.epoch };
    const rid = this.send(replica, { type: "writer", ...base, key, writer });
    this.writerLookups.set(rid, (change) => {
      if (change === null) {
        const message = "could not tell whether an earlier attempt happened; it did not happen now";
        return done({ ok: false, code: "UNAVAILABLE", message });
      }
      if (change === undefined) {
        return this.write(key, value, writer, done, options);
      }
      done({
        ok: true,
        status: change.status,
        version: change.seq,
        replicas: this.context.insync().length,
      });
    });
  }

  /** Lookups of retried writers: the change found, undefined if none, null if no answer. */
  private readonly writerLookups = new Map<
    number,
    (change: { key: string; seq: number; status: ChangeStatus } | undefined | null) => void
  >();

  /** Sends the writes ordered since the last flush: one replicate per replica. */
  flush(): void {
    if (this.unsent.length === 0) return;
    const changes = this.unsent;
    const prev = this.unsentPrev;
    this.unsent = [];
    this.unsentPrev = { epoch: this.context.epoch, seq: (changes[changes.length - 1] as ChangeRecord).seq };
    for (const id of this.writeTargets()) {
      const rid = this.send(id, {
        type: "replicate",
        partition: this.partition,
        epoch: this.context.epoch,
        prev,
        changes,
      });
      this.tailRids.set(rid, id);
    }
  }

  /** In-sync replicas, those being added, and those tailing the log. */
  private writeTargets(): number[] {
    const insync = this.context.insync();
    const out = new Set(insync.filter((id) => !this.progressOf(id).isFailed));
    for (const [id, p] of this.progress) {
      if (!p.isFailed && (p.mode === "tailing" || p.isAddPending)) out.add(id);
    }
    return [...out];
  }

  /** Whose acknowledgement a write needs: every in-sync replica, and those being added. */
  private mustAck(): number[] {
    const out = new Set(this.context.insync());
    for (const [id, p] of this.progress) {
      if (p.isAddPending || (p.mode === "tailing" && !p.isFailed)) out.add(id);
    }
    return [...out];
  }

  private onWriteAck(from: number, reply: Extract<DataReply, { type: "replicated" }>): void {
    const p = this.progressOf(from);
    p.last = reply.last;
    p.ackedSeq = Math.max(p.ackedSeq, reply.last.seq);
    this.context.replicated?.(from, reply.statuses.length);
    this.proposeAddIfLevel(from);
    // Statuses come with the changes of that request; replicas with the same history agree.
    const count = reply.statuses.length;
    for (const entry of this.pending) {
      const offset = entry.change.seq - (reply.last.seq - count + 1);
      if (offset >= 0 && offset < count && entry.status === null) {
        entry.status = reply.statuses[offset] as ChangeStatus;
      }
    }
    this.completeWrites();
  }

  /** Acknowledges, in order, the writes every replica that must have them has. */
  private completeWrites(): void {
    const required = this.mustAck();
    while (this.pending.length > 0) {
      const entry = this.pending[0] as PendingWrite;
      const seq = entry.change.seq;
      const holders = required.filter((id) => this.progressOf(id).ackedSeq >= seq);
      // A failed in-sync replica still counts as required until its removal is applied: a
      // write is never acknowledged without a replica the Raft state still calls in sync.
      if (holders.length < required.length) return;
      if (holders.length < this.context.minInsync) return;
      if (entry.status === null) return this.fetchStatuses(holders);
      this.pending.shift();
      this.acknowledgedSeq = seq;
      this.trimRecent();
      // Before the key's waiting reads run again (releaseKey): they may be answered from it.
      this.cacheAcknowledged(entry.change);
      this.releaseKey(entry);
      const result: WriteResult = {
        ok: true,
        status: entry.status,
        version: seq,
        replicas: holders.length,
      };
      for (const done of entry.done) done(result);
      this.context.committed?.({ ...entry.change, status: entry.status });
    }
    this.releaseAwaitingReads();
  }

  /**
   * Every replica that must have the oldest pending write has it, but its outcome is unknown
   * (the acknowledgement came from a probe, not a replicate answer): read the outcomes from a
   * holder's change log.
   */
  private fetchStatuses(holders: readonly number[]): void {
    // A holder that took the write by a full copy has it in its rows but not in its log.
    const from = holders[this.statusTurn % holders.length];
    const first = this.pending[0];
    if (from === undefined || first === undefined || this.statusRid !== 0) return;
    this.statusRid = this.send(from, {
      type: "fetch",
      partition: this.partition,
      epoch: this.context.epoch,
      afterSeq: first.change.seq - 1,
      limit: Math.min(this.pending.length, FETCH_LIMIT),
    });
  }

  private onStatusReply(rid: number, reply: DataReply): boolean {
    if (rid !== this.statusRid) return false;
    this.statusRid = 0;
    const changes = reply.type === "changes" ? reply.changes : [];
    for (const change of changes) {
      const entry = this.pending.find((e) => e.change.seq === change.seq);
      if (entry !== undefined && entry.change.epoch === change.epoch) entry.status = change.status;
    }
    // Asked again on the next tick, of another holder, when this one did not know the first.
    if (this.pending[0]?.status === null) this.statusTurn++;
    else this.completeWrites();
    return true;
  }

  private releaseKey(entry: PendingWrite): void {
    const { key, writer } = entry.change;
    const left = (this.pendingByKey.get(key) ?? 1) - 1;
    if (writer !== null && this.pendingByWriter.get(writer) === entry) {
      this.pendingByWriter.delete(writer);
    }
    if (left > 0) {
      this.pendingByKey.set(key, left);
      return;
    }
    this.pendingByKey.delete(key);
    this.versions.forget(key);
    for (const run of this.waitingReads.get(key)?.splice(0) ?? []) run();
    this.waitingReads.delete(key);
  }

  // ---- reads -------------------------------------------------------------------------------

  /** Reads `key` from an in-sync replica once no write to it is in flight. */
  read(key: string, done: (result: ReadResult) => void): void {
    if (this.phase === "deposed") {
      return done({ ok: false, code: "UNAVAILABLE", message: "this node is no longer the leader" });
    }
    if (this.phase !== "serving") {
      if (this.isStalled()) return done(this.stalled());
      this.queuedWrites.push(() => this.read(key, done));
      return;
    }
    if (this.pendingByKey.has(key)) {
      const waiting = this.waitingReads.get(key) ?? [];
      waiting.push(() => this.read(key, done));
      this.waitingReads.set(key, waiting);
      return;
    }
    const cached = this.cache?.get(key);
    if (cached !== undefined) {
      this.context.readCached?.(true);
      return done({ ok: true, row: cached });
    }
    const replica = this.readReplica();
    if (replica === null) {
      return done({ ok: false, code: "UNAVAILABLE", message: `partition ${this.partition} has no live in-sync replica` });
    }
    if (replica !== this.context.selfId) this.context.readCached?.(false);
    const rid = this.send(replica, { type: "read", partition: this.partition, epoch: this.context.epoch, key });
    const orderedAtSend = this.orderedCount;
    this.readsInFlight.set(rid, (answer) => {
      if (!answer.ok) return done(answer);
      // The replica may already hold writes of ours that are not acknowledged yet (a message
      // can overtake another): answer only once they are, or never show them (deposed).
      this.whenAcknowledged(answer.asOf ?? 0, () => {
        // No write to the key was in flight at the send (checked above); with none ordered
        // since, the row is the key's current one. A read of our own replica is not kept:
        // it costs little, and the cache's room is for the partitions we do not hold.
        const row = answer.row ?? null;
        if (replica !== this.context.selfId && this.orderedCount === orderedAtSend) {
          this.cache?.set(key, row);
        }
        done({ ok: true, row });
      }, done);
    });
  }

  /**
   * An acknowledged write's row is its key's current one: it replaces the cached row. Rows
   * enter the cache only through reads (above), so writes to keys nobody reads cost a lookup.
   */
  private cacheAcknowledged(change: ChangeRecord): void {
    const cache = this.cache;
    if (cache === null || !cache.has(change.key)) return;
    const row: DataRow | null =
      change.value === null
        ? null
        : {
            key: change.key,
            partition: this.partition,
            seq: change.seq,
            epoch: change.epoch,
            value: change.value,
            writer: change.writer,
            ...(change.expiresAt === undefined ? {} : { expiresAt: change.expiresAt }),
          };
    cache.set(change.key, row);
  }

  /**
   * Rows after `afterKey` in key order (limit > 0), or the partition's key count (limit 0),
   * from an in-sync replica that took this epoch. No wait for writes in flight: a scan promises
   * every key present for the whole scan, not a point in time.
   */
  page(afterKey: string, limit: number, done: (result: PageResult) => void): void {
    const replica = this.replicaToRead(() => this.page(afterKey, limit, done), done);
    if (replica === null) return;
    const base = { partition: this.partition, epoch: this.context.epoch };
    const rid = this.send(
      replica,
      limit === 0 ? { type: "count", ...base } : { type: "rows", ...base, afterKey, limit },
    );
    this.readsInFlight.set(rid, (result) => {
      if (!result.ok) return done(result);
      done({ ok: true, rows: result.rows ?? [], count: result.count ?? 0, more: result.more ?? false });
    });
  }

  /**
   * The changes of `key` after `since` that the partition's log still holds (WATCH), from an
   * in-sync replica, answered once every change the replica may have shown is acknowledged.
   */
  watch(key: string, since: number, limit: number, done: (result: WatchResult) => void): void {
    const replica = this.replicaToRead(() => this.watch(key, since, limit, done), done);
    if (replica === null) return;
    const base = { partition: this.partition, epoch: this.context.epoch };
    const rid = this.send(replica, { type: "key-changes", ...base, key, afterSeq: since, limit });
    this.watchesInFlight.set(rid, (reply) => {
      if (reply?.type !== "key-changes") {
        if (reply?.type === "refused" && reply.reason === "stale-epoch") this.depose();
        const message = `replica ${replica} of partition ${this.partition} refused the read`;
        return done({ ok: false, code: "UNAVAILABLE", message });
      }
      if (reply.compacted) {
        const message = `the change log of partition ${this.partition} starts after version ` +
          `${reply.base}; changes of this key since ${since} may be gone`;
        return done({ ok: false, code: "COMPACTED", message, oldest: reply.base + 1 });
      }
      const newest = reply.changes[reply.changes.length - 1];
      const version = reply.more && newest !== undefined ? newest.seq : reply.asOf;
      const { changes, more } = reply;
      const answer = (): void => done({ ok: true, changes, version, more });
      this.whenAcknowledged(reply.asOf, answer, done);
    });
  }

  /** WATCH requests out to a replica: the answer, or null when none came (timeout, depose). */
  private readonly watchesInFlight = new Map<number, (reply: DataReply | null) => void>();

  /** Runs `then` once every write up to `seq` is acknowledged; `fail` if leadership is lost. */
  private whenAcknowledged(
    seq: number,
    then: () => void,
    fail: (result: { ok: false; code: "UNAVAILABLE"; message: string }) => void,
  ): void {
    if (seq <= this.acknowledgedSeq) return then();
    this.readsAwaitingAcks.push({ seq, then, fail });
  }

  private releaseAwaitingReads(): void {
    if (this.readsAwaitingAcks.length === 0) return;
    const ready = this.readsAwaitingAcks.filter((r) => r.seq <= this.acknowledgedSeq);
    this.readsAwaitingAcks = this.readsAwaitingAcks.filter((r) => r.seq > this.acknowledgedSeq);
    for (const r of ready) r.then();
  }

  /**
   * The in-sync replica a SCAN page or WATCH reads from; null when there is none now, `done`
   * then answered, or when the partition is not served yet, `retry` then queued until it is.
   */
  private replicaToRead(
    retry: () => void,
    done: (result: { ok: false; code: "UNAVAILABLE"; message: string }) => void,
  ): number | null {
    if (this.phase === "deposed") {
      done({ ok: false, code: "UNAVAILABLE", message: "this node is no longer the leader" });
      return null;
    }
    if (this.phase !== "serving") {
      if (this.isStalled()) done(this.stalled());
      else this.queuedWrites.push(retry);
      return null;
    }
    const replica = this.readReplica();
    if (replica === null) {
      const message = `partition ${this.partition} has no live in-sync replica`;
      done({ ok: false, code: "UNAVAILABLE", message });
    }
    return replica;
  }

  private readReplica(): number | null {
    const live = this.context.insync().filter((id) => !this.progressOf(id).isFailed);
    if (live.includes(this.context.selfId)) return this.context.selfId;
    return live[0] ?? null;
  }

  // ---- answers, failures, applied entries, ticks -------------------------------------------

  onReply(rid: number, from: number, reply: DataReply): void {
    const watch = this.watchesInFlight.get(rid);
    if (watch !== undefined) {
      this.watchesInFlight.delete(rid);
      return watch(reply);
    }
    const read = this.readsInFlight.get(rid);
    if (read !== undefined) {
      this.readsInFlight.delete(rid);
      if (reply.type === "row") return read({ ok: true, row: reply.row, asOf: reply.asOf });
      if (reply.type === "rows-page") {
        return read({ ok: true, row: null, rows: reply.rows, more: reply.more === true });
      }
      if (reply.type === "row-count") return read({ ok: true, row: null, count: reply.count });
      if (reply.type === "refused" && reply.reason === "stale-epoch") this.depose();
      const message = `replica ${from} of partition ${this.partition} refused the read`;
      return read({ ok: false, code: "UNAVAILABLE", message });
    }
    if (this.phase === "fencing" && reply.type === "fenced" && this.progressOf(from).stepRid === rid) {
      this.progressOf(from).stepRid = 0;
      this.summaries.set(from, reply.summary);
      return this.checkFencingDone();
    }
    if (this.onStepReply(rid, from, reply)) return;
    if (this.onProbeReply(rid, from, reply)) return;
    if (this.onStatusReply(rid, reply)) return;
    const lookup = this.writerLookups.get(rid);
    if (lookup !== undefined) {
      this.writerLookups.delete(rid);
      // A refusal (the replica was fenced by a newer leader, or is copying) says nothing.
      return lookup(reply.type === "writer-change" ? (reply.change ?? undefined) : null);
    }
    if (this.tailRids.has(rid)) {
      this.tailRids.delete(rid);
      if (reply.type === "replicated") return this.onWriteAck(from, reply);
      if (reply.type === "refused" && reply.reason === "stale-epoch") return this.depose();
      return this.onFailure(from);
    }
    if (reply.type === "refused" && reply.reason === "stale-epoch") this.depose();
  }

  /**
   * Member `id` is heard again after a silence: a catch-up or probe of it that failed while it
   * was away is retried at the next tick instead of RETRY_TICKS after the failure. (What was
   * sent to it meanwhile waited in its peer queue and reaches it now, too late to count.)
   */
  onMemberReturned(id: number): void {
    const p = this.progress.get(id);
    if (p !== undefined) p.retryTicks = Math.min(p.retryTicks, 1);
  }

  /** `rid` to `to` got no answer in time, or `to` refused in a way that means it fell out. */
  onTimeout(rid: number, to: number): void {
    const watch = this.watchesInFlight.get(rid);
    this.watchesInFlight.delete(rid);
    watch?.(null);
    const read = this.readsInFlight.get(rid);
    if (read !== undefined) {
      this.readsInFlight.delete(rid);
      const message = `replica ${to} of partition ${this.partition} did not answer the read`;
      read({ ok: false, code: "UNAVAILABLE", message });
    }
    const step = this.stepSource.get(rid);
    if (rid === this.statusRid) {
      this.statusRid = 0;
      this.statusTurn++;
    }
    const lookup = this.writerLookups.get(rid);
    if (lookup !== undefined) {
      this.writerLookups.delete(rid);
      lookup(null);
    }
    this.stepSource.delete(rid);
    this.tailRids.delete(rid);
    this.probeRids.delete(rid);
    if (step !== undefined && step.target !== to) {
      // The source of a catch-up went silent: that catch-up starts over later (from another
      // source if there is one); the target itself did nothing wrong.
      const target = this.progressOf(step.target);
      if (target.stepRid === rid) {
        target.stepRid = 0;
        target.retryTicks = RETRY_TICKS;
      }
    }
    this.onFailure(to);
  }

  private onFailure(id: number): void {
    const p = this.progressOf(id);
    if (p.isFailed) return;
    p.isFailed = true;
    p.stepRid = 0;
    p.retryTicks = RETRY_TICKS;
    // A tailing replica that failed before its add was proposed starts its catch-up over (writes
    // no longer wait for it); one whose add is under way stays until the add resolves.
    if (p.mode === "tailing" && !p.isAddPending) p.mode = "idle";
    this.proposeRemovalIfNeeded(id);
    if (this.phase === "reconciling" && id === this.source) {
      // The source is gone: take over again with whoever answers.
      this.progress.forEach((q) => (q.stepRid = 0));
    }
  }

  private proposeRemovalIfNeeded(id: number): void {
    const p = this.progressOf(id);
    if (!this.context.insync().includes(id) || p.isRemovePending) return;
    // Never the last in-sync replica: the partition waits (UNAVAILABLE) rather than lose data.
    if (this.context.insync().length <= 1) return;
    this.proposeRemoval(id, p);
  }

  /** Proposes taking `id` out of the in-sync set, through Raft; `p` is its progress. */
  private proposeRemoval(id: number, p: Progress): void {
    p.changeWaitTicks = 0;
    p.isRemovePending = this.context.propose({
      type: "insync-remove",
      partition: this.partition,
      id,
      term: this.context.epoch,
    });
  }

  /** The Raft state changed this partition's in-sync set (a committed entry was applied). */
  onInsyncChanged(): void {
    const insync = this.context.insync();
    for (const [id, p] of this.progress) {
      if (insync.includes(id)) {
        if (p.isAddPending) {
          p.isAddPending = false;
          p.mode = "insync";
        }
        if (p.isFailed) this.proposeRemovalIfNeeded(id);
      } else {
        p.isRemovePending = false;
        if (p.mode === "insync") {
          // It left the set: a takeover's fence or a reconcile step still out for it is moot.
          p.mode = p.isFailed ? "idle" : "catching-up";
          p.stepRid = 0;
        }
        if (p.isAddPending === false && p.isFailed && p.mode === "tailing") p.mode = "idle";
      }
    }
    if (this.phase === "fencing") this.checkFencingDone();
    else if (this.phase === "reconciling") this.checkReconciled();
    this.completeWrites();
  }

  /**
   * Taking over while every in-sync replica is silent: only their return can end it, so what
   * waits is answered UNAVAILABLE now rather than left to time out (it never happened).
   */
  private isStalled(): boolean {
    if (this.phase !== "fencing" && this.phase !== "reconciling") return false;
    const insync = this.context.insync();
    return insync.length > 0 && insync.every((id) => this.context.isSuspect(id));
  }

  private stalled(): { ok: false; code: "UNAVAILABLE"; message: string } {
    const ids = this.context.insync().join(", ");
    const message = `partition ${this.partition} has no live in-sync replica (its in-sync ` +
      `replicas: ${ids}); it serves again once one of them returns`;
    return { ok: false, code: "UNAVAILABLE", message };
  }

  /**
   * Retries what failed and starts catch-ups of placed replicas that are not in sync; with the
   * cluster time `now` (cluster-clock.ts), deletes the keys whose TTL ran out.
   */
  tick(now: number | null = null): void {
    if (this.phase === "deposed") return;
    if (this.phase === "serving") {
      this.readExpiring();
      if (now !== null) this.expire(now);
    }
    if (this.isStalled()) for (const run of this.queuedWrites.splice(0)) run();
    const insync = this.context.insync();
    if (this.phase === "fencing") {
      for (const id of insync) {
        const p = this.progressOf(id);
        if (!this.summaries.has(id) && p.stepRid === 0 && --p.retryTicks <= 0) {
          p.isFailed = false;
          p.stepRid = this.send(id, { type: "fence", partition: this.partition, epoch: this.context.epoch });
        }
      }
      return;
    }
    if (this.phase === "reconciling") {
      if (this.source !== null && this.progressOf(this.source).isFailed) this.startFencing();
      return;
    }
    this.retireUnplaced();
    if (this.statusRid === 0 && this.pending[0]?.status === null) this.completeWrites();
    for (const p of this.progress.values()) {
      if (!p.isAddPending && !p.isRemovePending) continue;
      if (++p.changeWaitTicks < CHANGE_WAIT_TICKS_MAX) continue;
      p.changeWaitTicks = 0;
      p.isRemovePending = false;
      if (p.isAddPending) {
        p.isAddPending = false;
        p.mode = "catching-up";
        p.retryTicks = 0;
      }
    }
    for (const id of insync) {
      const p = this.progressOf(id);
      if (p.isFailed && !p.isRemovePending && insync.length > 1) this.proposeRemovalIfNeeded(id);
      if (!p.isFailed || p.isRemovePending || insync.length > 1) continue;
      if (--p.retryTicks <= 0) this.probe(id);
    }
    for (const id of this.context.placement()) {
      if (insync.includes(id)) continue;
      const p = this.progressOf(id);
      if (p.isAddPending || p.mode === "tailing" || p.stepRid !== 0) continue;
      if (p.isRemovePending || (p.isFailed && insync.includes(id))) continue;
      if (--p.retryTicks > 0) continue;
      p.isFailed = false;
      p.mode = "catching-up";
      this.startCatchUp(id);
    }
  }

  /**
   * Once every placed replica is in sync, replicas placement no longer gives the partition
   * (a member joined and took it over) leave the set, then drop their copy.
   */
  private retireUnplaced(): void {
    const insync = this.context.insync();
    const placement = this.context.placement();
    if (!placement.every((id) => insync.includes(id))) return;
    for (const id of insync) {
      const p = this.progressOf(id);
      if (placement.includes(id) || p.isRemovePending) continue;
      this.proposeRemoval(id, p);
      p.isDropDue = p.isRemovePending;
    }
    for (const [id, p] of this.progress) {
      if (!p.isDropDue || insync.includes(id)) continue;
      p.isDropDue = false;
      p.mode = "idle";
      this.send(id, { type: "drop", partition: this.partition, epoch: this.context.epoch });
    }
  }

  /** A newer leader fenced a replica: we are deposed; nothing more is acknowledged here. */
  depose(): void {
    if (this.phase === "deposed") return;
    this.phase = "deposed";
    const failure: WriteResult = {
      ok: false,
      code: "TIMEOUT",
      message: "leadership was lost while the write was in flight; it may or may not have happened",
    };
    for (const entry of this.pending.splice(0)) for (const done of entry.done) done(failure);
    const message = "leadership was lost before the read could be answered";
    for (const r of this.readsAwaitingAcks.splice(0)) r.fail({ ok: false, code: "UNAVAILABLE", message });
    // Requests still out get no answer now (the coordinator stops timing them): end them here.
    const reads = [...this.readsInFlight.values()];
    this.readsInFlight.clear();
    for (const read of reads) read({ ok: false, code: "UNAVAILABLE", message });
    const watches = [...this.watchesInFlight.values()];
    this.watchesInFlight.clear();
    for (const watch of watches) watch(null);
    const lookups = [...this.writerLookups.values()];
    this.writerLookups.clear();
    for (const lookup of lookups) lookup(null);
    for (const run of this.queuedWrites.splice(0)) run();
    for (const run of this.versions.openAll()) run();
    for (const [key, runs] of this.waitingReads) {
      this.waitingReads.delete(key);
      for (const run of runs) run();
    }
  }

  private progressOf(id: number): Progress {
    let p = this.progress.get(id);
    if (p === undefined) {
      p = {
        mode: "idle",
        last: null,
        ackedSeq: 0,
        stepRid: 0,
        copy: null,
        isFailed: false,
        isAddPending: false,
        isRemovePending: false,
        isDropDue: false,
        retryTicks: 0,
        changeWaitTicks: 0,
      };
      this.progress.set(id, p);
    }
    return p;
  }

  private send(to: number, request: OutgoingRequest): number {
    return this.context.send(to, request);
  }
}

function compare(a: LogPosition, b: LogPosition): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  return a.seq - b.seq;
}

/**
 * What a change in `recent` holds, in characters (a string's length, close to its bytes) plus
 * the record's own cost.
 */
function changeChars(change: ChangeRecord): number {
  const strings = change.key.length + (change.value?.length ?? 0) + (change.writer?.length ?? 0);
  return strings + CHANGE_OVERHEAD_CHARS;
}
