// bench:raft: a 3-node in-memory cluster driven as fast as the Raft core goes. Messages are
// handed over directly (no encoding, no network), storage is MemoryStorage, and the shell loop
// is the real one (persist, send, apply, advance). Prints one JSON line: committed proposals per
// second with proposals in batches and one at a time, and heap bytes allocated per proposal
// (from JavaScriptCore's GC log, in a child process).
import "./help.ts";
import { fullGC } from "bun:jsc";
import {
  type Message, type MemoryStorage, type NodeId, RaftCore, bootstrapMemoryStorage,
} from "../lib/raft/index.ts";
import { SeededRandom } from "../lib/util/random.ts";

interface BenchNode {
  storage: MemoryStorage;
  core: RaftCore;
  applied: number;
}

class BenchCluster {
  readonly nodes = new Map<NodeId, BenchNode>();
  private queue: Message[] = [];

  constructor(ids: NodeId[]) {
    const random = new SeededRandom(1);
    for (const id of ids) {
      const storage = bootstrapMemoryStorage(ids);
      const core = new RaftCore({
        id, electionTicks: 10, heartbeatTicks: 1, rankStaggerTicks: 3, preVote: true,
        checkQuorum: true, maxInflightAppends: 256, maxEntriesPerAppend: 256,
      }, storage, random.fork());
      this.nodes.set(id, { storage, core, applied: 0 });
    }
  }

  private drain(node: BenchNode): void {
    while (node.core.hasReady()) {
      const ready = node.core.ready();
      if (ready.snapshot !== null) node.storage.applySnapshot(ready.snapshot);
      if (ready.entries.length > 0) node.storage.append(ready.entries);
      if (ready.hardState !== null) node.storage.setHardState(ready.hardState);
      for (const out of ready.messages) this.queue.push(out.message);
      node.applied += ready.committed.length;
      node.core.advance(ready);
    }
  }

  /** Delivers until no message is left. */
  pump(): void {
    for (const node of this.nodes.values()) this.drain(node);
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const message of batch) {
        const node = this.nodes.get(message.to) as BenchNode;
        node.core.step(message);
        this.drain(node);
      }
    }
  }

  tick(): void {
    for (const node of this.nodes.values()) node.core.tick();
    this.pump();
  }

  leader(): BenchNode {
    for (const node of this.nodes.values()) if (node.core.status().role === "leader") return node;
    throw new Error("no leader");
  }
}

function setUp(): { cluster: BenchCluster; leader: BenchNode } {
  const cluster = new BenchCluster([1, 2, 3]);
  for (let i = 0; i < 20; i++) cluster.tick();
  return { cluster, leader: cluster.leader() };
}

/** Proposes `count` entries in batches of `batch`, delivering after each batch. */
function drive(cluster: BenchCluster, leader: BenchNode, count: number, batch: number): void {
  const target = leader.applied + count;
  const data = "x".repeat(64);
  let proposed = 0;
  while (leader.applied < target) {
    for (let i = 0; i < batch && proposed < count; i++, proposed++) leader.core.propose(data);
    cluster.pump();
  }
}

function rate(batch: number, count: number): number {
  const { cluster, leader } = setUp();
  drive(cluster, leader, Math.min(count, 20_000), batch);
  const startedAt = performance.now();
  drive(cluster, leader, count, batch);
  const seconds = (performance.now() - startedAt) / 1000;
  return Math.round(count / seconds);
}

/**
 * Heap bytes allocated per proposal. JavaScriptCore exposes no allocation counter, so a child
 * process runs the workload with JSC's GC log on and the bytes each collection reports as
 * "allocated this cycle" are summed between two markers. The error is below one collection
 * cycle (8 MB here), so the workload is made large enough for that to be noise.
 */
function bytesPerProposal(batch: number, count: number): number | null {
  const command = [process.execPath, import.meta.path, "--allocations"];
  command.push(String(batch), String(count));
  const env = { ...process.env, BUN_JSC_logGC: "1" };
  const child = Bun.spawnSync(command, { env, stderr: "pipe", stdout: "pipe" });
  const log = child.stderr.toString();
  const start = log.indexOf("MARK start");
  const end = log.indexOf("MARK end");
  if (child.exitCode !== 0 || start < 0 || end < 0) return null;
  let bytes = 0;
  for (const match of log.slice(start, end).matchAll(/bytes allocated this cycle: (\d+)/g)) {
    bytes += Number(match[1]);
  }
  return bytes === 0 ? null : Math.round(bytes / count);
}

function allocationsChild(batch: number, count: number): void {
  const { cluster, leader } = setUp();
  drive(cluster, leader, 20_000, batch);
  fullGC();
  process.stderr.write("MARK start\n");
  drive(cluster, leader, count, batch);
  process.stderr.write("MARK end\n");
}

const args = process.argv.slice(2);
if (args[0] === "--allocations") {
  allocationsChild(Number(args[1]), Number(args[2]));
} else {
  const proposals = Number(process.env.PROPOSALS ?? 200_000);
  const result = {
    nodes: 3,
    proposals,
    batch: 64,
    commitsPerSecond: rate(64, proposals),
    commitsPerSecondUnbatched: rate(1, Math.floor(proposals / 4)),
    heapBytesPerProposal: bytesPerProposal(64, proposals),
    heapBytesPerProposalUnbatched: bytesPerProposal(1, Math.floor(proposals / 4)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
