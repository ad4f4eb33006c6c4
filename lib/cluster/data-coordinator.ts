// The leader's data plane for one term: a PartitionLeader per partition, the numbering and
// timing of their requests (timeouts counted in ticks), and the routing of answers. Pure: the
// node core hands it answers, ticks and applied in-sync changes, and drains its outgoing
// requests. It exists only while this node leads, from the moment an entry of its own term is
// applied (so the in-sync sets it starts from are final) until it steps down.

import { partitionOf } from "../placement.ts";
import type { AppliedChange, DataRow } from "../store/replica-types.ts";
import type { DataReply, DataRequest } from "./data-messages.ts";
import { replyProblem } from "./peer-data-match.ts";
import {
  PartitionLeader,
  recentCharsMaxFor,
  type OutgoingRequest,
  type ReadResult,
  type WatchResult,
  type WriteResult,
} from "./partition-leader.ts";
import { readCacheCharsMaxFor } from "./read-cache.ts";
import type { ClusterCommand, ClusterState } from "./state.ts";
import { plainWrite, type WriteOptions } from "./write-conditions.ts";

export interface CoordinatorSettings {
  readonly selfId: number;
  readonly epoch: number;
  readonly minInsync: number;
  /** Ticks a data request may go unanswered before its replica is taken as failed. */
  readonly requestTimeoutTicks: number;
  /**
   * The same for a takeover's fence: shorter, since until every partition is fenced nothing is
   * served, and taking a slow replica out of the in-sync set is always safe.
   */
  readonly fenceTimeoutTicks: number;
}

export interface CoordinatorHooks {
  state(): ClusterState;
  propose(command: ClusterCommand): boolean;
  /** A member this node has not heard from lately: fenced as failed without waiting. */
  isSuspect(id: number): boolean;
  /** `count` changes were stored durably by replica `id` (for metrics). */
  replicated?(id: number, count: number): void;
  /** A read of a partition another node holds was answered from the read cache, or not. */
  readCached?(hit: boolean): void;
  /** A write of `partition` was acknowledged (in seq order within the partition): WATCH feed. */
  committed?(partition: number, change: AppliedChange): void;
  /**
   * A request id never used before by this node: a late answer to a request of an earlier term
   * must not be taken for the answer to a new one.
   */
  nextRid(): number;
}

export interface OutgoingData {
  readonly to: number;
  readonly request: DataRequest;
}

interface Tracked {
  readonly partition: number;
  readonly to: number;
  readonly request: DataRequest;
  readonly deadlineTick: number;
}

export type { ReadResult, WatchResult, WriteResult };

/** Where a scan resumes: after `afterKey` ("" = from the start) of `partition`. */
export interface ScanPosition {
  readonly partition: number;
  readonly afterKey: string;
}

export type ScanResult =
  | { ok: true; rows: readonly DataRow[]; next: ScanPosition | null }
  | { ok: false; code: "UNAVAILABLE" | "BAD_REQUEST"; message: string };

export type CountResult =
  | { ok: true; counts: readonly number[] }
  | { ok: false; code: "UNAVAILABLE"; message: string };

/** Value and key characters in one SCAN reply past its first page: far below the frame limit
 * even when every character needs a 6-character JSON escape. */
const SCAN_REPLY_CHARS_MAX = 4 * 1024 * 1024;

export class DataCoordinator {
  private readonly settings: CoordinatorSettings;
  private readonly hooks: CoordinatorHooks;
  private readonly leaders: PartitionLeader[] = [];
  private readonly tracked = new Map<number, Tracked>();
  private outgoing: OutgoingData[] = [];
  /** Replies dropped because they did not answer their request (for metrics and logs). */
  rejectedReplies = 0;
  private tickCount = 0;

  constructor(settings: CoordinatorSettings, hooks: CoordinatorHooks) {
    this.settings = settings;
    this.hooks = hooks;
    const partitions = hooks.state().partitions;
    for (let p = 0; p < partitions; p++) this.leaders.push(this.leaderFor(p));
  }

  get epoch(): number {
    return this.settings.epoch;
  }

  /** Whether every partition finished its takeover. */
  isServingAll(): boolean {
    return this.leaders.every((l) => l.isServing);
  }

  /** Every partition served with all of its in-sync replicas answering. */
  isHealthy(): boolean {
    return this.leaders.every((l) => l.isHealthy);
  }

  partitionLeader(partition: number): PartitionLeader | undefined {
    return this.leaders[partition];
  }

  /** `isRetry`: an earlier attempt of this writer may have happened; report its outcome. */
  write(
    key: string,
    value: string | null,
    writer: string | null,
    isRetry: boolean,
    done: (r: WriteResult) => void,
    options: WriteOptions = plainWrite,
  ) {
    const leader = this.leaderOfKey(key);
    if (isRetry && writer !== null) leader.writeOnce(key, value, writer, done, options);
    else leader.write(key, value, writer, done, options);
  }

  read(key: string, done: (r: ReadResult) => void): void {
    this.leaderOfKey(key).read(key, done);
  }

  /** The changes of `key` after version `since` still in its partition's log (WATCH). */
  watch(key: string, since: number, limit: number, done: (r: WatchResult) => void): void {
    this.leaderOfKey(key).watch(key, since, limit, done);
  }

  /**
   * Up to `count` rows from `cursor` on, walking partitions in order and each one's keys in key
   * order; `next` is where the following call resumes, null when the walk is done.
   */
  scan(cursor: ScanPosition, count: number, done: (r: ScanResult) => void): void {
    const rows: DataRow[] = [];
    let bytes = 0;
    const step = (partition: number, afterKey: string): void => {
      const leader = this.leaders[partition];
      if (leader === undefined) return done({ ok: true, rows, next: null });
      leader.page(afterKey, count - rows.length, (page) => {
        if (!page.ok) return done(page);
        for (const row of page.rows) {
          rows.push(row);
          bytes += row.value.length + row.key.length;
        }
        const last = page.rows[page.rows.length - 1];
        // A page the replica cut short (`more`) ends the reply there: the partition goes on.
        if ((rows.length >= count || page.more) && last !== undefined) {
          return done({ ok: true, rows, next: { partition, afterKey: last.key } });
        }
        const next = { partition: partition + 1, afterKey: "" };
        if (bytes >= SCAN_REPLY_CHARS_MAX || partition + 1 >= this.leaders.length) {
          return done({ ok: true, rows, next: partition + 1 >= this.leaders.length ? null : next });
        }
        step(next.partition, "");
      });
    };
    if (cursor.partition >= this.leaders.length) {
      const message = `cursor names partition ${cursor.partition} of ${this.leaders.length}: ` +
        "it comes from another cluster";
      return done({ ok: false, code: "BAD_REQUEST", message });
    }
    step(cursor.partition, cursor.afterKey);
  }

  /** The number of keys of every partition, each from one in-sync replica. */
  count(done: (r: CountResult) => void): void {
    const counts = new Array<number>(this.leaders.length).fill(0);
    let left = this.leaders.length;
    let failed = false;
    this.leaders.forEach((leader, partition) =>
      leader.page("", 0, (page) => {
        if (failed) return;
        if (!page.ok) {
          failed = true;
          return done(page);
        }
        counts[partition] = page.count;
        if (--left === 0) done({ ok: true, counts });
      }),
    );
  }

  onReply(from: number, reply: DataReply): void {
    const tracked = this.tracked.get(reply.rid);
    if (tracked === undefined || tracked.to !== from) return;
    // A well-formed reply that does not answer its request (rows of another partition, a
    // bogus refusal) is dropped: the request then times out like a lost one.
    const problem = replyProblem(tracked.request, reply, this.leaders.length);
    if (problem !== null) {
      this.rejectedReplies++;
      return;
    }
    this.tracked.delete(reply.rid);
    this.leaders[tracked.partition]?.onReply(reply.rid, from, reply);
  }

  /** Member `id` is heard again after a silence (longer than an election timeout). */
  onMemberReturned(id: number): void {
    for (const leader of this.leaders) leader.onMemberReturned(id);
  }

  onInsyncChanged(partition: number): void {
    this.leaders[partition]?.onInsyncChanged();
  }

  /** `now`: the cluster clock (cluster-clock.ts), for expiring keys; null: none expire. */
  tick(now: number | null = null): void {
    this.tickCount++;
    for (const [rid, t] of this.tracked) {
      if (t.deadlineTick > this.tickCount) continue;
      this.tracked.delete(rid);
      this.leaders[t.partition]?.onTimeout(rid, t.to);
    }
    for (const leader of this.leaders) leader.tick(now);
  }

  hasOutgoing(): boolean {
    return this.outgoing.length > 0 || this.leaders.some((l) => l.hasUnsent());
  }

  /** Sends what the partitions ordered since the last call (one replicate per replica). */
  takeOutgoing(): OutgoingData[] {
    for (const leader of this.leaders) leader.flush();
    const out = this.outgoing;
    this.outgoing = [];
    return out;
  }

  /** This node stopped leading: every pending operation learns it (outcome unknown). */
  stop(): void {
    for (const leader of this.leaders) leader.depose();
    this.tracked.clear();
    this.outgoing = [];
  }

  private leaderOfKey(key: string): PartitionLeader {
    const partition = partitionOf(key, this.leaders.length);
    return this.leaders[partition] as PartitionLeader;
  }

  private leaderFor(partition: number): PartitionLeader {
    const { hooks, settings } = this;
    return new PartitionLeader(partition, {
      selfId: settings.selfId,
      epoch: settings.epoch,
      minInsync: settings.minInsync,
      recentCharsMax: recentCharsMaxFor(hooks.state().partitions),
      readCacheCharsMax: readCacheCharsMaxFor(hooks.state().partitions),
      insync: () => hooks.state().insync(partition),
      placement: () => hooks.state().placement(partition),
      send: (to, request) => this.send(partition, to, request),
      propose: (command) => hooks.propose(command),
      isSuspect: (id) => id !== settings.selfId && hooks.isSuspect(id),
      replicated: (id, count) => hooks.replicated?.(id, count),
      readCached: (hit) => hooks.readCached?.(hit),
      committed: (change) => hooks.committed?.(partition, change),
    });
  }

  private send(partition: number, to: number, request: OutgoingRequest): number {
    const rid = this.hooks.nextRid();
    const timeoutTicks =
      request.type === "fence" ? this.settings.fenceTimeoutTicks : this.settings.requestTimeoutTicks;
    const numbered = { ...request, rid } as DataRequest;
    this.tracked.set(rid, {
      partition,
      to,
      request: numbered,
      deadlineTick: this.tickCount + timeoutTicks,
    });
    this.outgoing.push({ to, request: numbered });
    return rid;
  }
}
