// A small synchronous cluster for unit tests of the Raft core: cores on memory storage, a
// message queue delivered on demand, the shell loop (persist, send, apply, advance) done
// faithfully. No timers: time is tick().
import {
  type Entry, type Message, MemoryStorage, type NodeId, type Outbound, RaftCore, type RaftConfig,
  type Random, type Ready, bootstrapMemoryStorage,
} from "../../../lib/raft/index.ts";

export const zeroRandom: Random = { nextInt: () => 0 };

export function config(id: NodeId, options: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id, electionTicks: 10, heartbeatTicks: 2, rankStaggerTicks: 5, preVote: true,
    checkQuorum: true, maxInflightAppends: 16, maxEntriesPerAppend: 16, ...options,
  };
}

export interface TestNode {
  id: NodeId;
  storage: MemoryStorage;
  core: RaftCore;
  applied: Entry[];
  sent: Outbound[];
  readies: Ready[];
}

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];

  constructor(ids: NodeId[], options: Partial<RaftConfig> = {}, voters: NodeId[] = ids) {
    for (const id of ids) {
      const storage = voters.length > 0 ? bootstrapMemoryStorage(voters) : new MemoryStorage();
      this.add(id, storage, options);
    }
  }

  add(
    id: NodeId, storage: MemoryStorage, options: Partial<RaftConfig> = {},
    random: Random = zeroRandom,
  ): TestNode {
    const node: TestNode = {
      id, storage, core: new RaftCore(config(id, options), storage, random),
      applied: [], sent: [], readies: [],
    };
    this.nodes.set(id, node);
    this.drain(id);
    return node;
  }

  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  core(id: NodeId): RaftCore {
    return this.node(id).core;
  }

  /** The shell loop: persist, queue the messages, apply, advance. */
  drain(id: NodeId): void {
    const node = this.node(id);
    while (node.core.hasReady()) {
      const ready = node.core.ready();
      node.readies.push(ready);
      if (ready.snapshot !== null) node.storage.applySnapshot(ready.snapshot);
      node.storage.append(ready.entries);
      if (ready.hardState !== null) node.storage.setHardState(ready.hardState);
      if (ready.compaction !== null) node.storage.saveCompaction(ready.compaction);
      for (const out of ready.messages) {
        node.sent.push(out);
        this.queue.push(out.message);
      }
      node.applied.push(...ready.committed);
      node.core.advance(ready);
    }
  }

  tick(id: NodeId, count = 1): void {
    for (let i = 0; i < count; i++) {
      this.core(id).tick();
      this.drain(id);
    }
  }

  tickAll(count = 1): void {
    for (let i = 0; i < count; i++) for (const id of this.nodes.keys()) this.tick(id);
  }

  /** Delivers queued messages (and what they cause) until none is left or `drop` says so. */
  stabilize(drop: (m: Message) => boolean = () => false): void {
    for (let round = 0; this.queue.length > 0; round++) {
      if (round > 200) throw new Error("no quiescence");
      const batch = this.queue;
      this.queue = [];
      for (const message of batch) {
        if (drop(message) || !this.nodes.has(message.to)) continue;
        this.core(message.to).step(message);
        this.drain(message.to);
      }
    }
  }

  /**
   * From a fresh start: ten ticks end every startup lease and the lowest-ranked voter (its
   * timeout is ten ticks, the others' later) wins; then it hands the lead to `id` if needed.
   */
  elect(id: NodeId): void {
    this.tickAll(10);
    this.stabilize();
    const leader = [...this.nodes.values()].find((n) => n.core.status().role === "leader");
    if (leader === undefined) throw new Error("nobody won the first election");
    if (leader.id !== id) {
      leader.core.transferLeader(id);
      this.drain(leader.id);
      this.stabilize();
    }
    if (this.core(id).status().role !== "leader") throw new Error(`node ${id} did not win`);
  }

  clearSent(): void {
    for (const node of this.nodes.values()) node.sent = [];
  }
}
