// The leader's data plane for one term: a PartitionLeader per partition, the numbering and
// timing of their requests (timeouts counted in ticks), and the routing of answers. Pure: the
// node core hands it answers, ticks and applied in-sync changes, and drains its outgoing
// requests. It exists only while this node leads, from the moment an entry of its own term is
// applied (so the in-sync sets it starts from are final) until it steps down.

import { partitionOf, replicasOf } from "../placement.ts";
import type { DataReply, DataRequest } from "./data-messages.ts";
import {
  PartitionLeader,
  type OutgoingRequest,
  type ReadResult,
  type WriteResult,
} from "./partition-leader.ts";
import type { ClusterCommand, ClusterState } from "./state.ts";

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
}

export interface OutgoingData {
  readonly to: number;
  readonly request: DataRequest;
}

interface Tracked {
  readonly partition: number;
  readonly to: number;
  readonly deadlineTick: number;
}

export type { ReadResult, WriteResult };

export class DataCoordinator {
  private readonly settings: CoordinatorSettings;
  private readonly hooks: CoordinatorHooks;
  private readonly leaders: PartitionLeader[] = [];
  private readonly tracked = new Map<number, Tracked>();
  private outgoing: OutgoingData[] = [];
  private nextRid = 1;
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

  partitionLeader(partition: number): PartitionLeader | undefined {
    return this.leaders[partition];
  }

  write(key: string, value: string | null, writer: string | null, done: (r: WriteResult) => void) {
    this.leaderOfKey(key).write(key, value, writer, done);
  }

  read(key: string, done: (r: ReadResult) => void): void {
    this.leaderOfKey(key).read(key, done);
  }

  onReply(from: number, reply: DataReply): void {
    const tracked = this.tracked.get(reply.rid);
    if (tracked === undefined || tracked.to !== from) return;
    this.tracked.delete(reply.rid);
    this.leaders[tracked.partition]?.onReply(reply.rid, from, reply);
  }

  onInsyncChanged(partition: number): void {
    this.leaders[partition]?.onInsyncChanged();
  }

  tick(): void {
    this.tickCount++;
    for (const [rid, t] of this.tracked) {
      if (t.deadlineTick > this.tickCount) continue;
      this.tracked.delete(rid);
      this.leaders[t.partition]?.onTimeout(rid, t.to);
    }
    for (const leader of this.leaders) leader.tick();
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
      insync: () => hooks.state().insync(partition),
      placement: () => {
        const state = hooks.state();
        return replicasOf(partition, state.memberIds(), state.rf);
      },
      send: (to, request) => this.send(partition, to, request),
      propose: (command) => hooks.propose(command),
      isSuspect: (id) => id !== settings.selfId && hooks.isSuspect(id),
    });
  }

  private send(partition: number, to: number, request: OutgoingRequest): number {
    const rid = this.nextRid++;
    const timeoutTicks =
      request.type === "fence" ? this.settings.fenceTimeoutTicks : this.settings.requestTimeoutTicks;
    this.tracked.set(rid, { partition, to, deadlineTick: this.tickCount + timeoutTicks });
    this.outgoing.push({ to, request: { ...request, rid } as DataRequest });
    return rid;
  }
}
