// A simulated cluster of Raft cores on a SimNetwork (style.md B10.4): each node has a
// MemoryStorage (what survives a crash), a core and a toy state machine; the shell loop is the
// one lib/cluster runs (persist, send, apply, advance). Crashes keep only what was persisted,
// optionally in the middle of a Ready (after the early messages went out). Checkers run on
// every persist, commit, apply and election. Hooks let a caller add a data plane: extra
// payload kinds on the same network, and a callback per applied entry.
import {
  type Entry, type Message, MemoryStorage, type NodeId, RaftCore, type RaftConfig, type Ready,
  decodeMessage, encodeMessage,
} from "../../lib/raft/index.ts";
import type { SeededRandom } from "../../lib/util/random.ts";
import { CheckFailure, RaftCheckers } from "./checkers.ts";
import { type NetworkFaults, SimNetwork } from "./sim-network.ts";

/** What travels on the simulated network: Raft messages, or anything a data plane adds. */
export type SimPayload = { kind: "raft"; message: Message } | { kind: string; body: unknown };

export interface SimHooks {
  /** Called for every payload whose kind is not "raft". */
  onPayload?(cluster: SimCluster, to: NodeId, from: NodeId, payload: SimPayload): void;
  /** Called after a node applied a committed entry. */
  onApply?(cluster: SimCluster, node: NodeId, entry: Entry): void;
}

export interface SimClusterOptions {
  random: SeededRandom;
  raft: Omit<RaftConfig, "id" | "applied">;
  faults: NetworkFaults;
  /** Steps per tick; every node ticks once per tickSteps, at its own offset. */
  tickSteps: number;
  /** Pass every Raft message through encode/decode, as the real transport does. */
  isEncoding: boolean;
  /** Probability that a node crashes while handling a Ready that changes durable state. */
  readyCrashRate?: number;
  /** The same, for a Ready that grants a vote: tests that votes are durable before sent. */
  voteCrashRate?: number;
  hooks?: SimHooks;
  /** Receives one line per delivered Raft message and per change of a node's role or term. */
  trace?: (line: string) => void;
}

/** The application state: a running hash of what was applied, snapshotted as JSON. */
export interface SimApp {
  appliedIndex: number;
  state: string;
}

export class SimNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  core: RaftCore | null = null;
  app: SimApp = { appliedIndex: 0, state: "0" };
  readonly tickOffset: number;
  /** Volatile: when each heartbeat round of the current leadership went out. */
  roundSentAt = new Map<number, number>();
  term = 0;
  commit = 0;
  /** ReadIndex contexts in flight, with the committed index at request time. */
  readonly reads = new Map<string, number>();
  /** The state last written to the trace. */
  traced = "";

  constructor(id: NodeId, storage: MemoryStorage, tickOffset: number) {
    this.id = id;
    this.storage = storage;
    this.tickOffset = tickOffset;
  }

  get isUp(): boolean {
    return this.core !== null;
  }
}

/** One line for the trace: the fields that matter to elections and replication. */
export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case "append":
      return `${head} prev=${m.index}/t${m.logTerm} n=${m.entries.length} commit=${m.commit}` +
        m.entries.filter((e) => e.type === "conf-change").map((e) => ` conf@${e.index}:${e.data}`)
          .join("");
    case "append-response":
      return m.reject
        ? `${head} index=${m.index} reject hint=${m.rejectHint}/t${m.logTerm}`
        : `${head} index=${m.index}`;
    case "vote":
    case "pre-vote":
      return `${head} last=${m.lastLogIndex}/t${m.lastLogTerm}${m.force ? " force" : ""}`;
    case "vote-response":
    case "pre-vote-response":
      return `${head} ${m.reject ? "reject" : "grant"}`;
    case "heartbeat":
      return `${head} commit=${m.commit} round=${m.round}`;
    case "heartbeat-response":
      return `${head} round=${m.round}`;
    case "snapshot":
      return `${head} at=${m.snapshot.meta.index}/t${m.snapshot.meta.term} ` +
        `voters=[${m.snapshot.meta.confState.voters}]`;
    case "timeout-now":
      return head;
  }
}

const benignRefusal = /is not a voter|timeout-now from node/;

export function hashState(state: string, entry: Entry): string {
  let hash = Number.parseInt(state, 36) >>> 0;
  const text = `${entry.index}:${entry.term}:${entry.type}:${entry.data}`;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0;
  return hash.toString(36);
}

export class SimCluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly network: SimNetwork<SimPayload>;
  readonly checkers = new RaftCheckers();
  readonly options: SimClusterOptions;
  now = 0;
  /** Nodes that crash while handling their next Ready. */
  private readonly crashDuringReady = new Set<NodeId>();
  private readonly faultRandom: SeededRandom;

  constructor(options: SimClusterOptions) {
    this.options = options;
    this.network = new SimNetwork<SimPayload>(options.random.fork(), options.faults);
    this.faultRandom = options.random.fork();
  }

  addNode(id: NodeId, storage: MemoryStorage): SimNode {
    const node = new SimNode(id, storage, this.options.random.nextInt(this.options.tickSteps));
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private start(node: SimNode): void {
    const snapshot = node.storage.snapshot();
    node.app =
      snapshot.meta.index === 0
        ? { appliedIndex: 0, state: "0" }
        : (JSON.parse(snapshot.data) as SimApp);
    const { hardState } = node.storage.initialState();
    node.term = hardState.term;
    node.commit = hardState.commit;
    node.roundSentAt.clear();
    node.reads.clear();
    const applied = node.app.appliedIndex;
    const config: RaftConfig = { ...this.options.raft, id: node.id, applied };
    node.core = new RaftCore(config, node.storage, this.options.random.fork());
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    node.core = null;
    this.options.trace?.(`${this.now} node ${id}: crashed`);
    node.traced = "down";
    this.network.dropFor(id);
    this.checkers.setLease(id, null);
  }

  /** The node crashes while handling its next Ready: early messages out, nothing persisted. */
  crashMidReady(id: NodeId): void {
    this.crashDuringReady.add(id);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    this.crashDuringReady.delete(id);
    if (node.core === null) this.start(node);
  }

  /** Sends a payload of another kind (a data plane) over the same simulated network. */
  sendPayload(from: NodeId, to: NodeId, payload: SimPayload): void {
    this.network.send(this.now, from, to, payload);
  }

  private sendRaft(message: Message): void {
    const wire = this.options.isEncoding ? encodeMessage(message) : message;
    const payload: SimPayload = { kind: "raft", message: wire as Message };
    this.network.send(this.now, message.from, message.to, payload);
  }

  private deliverRaft(node: SimNode, message: Message | string): void {
    const core = node.core;
    if (core === null) return;
    let decoded: Message;
    if (typeof message === "string") {
      const result = decodeMessage(message);
      if (!result.ok) throw new CheckFailure(`a core sent an undecodable message: ${result.error}`);
      decoded = result.message;
    } else {
      decoded = message;
    }
    this.options.trace?.(`${this.now} ${describeMessage(decoded)}`);
    const result = core.step(decoded);
    // Refusals a correct cluster produces: late answers from removed members, a TimeoutNow
    // that reaches a restarted node. Anything else means a core sent something broken.
    if (!result.ok && !benignRefusal.test(result.reason)) {
      throw new CheckFailure(`node ${node.id} refused ${decoded.type}: ${result.reason}`);
    }
  }

  /** One simulation step: deliver what is due, tick the nodes whose turn it is, drain. */
  step(): void {
    this.now += 1;
    for (const { from, to, payload } of this.network.takeDue(this.now)) {
      const node = this.nodes.get(to);
      if (node === undefined || node.core === null) continue;
      if (payload.kind === "raft") {
        this.deliverRaft(node, (payload as { message: Message | string }).message);
      } else {
        this.options.hooks?.onPayload?.(this, to, from, payload);
      }
      this.drain(node);
    }
    for (const node of this.nodes.values()) {
      if (node.core === null) continue;
      if ((this.now + node.tickOffset) % this.options.tickSteps === 0) node.core.tick();
      this.drain(node);
    }
  }

  /** Runs the shell loop until the node has nothing ready. */
  drain(node: SimNode): void {
    for (let guard = 0; node.core !== null && node.core.hasReady(); guard++) {
      if (guard > 1000) throw new CheckFailure(`node ${node.id} never runs out of Ready batches`);
      this.handleReady(node, node.core, node.core.ready());
    }
    this.updateLease(node);
    if (this.options.trace !== undefined) this.traceState(node);
  }

  /** Traces a node's role, term, vote, commit, last index, leader and voters when they change. */
  private traceState(node: SimNode): void {
    const status = node.core?.status();
    const state = status === undefined
      ? "down"
      : `${status.role} t${status.term} vote=${status.vote} c${status.commit} ` +
        `l${status.lastIndex} lead=${status.leaderId} voters=[${status.votersInLog}] ` +
        `committed=[${status.voters}]`;
    if (node.traced === state) return;
    node.traced = state;
    this.options.trace?.(`${this.now} node ${node.id}: ${state}`);
  }

  private handleReady(node: SimNode, core: RaftCore, ready: Ready): void {
    if (ready.heartbeatRound !== null) node.roundSentAt.set(ready.heartbeatRound, this.now);
    for (const out of ready.messages) if (!out.afterPersist) this.sendRaft(out.message);
    const isDurable = ready.entries.length > 0 || ready.hardState !== null;
    const isVoting = ready.messages.some(
      (m) => m.message.type === "vote-response" && !m.message.reject,
    );
    const crashRate = isVoting
      ? (this.options.voteCrashRate ?? 0)
      : isDurable ? (this.options.readyCrashRate ?? 0) : 0;
    const isCrashing = crashRate > 0 && this.faultRandom.chance(crashRate);
    if (this.crashDuringReady.delete(node.id) || isCrashing) {
      this.crash(node.id);
      return;
    }
    this.persist(node, ready);
    for (const out of ready.messages) if (out.afterPersist) this.sendRaft(out.message);
    if (ready.snapshot !== null) {
      node.app = JSON.parse(ready.snapshot.data) as SimApp;
      this.checkers.observeRestored(node.id, node.app.appliedIndex, node.app.state);
    }
    for (const entry of ready.committed) this.apply(node, entry);
    for (const read of ready.readStates) {
      const committedAtRequest = node.reads.get(read.context);
      if (committedAtRequest === undefined) throw new CheckFailure(`unknown read ${read.context}`);
      node.reads.delete(read.context);
      this.checkers.checkReadIndex(node.id, read.index, committedAtRequest);
    }
    core.advance(ready);
  }

  private persist(node: SimNode, ready: Ready): void {
    const storage = node.storage;
    if (ready.snapshot !== null) storage.applySnapshot(ready.snapshot);
    storage.append(ready.entries);
    if (ready.hardState !== null) storage.setHardState(ready.hardState);
    if (ready.compaction !== null) storage.saveCompaction(ready.compaction);
    this.checkers.observePersisted(node.id, storage, ready.entries);
    if (ready.hardState !== null) {
      node.term = ready.hardState.term;
      if (ready.hardState.commit > node.commit) {
        this.checkers.observeCommit(node.id, storage, node.commit, ready.hardState.commit);
      }
      node.commit = ready.hardState.commit;
    }
    if (ready.softState !== null) {
      if (ready.softState.role === "leader") {
        node.roundSentAt.clear();
        this.checkers.observeRole(node.id, node.term, true, this.now);
        this.checkers.checkLeaderCompleteness(node.id, storage, node.term);
      }
    }
  }

  private apply(node: SimNode, entry: Entry): void {
    if (entry.index !== node.app.appliedIndex + 1) {
      throw new CheckFailure(
        `node ${node.id} applies ${entry.index} after ${node.app.appliedIndex}: not in order`,
      );
    }
    node.app = { appliedIndex: entry.index, state: hashState(node.app.state, entry) };
    this.checkers.observeApplied(node.id, entry, node.app.state);
    this.options.hooks?.onApply?.(this, node.id, entry);
  }

  private updateLease(node: SimNode): void {
    const core = node.core;
    if (core === null) return;
    const round = core.leaseRound();
    const sentAt = round === null ? undefined : node.roundSentAt.get(round);
    if (round === null || sentAt === undefined) {
      this.checkers.setLease(node.id, null);
      return;
    }
    const { electionTicks } = this.options.raft;
    const expiresAt = sentAt + (electionTicks - 1) * this.options.tickSteps;
    this.checkers.setLease(node.id, { term: node.term, expiresAt });
  }

  /** Asks a node for a ReadIndex; the answer is checked when it comes. */
  readIndex(id: NodeId, context: string): boolean {
    const node = this.node(id);
    if (node.core === null) return false;
    const result = node.core.readIndex(context);
    if (!result.ok) return false;
    node.reads.set(context, this.checkers.committedIndexMax);
    this.drain(node);
    return true;
  }

  /** The application snapshots its state at its applied index and the log is compacted. */
  compact(id: NodeId): void {
    const node = this.node(id);
    const core = node.core;
    if (core === null) return;
    const index = node.app.appliedIndex;
    if (index <= node.storage.snapshot().meta.index) return;
    core.compact(index, JSON.stringify(node.app));
    this.drain(node);
  }

  leaders(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.core?.status().role === "leader");
  }
}
