// The whole-cluster simulation: three NodeCores on memory storage in NodeWorld, clients that
// run SET/GET/DELETE on a few keys through whichever node they believe leads (a third of the
// writes compare-and-set, at the version the client last saw), and a seeded
// nemesis that crashes and restarts nodes, cuts one off, and drops and delays messages. After
// the faults it heals everything and requires convergence (one leader, every member in sync
// for every partition placement gives it), then reads every key, and checks the whole client
// history for linearizability with lib/lin. A seed replays exactly.

import { checkKvHistory, formatFailure, type OpRecord } from "../../lib/lin/index.ts";
import type { ClientOp, ClientResult } from "../../lib/cluster/node-core.ts";
import type { ReplicaOptions } from "../../lib/cluster/replica-core.ts";
import { SeededRandom } from "../../lib/util/random.ts";
import type { ReplicaStorage } from "../../lib/store/replica-types.ts";
import { NodeWorld } from "./node-world.ts";

export interface ClusterSimOptions {
  readonly seed: number;
  readonly nodes?: number;
  readonly clients?: number;
  readonly keys?: number;
  /** Virtual ms of workload under faults. */
  readonly faultMs?: number;
  readonly dropRate?: number;
  readonly delayMsMax?: number;
  /** The replicas' sizes; by default odd seeds keep a short log and copy a row per page. */
  readonly replica?: ReplicaOptions;
  /** Each node's data-plane store (NodeWorld's default: in memory). */
  readonly openReplicaStore?: () => ReplicaStorage;
}

export interface ClusterSimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly problems: string[];
  readonly ops: number;
  readonly acknowledged: number;
  readonly faults: number;
  readonly leaders: number;
  readonly history: readonly OpRecord[];
}

// A log this short is trimmed past a replica that was down for a moment, so the replica comes
// back by a full copy, one row per page while writes go on. It is still longer than a retried
// write needs to find its first attempt in the log.
const SHORT_LOG: ReplicaOptions = { logRetain: 40, snapshotPageRows: 1 };

const CLIENT_TIMEOUT_MS = 1000;
/** Attempts of one write before the simulated client gives up (the outcome is then unknown). */
const RETRIES_MAX = 3;
const CONVERGE_MS = 20_000;

interface Client {
  readonly id: number;
  target: number;
  busyUntil: number;
  /** The version each key had when this client last learned it (0: absent). */
  readonly versions: Map<string, number>;
  pending: {
    record: Omit<OpRecord, "ret" | "outcome">;
    deadline: number;
    /** Attempts so far: a write whose attempt got no answer is sent again as a retry (its
     * `writer` names it), as a client library does; the history keeps it as one operation. */
    attempts: number;
  } | null;
}

export function runClusterSeed(options: ClusterSimOptions): ClusterSimResult {
  const nodeCount = options.nodes ?? 3;
  const random = new SeededRandom(options.seed ^ 0x5bd1e995);
  const world = new NodeWorld({
    seed: options.seed,
    dropRate: options.dropRate ?? random.nextInt(3) * 0.02,
    delayMsMax: options.delayMsMax ?? random.nextInt(4) * 5,
    partitions: 4,
    replica: options.replica ?? (options.seed % 2 === 1 ? SHORT_LOG : undefined),
    ...(options.openReplicaStore === undefined
      ? {}
      : { openReplicaStore: options.openReplicaStore }),
  });
  const problems: string[] = [];
  const history: OpRecord[] = [];
  let nextOpId = 1;
  let faults = 0;
  const leaders = new Set<string>();

  world.bootstrap(1).campaign();
  world.run(200);
  for (let id = 2; id <= nodeCount; id++) {
    world.addNode(id);
    world.start(id);
    const joined: boolean[] = [];
    world.core(1).join(world.member(id), "add", (ok) => joined.push(ok));
    world.drain(1);
    if (!world.runUntil(() => joined.length > 0, 5000) || joined[0] !== true) {
      return result(["node did not join"]);
    }
  }

  const keys = Array.from({ length: options.keys ?? 3 }, (_, i) => simKey(i));
  const clients: Client[] = Array.from({ length: options.clients ?? 4 }, (_, i) => ({
    id: i + 1,
    target: 1,
    busyUntil: 0,
    versions: new Map<string, number>(),
    pending: null,
  }));

  const finish = (client: Client, result: ClientResult | null): void => {
    const pending = client.pending;
    if (pending === null) return;
    client.pending = null;
    const ret = world.now;
    const isUnknown = result === null || (!result.ok && result.code === "TIMEOUT");
    if (isUnknown && pending.record.op !== "GET" && pending.attempts < RETRIES_MAX) {
      client.target = 1 + random.nextInt(nodeCount);
      send(client, { ...pending, deadline: world.now + CLIENT_TIMEOUT_MS, attempts: pending.attempts + 1 });
      return;
    }
    if (result === null) {
      history.push({ ...pending.record, ret, outcome: "unknown" });
      client.target = 1 + random.nextInt(nodeCount);
      return;
    }
    if (result.ok) {
      const reply = result.fields as OpRecord["reply"];
      history.push({ ...pending.record, ret, outcome: "ok", ...(reply ? { reply } : {}) });
      learn(client, pending.record, reply);
      return;
    }
    if (result.code === "CONFLICT" && result.version !== undefined) {
      // Definite even after an unanswered attempt: a retry is answered from the change log when
      // an earlier attempt happened, so a CONFLICT says none did. The checker holds us to it.
      const reply = { version: result.version };
      history.push({ ...pending.record, ret, outcome: "fail", error: result.code, reply });
      learn(client, pending.record, reply);
      return;
    }
    // A definite refusal means this attempt did not happen; an earlier one without an answer may
    // have, so the operation as a whole stays unknown.
    const outcome = result.code === "TIMEOUT" || pending.attempts > 1 ? "unknown" : "fail";
    history.push({ ...pending.record, ret, outcome, error: result.code });
    if (result.code === "NOT_LEADER" && result.leader !== undefined) client.target = result.leader.id;
    else client.target = 1 + random.nextInt(nodeCount);
    client.busyUntil = world.now + 20;
  };

  const issue = (client: Client, isFinal = false): void => {
    const key = keys[random.nextInt(keys.length)] as string;
    const choice = isFinal ? 9 : random.nextInt(10);
    const op: ClientOp["op"] = choice < 4 ? "SET" : choice < 6 ? "DELETE" : "GET";
    const isConditional = choice === 0 || choice === 1 || choice === 5;
    const value = `${client.id}.${nextOpId}`;
    const record = {
      id: nextOpId++,
      client: client.id,
      node: client.target,
      key,
      op,
      ...(op === "SET" ? { value } : {}),
      ...(isConditional ? { ifVersion: client.versions.get(key) ?? 0 } : {}),
      call: world.now,
      ...(isFinal ? { final: true } : {}),
    } as Omit<OpRecord, "ret" | "outcome">;
    send(client, { record, deadline: world.now + CLIENT_TIMEOUT_MS, attempts: 1 });
  };

  function send(client: Client, pending: NonNullable<Client["pending"]>): void {
    client.pending = pending;
    if (!world.isUp(client.target)) return; // times out like a request to a dead process
    const { key, op, value, ifVersion } = pending.record;
    const writer = `${client.id}:${pending.record.id}`;
    const isRetry = pending.attempts > 1;
    const condition = ifVersion === undefined ? {} : { ifVersion };
    const clientOp: ClientOp =
      op === "SET"
        ? { op, key, value: value ?? "", writer, isRetry, ...condition }
        : op === "DELETE"
          ? { op, key, writer, isRetry, ...condition }
          : { op, key };
    world.core(client.target).request(clientOp, world.now, (r) => {
      if (client.pending === pending) finish(client, r);
    });
    world.drain(client.target);
  }

  const stepClients = (): void => {
    for (const client of clients) {
      if (client.pending !== null && world.now >= client.pending.deadline) finish(client, null);
      if (client.pending === null && world.now >= client.busyUntil) issue(client);
    }
  };

  // Faults: a schedule of crash/restart and isolate/heal, one node at a time.
  const faultMs = options.faultMs ?? 6000;
  let down: number | null = null;
  let cut: number | null = null;
  let nextFault = world.now + 300 + random.nextInt(700);
  const end = world.now + faultMs;
  while (world.now < end) {
    if (world.now >= nextFault) {
      faults++;
      nextFault = world.now + 300 + random.nextInt(1200);
      if (down !== null) {
        world.start(down);
        down = null;
      } else if (cut !== null) {
        world.heal();
        cut = null;
      } else {
        const target = pickTarget(world, random, nodeCount);
        if (random.nextInt(2) === 0) {
          world.crash(target);
          down = target;
        } else {
          world.isolate(target);
          cut = target;
        }
      }
    }
    stepClients();
    world.run(10);
    const leader = world.leaderId();
    if (leader !== null) leaders.add(`${leader}@${world.core(leader).status().term}`);
  }

  // Heal and converge.
  if (down !== null) world.start(down);
  world.heal();
  world.stopDropping();
  const converged = world.runUntil(() => {
    stepClients();
    return isConverged(world, nodeCount);
  }, CONVERGE_MS);
  if (!converged) problems.push(`no convergence within ${CONVERGE_MS} ms: ${describe(world, nodeCount)}`);
  // Let pending client operations end, then read every key once more.
  world.runUntil(() => {
    stepClients();
    return clients.every((c) => c.pending === null);
  }, 3 * CLIENT_TIMEOUT_MS);
  for (const client of clients) if (client.pending !== null) finish(client, null);
  if (converged) {
    for (const key of keys) finalRead(key);
  }

  const verdict = checkKvHistory(history);
  for (const key of verdict.keys) {
    if (key.failure !== undefined) problems.push(`not linearizable: ${formatFailure(key.key, key)}`);
    else if (key.verdict === "inconclusive") problems.push(`inconclusive check of ${key.key}`);
  }
  return result(problems);

  /** Reads `key` as a client would: from the leader, retrying until one answers ok. */
  function finalRead(key: string): void {
    for (let attempt = 0; attempt < 10; attempt++) {
      world.runUntil(() => world.leaderId() !== null, 2000);
      const leader = world.leaderId();
      if (leader === null) break;
      const call = world.now;
      const results = world.request(leader, { op: "GET", key });
      world.runUntil(() => results.length > 0, CLIENT_TIMEOUT_MS);
      const r = results[0];
      if (r === undefined || !r.ok) {
        // No answer: the read may still happen later; an error: it did not happen.
        history.push({
          id: nextOpId++, client: 0, node: leader, key, op: "GET", call, ret: world.now,
          outcome: r === undefined ? "unknown" : "fail", final: true,
        });
        continue;
      }
      const reply = r.fields as OpRecord["reply"];
      history.push({
        id: nextOpId++, client: 0, node: leader, key, op: "GET", call, ret: world.now,
        outcome: "ok", ...(reply ? { reply } : {}), final: true,
      });
      return;
    }
    problems.push(`no final read of ${key} succeeded`);
  }

  function result(list: string[]): ClusterSimResult {
    return {
      seed: options.seed,
      ok: list.length === 0,
      problems: list,
      ops: history.length,
      acknowledged: history.filter((r) => r.outcome === "ok").length,
      faults,
      leaders: leaders.size,
      history,
    };
  }
}

/** What a reply tells a client about the key's version. */
function learn(client: Client, record: { key: string; op: string }, reply: OpRecord["reply"]) {
  if (record.op === "DELETE" && reply?.version !== undefined && reply.status !== undefined) {
    client.versions.set(record.key, 0);
  } else if (record.op === "GET" && reply?.found === false) client.versions.set(record.key, 0);
  else if (reply?.version !== undefined) client.versions.set(record.key, reply.version);
}

function pickTarget(world: NodeWorld, random: SeededRandom, nodeCount: number): number {
  // Half the faults hit the leader: that is where the agreement is tested hardest.
  const leader = world.leaderId();
  if (leader !== null && random.nextInt(2) === 0) return leader;
  return 1 + random.nextInt(nodeCount);
}

function isConverged(world: NodeWorld, nodeCount: number): boolean {
  const leader = world.leaderId();
  if (leader === null) return false;
  const core = world.core(leader);
  const state = core.state;
  const ids = state.memberIds();
  if (ids.length !== nodeCount) return false;
  for (let p = 0; p < state.partitions; p++) {
    const placed = [...state.placement(p)].sort();
    if (state.insync(p).join() !== placed.join()) return false;
  }
  return core.isHealthy();
}

function describe(world: NodeWorld, nodeCount: number): string {
  const leader = world.leaderId();
  if (leader === null) return "no leader";
  const state = world.core(leader).state;
  const core = world.core(leader);
  const sets = Array.from({ length: state.partitions }, (_, p) => {
    const placed = [...state.placement(p)].sort();
    const isDone = state.insync(p).join() === placed.join();
    return `${p}:[${state.insync(p)}]${isDone ? "" : ` {${core.describePartition(p)}}`}`;
  });
  return `leader ${leader} of ${nodeCount}, in-sync ${sets.join(" ")}`;
}

function simKey(i: number): string {
  const head = (0x10000000 + i * 0x01000001).toString(16).padStart(8, "0");
  return `${head}-0000-4000-8000-${(i + 1).toString(16).padStart(12, "0")}`;
}
