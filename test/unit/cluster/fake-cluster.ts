// Test double for the coordinator's world: one real Replica per node over its own in-memory
// KvStore, an in-memory PeerLink with switches to make a node fail, refuse with STALE_TERM or
// hold its replies, and mutable ClusterFacts. No sockets, no timers: group commit runs on
// microtasks, so every test step is ordered by promises alone.
import {
  type ClusterFacts,
  Coordinator,
  type PeerLink,
  StaleTermError,
} from "../../../lib/cluster/coordinator.ts";
import { type ApplyResult, Replica } from "../../../lib/cluster/replica.ts";
import { GroupCommitter, KvStore, type StoredRow, type Version } from "../../../lib/store/index.ts";
import { KvError } from "../../../lib/util/errors.ts";
import { nullLogger } from "../../../lib/util/log.ts";
import { keyOf } from "../store/rows.ts";

/** A promise a test settles by hand. */
type Gate = ReturnType<typeof Promise.withResolvers<void>>;

/** How a fake node answers: normally, with a failure (a timeout), or STALE_TERM. */
export type NodeMode = "ok" | "fail" | "stale";

export class FakeNode {
  readonly id: number;
  readonly store: KvStore;
  readonly replica: Replica;
  mode: NodeMode = "ok";
  /** Writes of these keys fail on this node whatever its mode. */
  readonly failKeys = new Set<string>();
  /** Every replicate batch this node was sent, including ones it then refused. */
  readonly batches: StoredRow[][] = [];
  readCount = 0;
  pageCount = 0;
  /** Called on each replicate before it is answered (to look at the coordinator mid-copy). */
  onReplicate: ((rows: readonly StoredRow[]) => void) | undefined;
  private gate: Gate | undefined;
  private readonly heldWrites = new Map<string, Gate>();

  constructor(id: number) {
    this.id = id;
    this.store = KvStore.open(":memory:");
    const committer = new GroupCommitter(this.store, { scheduling: "microtask" });
    this.replica = new Replica(this.store, committer);
  }

  /** Replicate calls that pass the switches wait until release(). */
  hold(): void {
    this.gate = Promise.withResolvers<void>();
  }

  release(): void {
    this.gate?.resolve();
    this.gate = undefined;
  }

  get isHeld(): boolean {
    return this.gate !== undefined;
  }

  /** Holds live writes (one-row batches) of `key` only; copied pages pass. */
  holdWritesOf(key: string): void {
    this.heldWrites.set(key, Promise.withResolvers<void>());
  }

  /** Lets held writes of `key` go on, or fail with `error` as if they had timed out. */
  releaseWritesOf(key: string, error?: Error): void {
    const held = this.heldWrites.get(key);
    this.heldWrites.delete(key);
    if (error === undefined) held?.resolve();
    else held?.reject(error);
  }

  releaseAllWrites(): void {
    for (const key of [...this.heldWrites.keys()]) this.releaseWritesOf(key);
  }

  async replicate(rows: StoredRow[]): Promise<ApplyResult[]> {
    this.batches.push(rows);
    this.onReplicate?.(rows);
    this.refuseIfSwitched(rows);
    if (this.gate !== undefined) await this.gate.promise;
    const [only] = rows;
    const held = rows.length === 1 ? this.heldWrites.get(only?.key ?? "") : undefined;
    if (held !== undefined) await held.promise;
    return this.replica.apply(rows);
  }

  async read(key: string): Promise<StoredRow | undefined> {
    this.readCount++;
    this.refuseIfSwitched([]);
    return this.replica.read(key);
  }

  async page(partition: number, after: Version, limit: number): Promise<StoredRow[]> {
    this.pageCount++;
    this.refuseIfSwitched([]);
    return this.replica.page(partition, after, limit);
  }

  /** Live value of `key` in this node's store; null for a tombstone, undefined if absent. */
  valueOf(key: string): string | null | undefined {
    return this.store.get(key)?.value;
  }

  /** Writes rows straight into this node's store, as if it had received them earlier. */
  seed(rows: readonly StoredRow[]): void {
    this.store.applyBatch(rows);
  }

  private refuseIfSwitched(rows: readonly StoredRow[]): void {
    if (this.mode === "stale") throw new StaleTermError(`node ${this.id} has seen a newer term`);
    if (this.mode === "fail") throw new KvError("TIMEOUT", `node ${this.id} did not answer`);
    if (rows.some((row) => this.failKeys.has(row.key))) {
      throw new KvError("TIMEOUT", `node ${this.id} did not answer for that key`);
    }
  }
}

/** The PeerLink the coordinator gets: routes each call to a FakeNode. */
export class FakePeers implements PeerLink {
  private readonly nodes: Map<number, FakeNode>;
  private readonly selfId: number;

  constructor(nodes: Map<number, FakeNode>, selfId: number) {
    this.nodes = nodes;
    this.selfId = selfId;
  }

  replicate(nodeId: number, _term: number, rows: StoredRow[]): Promise<ApplyResult[]> {
    return this.node(nodeId).replicate(rows);
  }

  read(nodeId: number, key: string): Promise<StoredRow | undefined> {
    return this.node(nodeId).read(key);
  }

  page(nodeId: number, partition: number, after: Version, limit: number): Promise<StoredRow[]> {
    return this.node(nodeId).page(partition, after, limit);
  }

  private node(id: number): FakeNode {
    // The coordinator must reach its own store through its Replica, never through the network.
    if (id === this.selfId) throw new Error(`coordinator sent a peer request to itself (${id})`);
    const node = this.nodes.get(id);
    if (node === undefined) throw new KvError("UNAVAILABLE", `no node ${id}`);
    return node;
  }
}

/** The mutable truth behind ClusterFacts: tests change it between steps. */
export type FactsState = Omit<ClusterFacts, "isAlive"> & { alive: Set<number> };

export interface FakeCluster {
  readonly coordinator: Coordinator;
  readonly state: FactsState;
  readonly nodes: Map<number, FakeNode>;
  /** "insync-changed" once per onInsyncChanged call, plus whatever the test pushes. */
  readonly events: string[];
  node(id: number): FakeNode;
  /** The in-sync set of one partition as the coordinator holds it now. */
  insyncOf(partition: number): number[];
  close(): void;
}

export interface FakeClusterOptions {
  selfId?: number;
  /** Nodes that exist (and have stores); members unless `memberIds` says otherwise. */
  nodeIds: number[];
  memberIds?: number[];
  rf: number;
  partitions?: number;
  minInsync?: number;
  term?: number;
  /** The in-sync set the coordinator starts with, per partition. */
  insync: (partition: number) => number[];
  /** Members alive when the coordinator starts; every member unless given. */
  alive?: number[];
  /** Rows each node holds before the coordinator starts (the leader's set where seq resumes). */
  rows?: (nodeId: number) => StoredRow[];
}

export function fakeClusterOf(options: FakeClusterOptions): FakeCluster {
  const selfId = options.selfId ?? 1;
  const memberIds = options.memberIds ?? options.nodeIds;
  const state: FactsState = {
    selfId,
    term: options.term ?? 1,
    rf: options.rf,
    partitions: options.partitions ?? 8,
    minInsync: options.minInsync ?? 1,
    memberIds: [...memberIds],
    alive: new Set(options.alive ?? memberIds),
  };
  const nodes = new Map(options.nodeIds.map((id) => [id, new FakeNode(id)] as const));
  for (const each of nodes.values()) each.seed(options.rows?.(each.id) ?? []);
  const node = (id: number): FakeNode => {
    const found = nodes.get(id);
    if (found === undefined) throw new Error(`test set up no node ${id}`);
    return found;
  };
  const events: string[] = [];
  const facts = (): ClusterFacts => ({
    selfId: state.selfId,
    term: state.term,
    rf: state.rf,
    partitions: state.partitions,
    minInsync: state.minInsync,
    memberIds: [...state.memberIds],
    isAlive: (id) => state.alive.has(id),
  });
  const self = node(selfId);
  const coordinator = new Coordinator({
    facts,
    self: self.replica,
    peers: new FakePeers(nodes, selfId),
    log: nullLogger,
    insync: Array.from({ length: state.partitions }, (_, p) => options.insync(p)),
    seqStart: (partition) => self.store.maxSeq(partition),
    onInsyncChanged: () => events.push("insync-changed"),
  });
  return {
    coordinator,
    state,
    nodes,
    events,
    node,
    insyncOf: (partition) => coordinator.insyncMap()[partition] ?? [],
    close: () => {
      for (const each of nodes.values()) {
        each.release();
        each.releaseAllWrites();
        each.store.close();
      }
    },
  };
}

/** The i-th test key of `partition` (keys encode their partition in the first 8 hex digits). */
export function keyIn(partition: number, partitions: number, i: number): string {
  return keyOf(partition + partitions * i);
}

export function rowIn(
  partition: number,
  partitions: number,
  i: number,
  version: Version,
  value: string | null,
): StoredRow {
  return { key: keyIn(partition, partitions, i), partition, ...version, value };
}

/**
 * Lets pending promise continuations run, up to `turnsMax` microtask turns, until `condition`
 * holds. Everything here (fakes, group commit) runs on microtasks, so no clock is needed.
 */
export async function untilTrue(condition: () => boolean, what: string): Promise<void> {
  const turnsMax = 10_000;
  for (let turn = 0; turn < turnsMax; turn++) {
    if (condition()) return;
    await Promise.resolve();
  }
  throw new Error(`still false after ${turnsMax} microtask turns: ${what}`);
}

/** Runs every continuation that is ready now (a fixed number of microtask turns). */
export async function drainMicrotasks(): Promise<void> {
  for (let turn = 0; turn < 200; turn++) await Promise.resolve();
}

/** The error a promise rejects with; fails if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but the promise resolved");
}
