// One node's whole decision-making, with no I/O: the Raft core (control plane), the ClusterState
// it drives, the replica role (data plane) and, while this node leads, the data coordinator.
// The shell (lib/cluster/node.ts) and the simulation (test/sim) drive it the same way:
//   tick(now) every tickMs; step(from, message) for each peer message; request(...) per client
//   operation; then while hasReady(): r = ready(now); persist r.raft and r.replicaWrites in ONE
//   transaction; send r.early (may precede the persist) and r.late; sends = advance(r, outcome);
//   send those. `now` is the shell's monotonic clock in ms, used only for the read lease.

import {
  decodeConfChange,
  RaftCore,
  type Message,
  type RaftConfig,
  type RaftLogger,
  type RaftStorage,
  type Random,
  type Ready,
} from "../raft/index.ts";
import type {
  AppliedChange,
  CommitOutcome,
  ReplicaStorage,
  ReplicaWrite,
} from "../store/replica-types.ts";
import type { DataReply, DataRequest } from "./data-messages.ts";
import {
  DataCoordinator,
  type ReadResult,
  type ScanPosition,
  type WatchResult,
  type WriteResult,
} from "./data-coordinator.ts";
import { ClusterClock } from "./cluster-clock.ts";
import { ReplicaCore, type ReplicaBatch, type ReplicaOptions } from "./replica-core.ts";
import {
  ClusterState,
  encodeCommand,
  parseCommand,
  parseMember,
  type ClusterCommand,
  type MemberRecord,
  type StateEffect,
} from "./state.ts";

export interface NodeCoreConfig {
  readonly id: number;
  readonly raft: Omit<RaftConfig, "id">;
  readonly tickMs: number;
  readonly minInsync: number;
  readonly requestTimeoutTicks: number;
  /** Share of the minimum election timeout the read lease may use (covers clock drift). */
  readonly leaseSafetyFactor: number;
  /** Ticks a lower-ordered voter must stay caught up before the lead is handed to it. */
  readonly handBackTicks: number;
  /** Applied entries between two snapshots of the ClusterState. */
  readonly snapshotEveryEntries: number;
  /** The replica role's sizes; defaults for a node, smaller in the simulation. */
  readonly replica?: ReplicaOptions;
}

export type PeerOut =
  | { readonly to: number; readonly kind: "raft"; readonly message: Message }
  | { readonly to: number; readonly kind: "data-request"; readonly request: DataRequest }
  | { readonly to: number; readonly kind: "data-reply"; readonly reply: DataReply };

export interface NodeReady {
  readonly raft: Ready | null;
  readonly replicaWrites: readonly ReplicaWrite[];
  readonly early: PeerOut[];
  readonly late: PeerOut[];
}

export type ClientOp =
  | {
      readonly op: "SET";
      readonly key: string;
      readonly value: string;
      readonly writer: string | null;
      /** An earlier attempt may have happened: answer its outcome if it did. */
      readonly isRetry?: boolean;
      /** Compare-and-set: the key's version must be this (0: absent). */
      readonly ifVersion?: number;
      /** The key is deleted this long after the leader took the write. */
      readonly ttlMs?: number;
    }
  | {
      readonly op: "DELETE";
      readonly key: string;
      readonly writer: string | null;
      readonly isRetry?: boolean;
      readonly ifVersion?: number;
    }
  | { readonly op: "GET"; readonly key: string }
  | {
      readonly op: "SCAN";
      readonly cursor: ScanPosition;
      readonly count: number;
      readonly keysOnly: boolean;
    }
  | { readonly op: "COUNT" }
  /** `since` null: no changes, only the version the answer is complete to (watch from now). */
  | { readonly op: "WATCH"; readonly key: string; readonly since: number | null }
  | { readonly op: "REMOVE"; readonly member: number; readonly isAlive: boolean };

export type ClientResult =
  | { ok: true; fields: Record<string, unknown> }
  | {
      ok: false;
      code: "NOT_LEADER" | "UNAVAILABLE" | "TIMEOUT" | "BAD_REQUEST" | "CONFLICT" | "COMPACTED";
      message: string;
      leader?: MemberRecord;
      /** CONFLICT: the key's current version (0 when absent). */
      version?: number;
      /** COMPACTED: the oldest version the partition's change log still holds. */
      oldest?: number;
    };

export type StepInput =
  | { readonly kind: "raft"; readonly message: Message }
  | { readonly kind: "data-request"; readonly request: DataRequest }
  | { readonly kind: "data-reply"; readonly reply: DataReply };

interface WaitingRead {
  /** Runs the read once leadership is confirmed and the read index applied. */
  readonly read: () => void;
  readonly done: (r: ClientResult) => void;
  index: number;
}

const QUEUED_OPS_MAX = 10_000;
/** Changes in one WATCH answer at most; `version` tells a client where to ask again. */
const WATCH_CHANGES_MAX = 1000;

export class NodeCore {
  readonly id: number;
  private readonly config: NodeCoreConfig;
  private readonly raft: RaftCore;
  private readonly replica: ReplicaCore;
  private stateValue: ClusterState;
  private coordinator: DataCoordinator | null = null;
  /** The cluster clock while this node coordinates (a new one per term). */
  private clock: ClusterClock | null = null;
  private readonly roundSentAt = new Map<number, number>();
  private roundsTerm = 0;
  private readonly readsByContext = new Map<string, WaitingRead>();
  private readsReady: WaitingRead[] = [];
  /** Operations that arrived before this new leader could coordinate. */
  private queued: Array<() => void> = [];
  private nextReadContext = 1;
  private appliedIndex = 0;
  /** Data request ids: unique for this process, and unlikely to meet an earlier process's. */
  private nextRid: number;
  private tickCount = 0;
  private readonly lastHeardTick = new Map<number, number>();
  /** Term of the last applied entry: a leader coordinates once it equals its own term. */
  private appliedTerm = 0;
  private appliedSinceSnapshot = 0;
  private handBackCandidate = 0;
  private handBackTicksSeen = 0;
  private replicaBatch: ReplicaBatch | null = null;
  /** Data requests from other nodes, served at the next ready() in the order they came. */
  private peerRequests: Array<{ from: number; request: DataRequest }> = [];
  private selfInbox: Array<{ kind: "request"; request: DataRequest } | { kind: "reply"; reply: DataReply }> = [];
  private readonly effectListeners: Array<(effect: StateEffect) => void> = [];
  private readonly pendingJoins = new Map<number, (ok: boolean, message: string) => void>();

  constructor(
    config: NodeCoreConfig,
    storage: { raft: RaftStorage; replica: ReplicaStorage },
    random: Random,
    logger?: RaftLogger,
  ) {
    this.id = config.id;
    this.config = config;
    this.raft = new RaftCore({ ...config.raft, id: config.id }, storage.raft, random, logger);
    this.nextRid = 1 + random.nextInt(2 ** 30) * 2 ** 20;
    this.replica = new ReplicaCore(storage.replica, config.replica);
    const snapshot = storage.raft.snapshot();
    this.stateValue = ClusterState.restore(snapshot.data) ?? new ClusterState();
    this.appliedIndex = snapshot.meta.index;
  }

  get state(): ClusterState {
    return this.stateValue;
  }

  status() {
    return this.raft.status();
  }

  /** Term, leader, role and voters: what the hot paths need, without status()'s copies. */
  brief() {
    return this.raft.brief();
  }

  /** The leader's newest write of `partition` (for lag on the status page), or null. */
  headSeq(partition: number): number | null {
    return this.coordinator?.partitionLeader(partition)?.headSeq ?? null;
  }

  /** Where partition `p`'s coordination stands (see PartitionLeader.describe), or null. */
  describePartition(partition: number): string | null {
    return this.coordinator?.partitionLeader(partition)?.describe() ?? null;
  }

  /** Leading, with every partition taken over and served. */
  isCoordinating(): boolean {
    return this.coordinator !== null && this.coordinator.isServingAll();
  }

  /** Leading, every partition served, every in-sync replica answering. */
  isHealthy(): boolean {
    return this.coordinator !== null && this.coordinator.isHealthy();
  }

  /** Told of every batch of changes a replica stored durably while this node leads (metrics). */
  onReplicated(listener: (id: number, count: number) => void): void {
    this.replicatedListener = listener;
  }

  private replicatedListener: ((id: number, count: number) => void) | null = null;

  /** Told whether each read of a partition another node holds hit the read cache (metrics). */
  onReadCached(listener: (hit: boolean) => void): void {
    this.readCachedListener = listener;
  }

  private readCachedListener: ((hit: boolean) => void) | null = null;

  /** Told of every write this node acknowledges as leader, in seq order per partition. */
  onCommitted(listener: (partition: number, change: AppliedChange) => void): void {
    this.committedListener = listener;
  }

  private committedListener: ((partition: number, change: AppliedChange) => void) | null = null;

  /** Called for each applied change of the cluster state (logging, heartbeat, dropping data). */
  onEffect(listener: (effect: StateEffect) => void): void {
    this.effectListeners.push(listener);
  }

  // ---- inputs ------------------------------------------------------------------------------

  /** `now`: the shell's monotonic clock in ms; without it no key expires and no clock reading
   * is committed (tests of the Raft side alone). */
  tick(now: number | null = null): void {
    this.tickCount++;
    this.raft.tick();
    this.coordinator?.tick(now === null ? null : this.clusterNow(now));
    if (now !== null) this.commitClock(now);
    this.maybeHandBack();
  }

  /** The cluster clock at monotonic `now`; null when this node does not coordinate. */
  private clusterNow(now: number): number | null {
    return this.coordinator === null || this.clock === null ? null : this.clock.read(now);
  }

  /** While coordinating, commits a clock reading every CLOCK_COMMIT_INTERVAL_MS. */
  private commitClock(now: number): void {
    if (this.coordinator === null || this.clock === null) return;
    const ms = this.clock.dueReading(now);
    if (ms !== null) this.propose({ type: "clock", ms });
  }

  /** Not heard from for longer than an election timeout. */
  private isSuspect(id: number): boolean {
    const silentTicks = this.tickCount - (this.lastHeardTick.get(id) ?? -Infinity);
    return silentTicks > this.config.raft.electionTicks;
  }

  step(from: number, input: StepInput): void {
    switch (input.kind) {
      case "raft": {
        // Any Raft message proves the sender alive: a new leader does not wait for members it
        // has not heard from during its election (see DataCoordinator's isSuspect). One that
        // returns after a silence has its failed catch-ups retried now (PartitionLeader).
        const isReturning = this.isSuspect(from);
        this.lastHeardTick.set(from, this.tickCount);
        if (isReturning) this.coordinator?.onMemberReturned(from);
        this.raft.step(input.message);
        return;
      }
      case "data-request":
        // Served in ready(), with the turn's other data requests in one read of the store; its
        // answer would not leave before then anyway.
        this.peerRequests.push({ from, request: input.request });
        return;
      case "data-reply":
        this.coordinator?.onReply(from, input.reply);
        return;
    }
  }

  campaign(): void {
    this.raft.campaign();
  }

  /** A client operation. `done` runs exactly once. */
  request(op: ClientOp, now: number, done: (r: ClientResult) => void): void {
    const refusal = this.notLeader();
    if (refusal !== null) return done(refusal);
    if (this.coordinator === null) {
      if (this.queued.length >= QUEUED_OPS_MAX) {
        return done({ ok: false, code: "UNAVAILABLE", message: "the new leader is still taking over" });
      }
      this.queued.push(() => this.request(op, now, done));
      return;
    }
    switch (op.op) {
      case "GET":
        return this.confirmLeadership(now, done, () => this.readData(op.key, done));
      case "SCAN":
        return this.confirmLeadership(now, done, () => this.scan(op, done));
      case "COUNT":
        return this.confirmLeadership(now, done, () => this.count(done));
      case "WATCH":
        return this.confirmLeadership(now, done, () => this.watch(op, done));
      case "REMOVE":
        return this.removeMember(op.member, op.isAlive, done);
      case "SET":
      case "DELETE": {
        const value = op.op === "SET" ? op.value : null;
        const isRetry = op.isRetry === true && op.writer !== null;
        const ttlMs = op.op === "SET" ? op.ttlMs : undefined;
        const clusterNow = this.clusterNow(now);
        const options = {
          ifVersion: op.ifVersion ?? null,
          expiresAt: ttlMs === undefined || clusterNow === null ? null : clusterNow + ttlMs,
        };
        const finish = (r: WriteResult) => done(writeResult(r));
        this.coordinator.write(op.key, value, op.writer, isRetry, finish, options);
      }
    }
  }

  /**
   * A join asked of this node (the leader): adds a new member through a conf change, or records
   * a member's new endpoints; `done` runs once the entry is applied.
   */
  join(
    member: MemberRecord,
    kind: "add" | "update",
    done: (ok: boolean, message: string) => void,
  ): void {
    const result =
      kind === "add"
        ? this.raft.proposeConfChange({
            type: "add-voter",
            nodeId: member.id,
            context: JSON.stringify(member),
          })
        : this.raft.propose(encodeCommand({ type: "member-update", member }));
    if (!result.ok) return done(false, `cannot change member ${member.id} now: ${result.reason}`);
    this.pendingJoins.set(member.id, done);
  }

  private removeMember(id: number, isAlive: boolean, done: (r: ClientResult) => void): void {
    const refuse = (message: string) => done({ ok: false, code: "BAD_REQUEST", message });
    if (this.stateValue.member(id) === undefined) {
      return refuse(
        this.stateValue.isRemoved(id)
          ? `node ${id} was removed already`
          : `node ${id} is not a member`,
      );
    }
    if (id === this.id) return refuse(`node ${id} leads: stop it first, then remove it elsewhere`);
    if (isAlive) return refuse(`node ${id} is alive: stop it first (REMOVE retires dead members)`);
    this.remove(id, (ok, message) =>
      ok
        ? done({ ok: true, fields: { removed: id } })
        : done({ ok: false, code: "UNAVAILABLE", message }),
    );
  }

  remove(id: number, done: (ok: boolean, message: string) => void): void {
    const blockers = this.stateValue.removalBlockers(id);
    if (blockers.length > 0) {
      return done(false, `node ${id} is the only in-sync replica of partitions ` +
        `${blockers.join(", ")}: removing it would lose their data`);
    }
    const result = this.raft.proposeConfChange({ type: "remove-voter", nodeId: id, context: "" });
    if (!result.ok) return done(false, `cannot remove node ${id} now: ${result.reason}`);
    this.pendingJoins.set(-id, done);
  }

  // ---- the Ready cycle ---------------------------------------------------------------------

  hasReady(): boolean {
    return (
      this.raft.hasReady() ||
      this.replica.hasBatch() ||
      this.selfInbox.length > 0 ||
      this.peerRequests.length > 0 ||
      this.readsReady.length > 0 ||
      this.immediateReplies.length > 0 ||
      (this.coordinator !== null && this.coordinator.hasOutgoing())
    );
  }

  ready(now: number): NodeReady {
    this.serveReadyReads();
    const early: PeerOut[] = [];
    const late: PeerOut[] = [];
    this.replica.readTogether(() => {
      const requests = this.peerRequests;
      this.peerRequests = [];
      for (const { from, request } of requests) this.handleDataRequest(from, request);
      this.drainSelfInbox();
      for (const { to, request } of this.coordinator?.takeOutgoing() ?? []) {
        if (to === this.id) this.handleDataRequest(this.id, request);
        else early.push({ to, kind: "data-request", request });
      }
    });
    // Answers the replica could give at once (reads, refusals) to other nodes.
    early.push(...this.immediateReplies.splice(0));
    const raft = this.raft.hasReady() ? this.raft.ready() : null;
    if (raft !== null) {
      if (raft.heartbeatRound !== null) {
        // Rounds restart at 1 in every term: a time recorded in an earlier term means nothing.
        const { term } = this.raft.brief();
        if (term !== this.roundsTerm) {
          this.roundSentAt.clear();
          this.roundsTerm = term;
        }
        this.roundSentAt.set(raft.heartbeatRound, now);
      }
      for (const { message, afterPersist } of raft.messages) {
        (afterPersist ? late : early).push({ to: message.to, kind: "raft", message });
      }
    }
    this.replicaBatch = this.replica.takeBatch();
    return { raft, replicaWrites: this.replicaBatch.writes, early, late };
  }

  /** The persist of `ready` succeeded: apply, answer, and return what to send now. */
  advance(ready: NodeReady, outcome: CommitOutcome): PeerOut[] {
    const out: PeerOut[] = [];
    const batch = this.replicaBatch;
    this.replicaBatch = null;
    if (batch !== null) {
      for (const { to, reply } of batch.complete(outcome)) {
        if (to === this.id) this.selfInbox.push({ kind: "reply", reply });
        else out.push({ to, kind: "data-reply", reply });
      }
    }
    const raft = ready.raft;
    if (raft !== null) {
      if (raft.snapshot !== null) this.restore(raft.snapshot.data, raft.snapshot.meta.index);
      for (const entry of raft.committed) this.applyEntry(entry);
      this.checkLeadership();
      for (const readState of raft.readStates) this.onReadState(readState.context, readState.index);
      this.raft.advance(raft);
      this.maybeStartCoordinating();
      this.maybeSnapshot();
    }
    return out;
  }

  // ---- control plane -----------------------------------------------------------------------

  private applyEntry(entry: { index: number; term: number; type: string; data: string }): void {
    this.appliedIndex = entry.index;
    this.appliedTerm = entry.term;
    this.appliedSinceSnapshot++;
    if (entry.type === "conf-change") return this.applyConfChange(entry.data);
    if (entry.data === "") return;
    const parsed = parseCommand(entry.data);
    if (!parsed.ok) return; // a command this build does not know: nothing to change
    this.emit(this.stateValue.applyCommand(parsed.value));
    if (parsed.value.type === "member-update") {
      this.pendingJoins.get(parsed.value.member.id)?.(true, "");
      this.pendingJoins.delete(parsed.value.member.id);
    }
  }

  private applyConfChange(data: string): void {
    const change = decodeConfChange(data);
    if (change === null) return;
    if (change.type === "add-voter") {
      const member = parseMember(change.context);
      if (member.ok) this.emit(this.stateValue.applyMemberChange({ type: "add", member: member.value }));
      this.pendingJoins.get(change.nodeId)?.(member.ok, member.ok ? "" : member.error);
      this.pendingJoins.delete(change.nodeId);
    } else {
      this.emit(this.stateValue.applyMemberChange({ type: "remove", id: change.nodeId }));
      this.pendingJoins.get(-change.nodeId)?.(true, "");
      this.pendingJoins.delete(-change.nodeId);
    }
  }

  private emit(effect: StateEffect): void {
    if (effect.type === "insync-changed") this.coordinator?.onInsyncChanged(effect.partition);
    for (const listener of this.effectListeners) listener(effect);
  }

  private restore(data: string, index: number): void {
    const restored = ClusterState.restore(data);
    if (restored !== null) this.stateValue = restored;
    this.appliedIndex = index;
    this.emit({ type: "restored" });
  }

  private maybeSnapshot(): void {
    if (this.appliedSinceSnapshot < this.config.snapshotEveryEntries) return;
    this.appliedSinceSnapshot = 0;
    this.raft.compact(this.appliedIndex, this.stateValue.snapshot());
  }

  /** Stops coordinating when this node no longer leads, or leads in a newer term. */
  private checkLeadership(): void {
    const status = this.raft.brief();
    const isCurrent = status.role === "leader" && this.coordinator?.epoch === status.term;
    if (this.coordinator === null || isCurrent) {
      if (status.role !== "leader") this.failWaiting();
      return;
    }
    this.coordinator.stop();
    this.coordinator = null;
    this.clock = null;
    if (status.role !== "leader") this.failWaiting();
  }

  private failWaiting(): void {
    if (this.coordinator !== null) {
      this.coordinator.stop();
      this.coordinator = null;
      this.clock = null;
    }
    for (const run of this.queued.splice(0)) run();
    for (const read of this.readsByContext.values()) read.done(this.notLeader() ?? unavailable());
    this.readsByContext.clear();
  }

  /** A leader coordinates once an entry of its own term is applied: earlier terms are final. */
  private maybeStartCoordinating(): void {
    if (this.coordinator !== null) return;
    const status = this.raft.brief();
    if (status.role !== "leader" || !this.stateValue.isBootstrapped) return;
    if (this.appliedTerm !== status.term) return;
    this.coordinator = new DataCoordinator(
      {
        selfId: this.id,
        epoch: status.term,
        minInsync: this.config.minInsync,
        requestTimeoutTicks: this.config.requestTimeoutTicks,
        fenceTimeoutTicks: Math.max(2, Math.floor(this.config.raft.electionTicks / 2)),
      },
      {
        state: () => this.stateValue,
        propose: (command) => this.propose(command),
        isSuspect: (id) => this.isSuspect(id),
        nextRid: () => this.nextRid++,
        replicated: (id, count) => this.replicatedListener?.(id, count),
        readCached: (hit) => this.readCachedListener?.(hit),
        committed: (partition, change) => this.committedListener?.(partition, change),
      },
    );
    this.clock = new ClusterClock(() => this.stateValue.clockMs);
    for (const run of this.queued.splice(0)) run();
  }

  private propose(command: ClusterCommand): boolean {
    return this.raft.propose(encodeCommand(command)).ok;
  }

  /** Hands the lead to a lower-ordered voter that has stayed caught up (stage2.md). */
  private maybeHandBack(): void {
    const status = this.raft.status();
    if (status.role !== "leader" || status.progress === null || status.transferee !== 0) {
      this.handBackTicksSeen = 0;
      return;
    }
    // The lowest voter below us whose log matches ours. Raft clears recentActive at every
    // election-timeout boundary (CheckQuorum), so a tick that sees it cleared neither counts
    // nor starts the count over.
    let candidate = 0;
    let isActive = false;
    for (const id of status.voters) {
      if (id >= this.id) break;
      const p = status.progress.get(id);
      if (p !== undefined && p.match === status.lastIndex) {
        candidate = id;
        isActive = p.recentActive;
        break;
      }
    }
    if (candidate !== this.handBackCandidate) {
      this.handBackCandidate = candidate;
      this.handBackTicksSeen = 0;
      return;
    }
    if (candidate === 0 || !isActive) return;
    if (++this.handBackTicksSeen >= this.config.handBackTicks) {
      this.handBackTicksSeen = 0;
      this.raft.transferLeader(candidate);
    }
  }

  private notLeader(): ClientResult | null {
    const status = this.raft.brief();
    if (status.role === "leader") return null;
    const leader = status.leaderId === 0 ? undefined : this.stateValue.member(status.leaderId);
    const message =
      leader === undefined
        ? `node ${this.id} is not the leader and knows of none yet`
        : `node ${this.id} is not the leader; node ${leader.id} is`;
    return leader === undefined
      ? { ok: false, code: "NOT_LEADER", message }
      : { ok: false, code: "NOT_LEADER", message, leader };
  }

  // ---- reads: lease, else ReadIndex ----------------------------------------------------------

  /** Runs `read` once leadership is confirmed: at once under the lease, else by ReadIndex. */
  private confirmLeadership(
    now: number,
    done: (r: ClientResult) => void,
    read: () => void,
  ): void {
    if (this.hasLease(now)) return read();
    const context = `r${this.nextReadContext++}`;
    const result = this.raft.readIndex(context);
    if (!result.ok) return done(this.notLeader() ?? unavailable());
    this.readsByContext.set(context, { read, done, index: -1 });
  }

  private scan(op: Extract<ClientOp, { op: "SCAN" }>, done: (r: ClientResult) => void): void {
    const coordinator = this.coordinator;
    if (coordinator === null) return done(this.notLeader() ?? unavailable());
    coordinator.scan(op.cursor, op.count, (r) => {
      if (!r.ok) return done({ ok: false, code: r.code, message: r.message });
      const items = r.rows.map((row) =>
        op.keysOnly ? { key: row.key } : { key: row.key, value: row.value, version: row.seq },
      );
      const cursor = r.next === null ? "0" : `${r.next.partition}:${r.next.afterKey}`;
      done({ ok: true, fields: { cursor, items } });
    });
  }

  private count(done: (r: ClientResult) => void): void {
    const coordinator = this.coordinator;
    if (coordinator === null) return done(this.notLeader() ?? unavailable());
    coordinator.count((r) => {
      if (!r.ok) return done({ ok: false, code: r.code, message: r.message });
      const count = r.counts.reduce((sum, n) => sum + n, 0);
      done({ ok: true, fields: { count, partitions: r.counts } });
    });
  }

  private watch(op: Extract<ClientOp, { op: "WATCH" }>, done: (r: ClientResult) => void): void {
    const coordinator = this.coordinator;
    if (coordinator === null) return done(this.notLeader() ?? unavailable());
    // Without `since`, the current version alone: the change log is read from its end.
    const since = op.since ?? Number.MAX_SAFE_INTEGER;
    coordinator.watch(op.key, since, WATCH_CHANGES_MAX, (r) => done(watchResult(r, op.since)));
  }

  private hasLease(now: number): boolean {
    const round = this.raft.leaseRound();
    if (round === null || this.roundsTerm !== this.raft.brief().term) return false;
    const sentAt = this.roundSentAt.get(round);
    if (sentAt === undefined) return false;
    // Forget rounds older than the one in force: the map stays small.
    for (const r of this.roundSentAt.keys()) if (r < round) this.roundSentAt.delete(r);
    const { electionTicks } = this.config.raft;
    const leaseMs = (electionTicks - 1) * this.config.tickMs * this.config.leaseSafetyFactor;
    return now < sentAt + leaseMs;
  }

  private onReadState(context: string, index: number): void {
    const read = this.readsByContext.get(context);
    if (read === undefined) return;
    this.readsByContext.delete(context);
    read.index = index;
    this.readsReady.push(read);
  }

  private serveReadyReads(): void {
    const ready = this.readsReady;
    this.readsReady = [];
    for (const read of ready) {
      if (read.index < 0) read.done(unavailable());
      else read.read();
    }
  }

  private readData(key: string, done: (r: ClientResult) => void): void {
    const coordinator = this.coordinator;
    if (coordinator === null) return done(this.notLeader() ?? unavailable());
    coordinator.read(key, (r: ReadResult) => done(readResult(r)));
  }

  // ---- data plane: requests to this node's replica -----------------------------------------

  private handleDataRequest(from: number, request: DataRequest): void {
    const reply = this.replica.handle(from, request);
    if (reply === null) return;
    if (from === this.id) this.selfInbox.push({ kind: "reply", reply });
    else this.immediateReplies.push({ to: from, kind: "data-reply", reply });
  }

  private readonly immediateReplies: PeerOut[] = [];

  private drainSelfInbox(): void {
    const inbox = this.selfInbox;
    this.selfInbox = [];
    for (const item of inbox) {
      if (item.kind === "reply") this.coordinator?.onReply(this.id, item.reply);
      else this.handleDataRequest(this.id, item.request);
    }
  }
}

function unavailable(): ClientResult {
  return { ok: false, code: "UNAVAILABLE", message: "leadership could not be confirmed; retry" };
}

function writeResult(r: WriteResult): ClientResult {
  if (!r.ok && r.code === "CONFLICT") return { ...r };
  if (!r.ok) return { ok: false, code: r.code, message: r.message };
  return { ok: true, fields: { status: r.status, replicas: r.replicas, version: r.version } };
}

function readResult(r: ReadResult): ClientResult {
  if (!r.ok) return { ok: false, code: r.code, message: r.message };
  if (r.row === null) return { ok: true, fields: { found: false } };
  return { ok: true, fields: { found: true, value: r.row.value, version: r.row.seq } };
}

function watchResult(r: WatchResult, since: number | null): ClientResult {
  if (!r.ok) {
    if (r.code !== "COMPACTED") return { ok: false, code: r.code, message: r.message };
    return { ok: false, code: r.code, message: r.message, oldest: r.oldest };
  }
  // A delete that found nothing changed nothing: the feed never shows it either.
  const shown = since === null ? [] : r.changes.filter((c) => c.status !== "not_found");
  // The feed's change objects (protocol.ts watchChange; this pure core does not import it).
  const changes = shown.map(({ key, value, seq: version }) =>
    value === null ? { key, op: "DELETE", version } : { key, op: "SET", value, version });
  return { ok: true, fields: { changes, version: r.version, more: since !== null && r.more } };
}
