// The interaction environment of the Raft scenario scripts (after etcd's rafttest
// InteractionEnv, style.md A1/B10.3): nodes with memory storage, a queue of messages that the
// script delivers or drops, partitions, crashes that keep only what was persisted. Every
// command returns its transcript; the core's own log events are part of it.
import {
  type ConfChange, type Entry, MemoryStorage, type Message, type NodeId, RaftCore, type RaftConfig,
  type RaftLogger, type Ready, bootstrapMemoryStorage, decodeConfChange,
} from "../../lib/raft/index.ts";

export interface EnvNode {
  id: NodeId;
  storage: MemoryStorage;
  core: RaftCore | null;
  config: RaftConfig;
  applied: Entry[];
  appliedIndex: number;
  state: string;
}

/** Random source of the scripts: always 0, so timeouts are exactly E + rank * stagger. */
const zeroRandom = { nextInt: () => 0 };

export function describeEntry(entry: Entry): string {
  if (entry.type === "conf-change") {
    const change = decodeConfChange(entry.data);
    return `${entry.index}/${entry.term} ${change?.type ?? "?"} ${change?.nodeId ?? "?"}`;
  }
  return `${entry.index}/${entry.term} ${entry.data === "" ? "(empty)" : entry.data}`;
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case "append":
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit}` +
        ` entries=[${m.entries.map(describeEntry).join(", ")}]`;
    case "append-response":
      return m.reject
        ? `${head} reject index=${m.index} hint=${m.rejectHint}/${m.logTerm}`
        : `${head} index=${m.index}`;
    case "vote":
    case "pre-vote":
      return `${head} last=${m.lastLogIndex}/${m.lastLogTerm}${m.force ? " force" : ""}`;
    case "vote-response":
    case "pre-vote-response":
      return `${head}${m.reject ? " reject" : ""}`;
    case "heartbeat":
      return `${head} commit=${m.commit} round=${m.round}`;
    case "heartbeat-response":
      return `${head} round=${m.round}`;
    case "snapshot":
      return `${head} snapshot=${m.snapshot.meta.index}/${m.snapshot.meta.term}` +
        ` voters=[${m.snapshot.meta.confState.voters}]`;
    case "timeout-now":
      return head;
  }
}

export class RaftEnv {
  readonly nodes = new Map<NodeId, EnvNode>();
  queue: Message[] = [];
  private readonly cut = new Set<string>();
  private output: string[] = [];

  private logger(id: NodeId): RaftLogger {
    const write = (event: string, fields?: Record<string, unknown>): void => {
      const text = fields === undefined ? "" : " " + Object.entries(fields)
        .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v}]` : String(v)}`).join(" ");
      this.output.push(`${id}: ${event}${text}`);
    };
    return { debug: () => {}, info: write, warn: write };
  }

  flush(): string {
    const text = this.output.join("\n");
    this.output = [];
    return text === "" ? "ok" : text;
  }

  node(id: NodeId): EnvNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  core(id: NodeId): RaftCore {
    const core = this.node(id).core;
    if (core === null) throw new Error(`node ${id} is down`);
    return core;
  }

  addNode(id: NodeId, voters: NodeId[], options: Partial<RaftConfig>): void {
    const config: RaftConfig = {
      id, electionTicks: 10, heartbeatTicks: 1, rankStaggerTicks: 0, preVote: false,
      checkQuorum: false, maxInflightAppends: 256, maxEntriesPerAppend: 64, ...options,
    };
    const storage = voters.length > 0 ? bootstrapMemoryStorage(voters) : new MemoryStorage();
    const node: EnvNode = {
      id, storage, core: null, config, applied: [], appliedIndex: 0, state: "",
    };
    this.nodes.set(id, node);
    this.start(node);
  }

  private start(node: EnvNode): void {
    const snapshot = node.storage.snapshot();
    // The state machine is rebuilt: from the snapshot, then the log replays after it.
    node.applied = [];
    node.appliedIndex = snapshot.meta.index;
    node.state = snapshot.data;
    node.core = new RaftCore({ ...node.config, applied: node.appliedIndex }, node.storage,
      zeroRandom, this.logger(node.id));
  }

  crash(id: NodeId): void {
    this.node(id).core = null;
    this.queue = this.queue.filter((m) => m.to !== id);
    this.output.push(`${id}: crashed`);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    this.start(node);
    const hard = node.storage.initialState().hardState;
    this.output.push(`${id}: restarted term=${hard.term} vote=${hard.vote} commit=${hard.commit}`);
  }

  partition(groups: NodeId[][]): void {
    this.cut.clear();
    for (const a of groups) for (const b of groups) {
      if (a === b) continue;
      for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Drains a node's Ready batches: persist, queue the messages, apply, advance. */
  processReady(id: NodeId): void {
    const node = this.node(id);
    for (let guard = 0; node.core !== null && node.core.hasReady(); guard++) {
      if (guard > 100) throw new Error(`node ${id} never runs out of Ready batches`);
      const ready = node.core.ready();
      this.persist(node, ready);
      node.core.advance(ready);
    }
  }

  private persist(node: EnvNode, ready: Ready): void {
    const lines: string[] = [];
    if (ready.softState !== null) {
      lines.push(`role=${ready.softState.role} leader=${ready.softState.leaderId}`);
    }
    if (ready.hardState !== null) {
      const h = ready.hardState;
      lines.push(`hardState term=${h.term} vote=${h.vote} commit=${h.commit}`);
    }
    if (ready.snapshot !== null) {
      const meta = ready.snapshot.meta;
      lines.push(`snapshot ${meta.index}/${meta.term} voters=[${meta.confState.voters}]`);
      node.storage.applySnapshot(ready.snapshot);
      node.appliedIndex = meta.index;
      node.state = ready.snapshot.data;
    }
    const list = (entries: Entry[]): string => entries.map(describeEntry).join(", ");
    if (ready.entries.length > 0) lines.push(`persist [${list(ready.entries)}]`);
    node.storage.append(ready.entries);
    if (ready.hardState !== null) node.storage.setHardState(ready.hardState);
    if (ready.compaction !== null) {
      lines.push(`compact ${ready.compaction.meta.index}/${ready.compaction.meta.term}`);
      node.storage.saveCompaction(ready.compaction);
    }
    if (ready.committed.length > 0) lines.push(`apply [${list(ready.committed)}]`);
    for (const entry of ready.committed) {
      node.applied.push(entry);
      node.appliedIndex = entry.index;
      if (entry.type === "normal" && entry.data !== "") node.state += `${entry.data};`;
    }
    for (const read of ready.readStates) lines.push(`read ${read.context} index=${read.index}`);
    if (ready.heartbeatRound !== null) lines.push(`heartbeat round ${ready.heartbeatRound}`);
    for (const out of ready.messages) {
      lines.push(`send ${describeMessage(out.message)}${out.afterPersist ? "" : " (early)"}`);
      this.queue.push(out.message);
    }
    for (const line of lines) this.output.push(`${node.id}: ${line}`);
  }

  /** Delivers the queued messages (only those queued now) that pass the filter. */
  deliver(filter: (m: Message) => boolean, dropping: (m: Message) => boolean): number {
    const batch = this.queue.filter(filter);
    this.queue = this.queue.filter((m) => !filter(m));
    for (const message of batch) {
      const target = this.nodes.get(message.to);
      if (dropping(message) || this.cut.has(`${message.from}>${message.to}`)) {
        this.output.push(`drop ${describeMessage(message)}`);
        continue;
      }
      if (target === undefined || target.core === null) continue;
      const result = target.core.step(message);
      if (!result.ok) this.output.push(`${message.to}: refused ${message.type}: ${result.reason}`);
      this.processReady(message.to);
    }
    return batch.length;
  }

  stabilize(): void {
    for (let round = 0; this.queue.length > 0; round++) {
      if (round > 100) throw new Error("stabilize did not settle in 100 rounds");
      this.deliver(() => true, () => false);
    }
  }

  proposeConfChange(id: NodeId, change: ConfChange): void {
    const result = this.core(id).proposeConfChange(change);
    this.output.push(`${id}: ${JSON.stringify(result)}`);
    this.processReady(id);
  }

  status(id: NodeId): string {
    const node = this.node(id);
    if (node.core === null) return `${id}: down`;
    const s = node.core.status();
    return `${id}: ${s.role} term=${s.term} vote=${s.vote} leader=${s.leaderId} ` +
      `commit=${s.commit} applied=${s.applied} last=${s.lastIndex} voters=[${s.voters}]`;
  }

  raftLog(id: NodeId): string {
    const storage = this.node(id).storage;
    const first = storage.firstIndex();
    const entries = storage.entries(first, storage.lastIndex() + 1);
    const hard = storage.initialState().hardState;
    const snap = storage.snapshot().meta;
    const head = `${id}: snapshot=${snap.index}/${snap.term} commit=${hard.commit}`;
    return [head, ...entries.map((e) => `  ${describeEntry(e)}`)].join("\n");
  }
}
