// A deterministic world of whole nodes (NodeCore) on memory storage: a virtual clock, a network
// that delivers, drops, delays and cuts messages under one seeded PRNG, and crashes that keep
// only what was persisted. The data-plane simulation and the node-core tests run on it; the
// same NodeCore runs in a real node behind the shell.

import { NodeCore, type ClientOp, type ClientResult, type NodeCoreConfig, type PeerOut } from "../../lib/cluster/node-core.ts";
import type { ReplicaOptions } from "../../lib/cluster/replica-core.ts";
import { ClusterState, type MemberRecord } from "../../lib/cluster/state.ts";
import { MemoryStorage, type Ready } from "../../lib/raft/index.ts";
import { MemoryReplicaStore } from "../../lib/store/memory-replica-store.ts";
import type { ReplicaStorage } from "../../lib/store/replica-types.ts";
import { SeededRandom } from "../../lib/util/random.ts";

export interface WorldOptions {
  readonly seed: number;
  readonly tickMs?: number;
  /** Probability that a message is lost. */
  readonly dropRate?: number;
  /** Largest extra delivery delay in ms (uniform); messages between two nodes may reorder. */
  readonly delayMsMax?: number;
  readonly rf?: number;
  readonly partitions?: number;
  /** The replicas' log length and copy page size (small ones make trims and copies common). */
  readonly replica?: ReplicaOptions;
  /** Each node's data-plane store; a MemoryReplicaStore unless given (e.g. sqlite in memory). */
  readonly openReplicaStore?: () => ReplicaStorage;
}

interface SimNode {
  readonly id: number;
  readonly member: MemberRecord;
  raftStorage: MemoryStorage;
  replicaStore: ReplicaStorage;
  core: NodeCore | null;
}

interface Flight {
  readonly at: number;
  readonly order: number;
  readonly from: number;
  readonly out: PeerOut;
}

export const defaultCoreConfig = (id: number, tickMs: number): NodeCoreConfig => ({
  id,
  tickMs,
  raft: {
    electionTicks: 10,
    heartbeatTicks: 1,
    rankStaggerTicks: 2,
    preVote: true,
    checkQuorum: true,
    maxInflightAppends: 64,
    maxEntriesPerAppend: 256,
  },
  minInsync: 1,
  requestTimeoutTicks: 5,
  leaseSafetyFactor: 0.8,
  handBackTicks: 10,
  snapshotEveryEntries: 200,
});

export class NodeWorld {
  readonly random: SeededRandom;
  readonly nodes = new Map<number, SimNode>();
  now = 0;
  private readonly tickMs: number;
  private dropRate: number;
  private delayMsMax: number;
  private readonly rf: number;
  private readonly partitions: number;
  private readonly replica: ReplicaOptions | undefined;
  private readonly openReplicaStore: () => ReplicaStorage;
  private flights: Flight[] = [];
  private order = 0;
  /** Pairs "a-b" (a < b) whose messages are cut. */
  private readonly cuts = new Set<string>();

  constructor(options: WorldOptions) {
    this.random = new SeededRandom(options.seed);
    this.tickMs = options.tickMs ?? 10;
    this.dropRate = options.dropRate ?? 0;
    this.delayMsMax = options.delayMsMax ?? 0;
    this.rf = options.rf ?? 2;
    this.partitions = options.partitions ?? 8;
    this.replica = options.replica;
    this.openReplicaStore = options.openReplicaStore ?? (() => new MemoryReplicaStore());
  }

  /** Node `id` starts a new cluster: a snapshot with itself holding every partition. */
  bootstrap(id: number): NodeCore {
    const node = this.addNode(id);
    const state = ClusterState.initial(this.rf, this.partitions, node.member);
    node.raftStorage.applySnapshot({
      meta: { index: 1, term: 1, confState: { voters: [id] } },
      data: state.snapshot(),
    });
    node.raftStorage.setHardState({ term: 1, vote: 0, commit: 1 });
    return this.start(id);
  }

  /** A new node with empty storage; it learns everything from the leader once added. */
  addNode(id: number): SimNode {
    const member: MemberRecord = {
      id,
      endpoint: `tcp://10.0.0.${id}:7001`,
      pub: `tcp://10.0.0.${id}:7101`,
      peer: `tcp://10.0.0.${id}:7301`,
    };
    const node: SimNode = {
      id,
      member,
      raftStorage: new MemoryStorage(),
      replicaStore: this.openReplicaStore(),
      core: null,
    };
    this.nodes.set(id, node);
    return node;
  }

  start(id: number): NodeCore {
    const node = this.node(id);
    const random = new SeededRandom(this.random.nextUint32());
    node.core = new NodeCore(
      { ...defaultCoreConfig(id, this.tickMs), replica: this.replica },
      { raft: node.raftStorage, replica: node.replicaStore },
      random,
    );
    return node.core;
  }

  /** The process dies: what it persisted stays, everything in memory and in flight is gone. */
  crash(id: number): void {
    this.node(id).core = null;
    this.flights = this.flights.filter((f) => f.out.to !== id && f.from !== id);
  }

  cut(a: number, b: number): void {
    this.cuts.add(pairKey(a, b));
  }

  heal(): void {
    this.cuts.clear();
  }

  /** Stops losing messages (the end of a simulation's faults); delays stay. */
  stopDropping(): void {
    this.dropRate = 0;
  }

  isolate(id: number): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  member(id: number): MemberRecord {
    return this.node(id).member;
  }

  core(id: number): NodeCore {
    const core = this.node(id).core;
    if (core === null) throw new Error(`node ${id} is down`);
    return core;
  }

  /** Node `id`'s data-plane store (tests watch how the core reads it). */
  replicaStore(id: number): ReplicaStorage {
    return this.node(id).replicaStore;
  }

  isUp(id: number): boolean {
    return this.node(id).core !== null;
  }

  leaderId(): number | null {
    let best: { id: number; term: number } | null = null;
    for (const node of this.nodes.values()) {
      const status = node.core?.status();
      if (status?.role === "leader" && (best === null || status.term > best.term)) {
        best = { id: node.id, term: status.term };
      }
    }
    return best?.id ?? null;
  }

  /** Sends a client operation to `id`; the result arrives in the returned array. */
  request(id: number, op: ClientOp): ClientResult[] {
    const results: ClientResult[] = [];
    this.core(id).request(op, this.now, (r) => results.push(r));
    this.drain(id);
    return results;
  }

  /** Advances virtual time by `ms`, ticking every node and delivering what is due. */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += this.tickMs;
      for (const node of this.nodes.values()) {
        if (node.core === null) continue;
        node.core.tick(this.now);
        this.drain(node.id);
      }
      this.deliverDue();
    }
  }

  /** Runs until `condition` holds or `ms` of virtual time pass; returns whether it held. */
  runUntil(condition: () => boolean, ms: number): boolean {
    const end = this.now + ms;
    while (!condition()) {
      if (this.now >= end) return false;
      this.run(this.tickMs);
    }
    return true;
  }

  private deliverDue(): void {
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const due = this.flights.filter((f) => f.at <= this.now);
      if (due.length === 0) return;
      this.flights = this.flights.filter((f) => f.at > this.now);
      due.sort((a, b) => a.at - b.at || a.order - b.order);
      for (const flight of due) {
        const target = this.nodes.get(flight.out.to)?.core;
        if (target === null || target === undefined) continue;
        target.step(flight.from, inputOf(flight.out));
        this.drain(flight.out.to);
      }
    }
    throw new Error("delivery did not settle");
  }

  /** The shell's loop: persist each Ready, send, advance, until nothing is left. */
  drain(id: number): void {
    const node = this.node(id);
    const core = node.core;
    if (core === null) return;
    for (let rounds = 0; core.hasReady(); rounds++) {
      if (rounds > 10_000) throw new Error(`node ${id} never ran out of work`);
      const ready = core.ready(this.now);
      this.send(id, ready.early);
      if (ready.raft !== null) persistRaft(node.raftStorage, ready.raft);
      const outcome = node.replicaStore.commit(ready.replicaWrites);
      this.send(id, ready.late);
      this.send(id, core.advance(ready, outcome));
    }
  }

  private send(from: number, outs: readonly PeerOut[]): void {
    for (const out of outs) {
      if (this.cuts.has(pairKey(from, out.to))) continue;
      if (this.dropRate > 0 && this.random.chance(this.dropRate)) continue;
      const delay = this.delayMsMax > 0 ? this.random.nextInt(this.delayMsMax + 1) : 0;
      this.flights.push({ at: this.now + delay, order: this.order++, from, out });
    }
  }

  private node(id: number): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }
}

function pairKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

function inputOf(out: PeerOut) {
  switch (out.kind) {
    case "raft":
      return { kind: "raft", message: out.message } as const;
    case "data-request":
      return { kind: "data-request", request: out.request } as const;
    case "data-reply":
      return { kind: "data-reply", reply: out.reply } as const;
  }
}

/** What a shell persists of a Ready, in the order the contract gives. */
export function persistRaft(storage: MemoryStorage, ready: Ready): void {
  if (ready.snapshot !== null) storage.applySnapshot(ready.snapshot);
  if (ready.entries.length > 0) storage.append(ready.entries);
  if (ready.hardState !== null) storage.setHardState(ready.hardState);
  if (ready.compaction !== null) storage.saveCompaction(ready.compaction);
}
