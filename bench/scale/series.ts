// The scale benchmark's series. Each starts its own cluster (real node processes on loopback,
// killed when it ends, also on error), prints one JSON line per point and returns the points.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WarehouseClient } from "../../lib/client/client.ts";
import { Cluster } from "../../test/harness/cluster.ts";
import { closedLoops, keyOf, type LoopResult, valueOf, writeAll } from "./load.ts";
import {
  cpuMs, diskBytes, partitionsHolding, partitionsPlacedOn, rssBytes, timeToInSync,
} from "./probe.ts";

/** Loops share a few connections, as several application processes would (as bench:cluster). */
const CONNECTIONS_MAX = 4;
/** Keys written up front for the GET cases of a point. */
const GET_KEYS = 256;
/** How long a cluster may take to form, and a restarted node to catch up, before the run fails. */
const FORM_TIMEOUT_MS = 60_000;
const CATCH_UP_TIMEOUT_MS = 600_000;

export type Op = "SET" | "GET";

export interface ThroughputPoint extends LoopResult {
  series: string;
  op: Op;
  clients: number;
  valueBytes: number;
  nodes: number;
  rf: number;
}

export interface CatchUp {
  missedWrites: number;
  missWritesPerSec: number;
  /** From the restart to the node's ready line. */
  startUpMs: number;
  /** From the restart to the node being in every in-sync set it belongs to. */
  catchUpMs: number;
  /** From the restart to the node being back in the first of its partitions' in-sync sets. */
  firstPartitionMs: number;
  /** ... and in half of them. */
  halfPartitionsMs: number;
  /** CPU time each node used from the restart to in sync (node 3's from its start). */
  cpuMsPerNode: number[];
  rssBytesRestarted: number;
}

export interface DataPoint {
  series: "data";
  keys: number;
  rf: number;
  valueBytes: number;
  loadWritesPerSec: number;
  rssBytesPerNode: number[];
  diskBytesPerNode: number[];
  walBytesPerNode: number[];
  /** Every file of the three data directories over keys times RF. */
  diskBytesPerKeyReplica: number;
  /** The same without sqlite's write-ahead logs (up to about 160 MB a node, checkpointed). */
  dbBytesPerKeyReplica: number;
  catchUp: CatchUp | null;
}

/** Plays `onPoint` for every point as it is measured (the caller prints it). */
export type Report = (point: ThroughputPoint | DataPoint | MemoryPoint) => void;

/** Every cluster this run started: a signal kills them all (disposing twice does no harm). */
const started = new Set<Cluster>();

function newCluster(): Cluster {
  const cluster = new Cluster();
  started.add(cluster);
  return cluster;
}

/** Kills every node of every cluster started so far and removes their data directories. */
export async function killEverything(): Promise<void> {
  await Promise.all([...started].map((cluster) => cluster[Symbol.asyncDispose]()));
}

async function connectAll(cluster: Cluster, count: number): Promise<WarehouseClient[]> {
  return Promise.all(Array.from({ length: count }, () =>
    WarehouseClient.connect({ endpoints: cluster.endpoints(), requestTimeoutMs: 5000,
      giveUpMs: 30_000 })));
}

/** Starts `nodes` nodes with `rf` and waits until every partition is fully in sync. */
async function formCluster(cluster: Cluster, nodes: number, rf: number): Promise<void> {
  await cluster.startMany(nodes, rf);
  const [probe] = await connectAll(cluster, 1);
  try {
    await timeToInSync(probe as WarehouseClient, nodes, rf, performance.now(), FORM_TIMEOUT_MS);
  } finally {
    await probe?.close();
  }
}

async function closeAll(clients: WarehouseClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

interface PointShape {
  series: string;
  clients: number;
  valueBytes: number;
  nodes: number;
  rf: number;
}

/** SET of new keys, then GET of keys written up front, at one shape; both points reported. */
async function measureShape(
  cluster: Cluster,
  shape: PointShape,
  seconds: number,
  report: Report,
): Promise<ThroughputPoint[]> {
  const clients = await connectAll(cluster, Math.min(CONNECTIONS_MAX, shape.clients));
  try {
    const value = valueOf("bench", shape.valueBytes);
    const setResult = await closedLoops(clients, shape.clients, seconds,
      (c) => c.set(crypto.randomUUID(), value));
    const keys = Array.from({ length: GET_KEYS }, () => crypto.randomUUID());
    await writeAll(clients, 16, 0, keys.length, (i) => keys[i] as string, () => value);
    const getResult = await closedLoops(clients, shape.clients, seconds, (c) =>
      c.get(keys[Math.floor(Math.random() * keys.length)] as string));
    const points = [
      { ...shape, op: "SET" as const, ...setResult },
      { ...shape, op: "GET" as const, ...getResult },
    ];
    for (const point of points) report(point);
    return points;
  } finally {
    await closeAll(clients);
  }
}

/** 3 nodes, RF 2: throughput and p99 against concurrent clients, then against value size. */
export async function clientsAndValues(
  options: { clients: number[]; values: number[]; seconds: number; concurrencyForValues: number },
  report: Report,
): Promise<{ clients: ThroughputPoint[]; values: ThroughputPoint[] }> {
  await using cluster = newCluster();
  await formCluster(cluster, 3, 2);
  const byClients: ThroughputPoint[] = [];
  for (const clients of options.clients) {
    byClients.push(...await measureShape(cluster,
      { series: "clients", clients, valueBytes: 256, nodes: 3, rf: 2 }, options.seconds, report));
  }
  const byValues: ThroughputPoint[] = [];
  for (const valueBytes of options.values) {
    byValues.push(...await measureShape(cluster,
      { series: "values", clients: options.concurrencyForValues, valueBytes, nodes: 3, rf: 2 },
      options.seconds, report));
  }
  return { clients: byClients, values: byValues };
}

/** Throughput and p99 of every (nodes, rf) pair, a fresh cluster each. */
export async function clusterSizes(
  options: { nodes: number[]; rfs: number[]; clients: number; seconds: number },
  report: Report,
): Promise<ThroughputPoint[]> {
  const points: ThroughputPoint[] = [];
  for (const rf of options.rfs) {
    for (const nodes of options.nodes) {
      if (rf > nodes) continue;
      await using cluster = newCluster();
      await formCluster(cluster, nodes, rf);
      points.push(...await measureShape(cluster,
        { series: "nodes", clients: options.clients, valueBytes: 256, nodes, rf },
        options.seconds, report));
    }
  }
  return points;
}

export interface MemoryPoint {
  series: "memory";
  /** Values written so far, each a SET of a new key. */
  writes: number;
  valueBytes: number;
  rssBytesPerNode: number[];
}

/**
 * 3 nodes, RF 2: what large writes do to memory. `writes` SETs of `valueBytes` values by 16
 * loops, with every node's RSS after each of `steps` equal parts. Stored values belong on
 * disk; a node's memory should stay bounded however much is written.
 */
export async function memoryUnderWrites(
  options: { writes: number; valueBytes: number; steps: number },
  report: (point: MemoryPoint) => void,
): Promise<MemoryPoint[]> {
  await using cluster = newCluster();
  await formCluster(cluster, 3, 2);
  const clients = await connectAll(cluster, CONNECTIONS_MAX);
  const points: MemoryPoint[] = [];
  try {
    const step = Math.ceil(options.writes / options.steps);
    for (let done = 0; done < options.writes; done += step) {
      const count = Math.min(step, options.writes - done);
      await writeAll(clients, 16, done, count, keyOf, (i) => valueOf(i, options.valueBytes));
      const point: MemoryPoint = {
        series: "memory", writes: done + count, valueBytes: options.valueBytes,
        rssBytesPerNode: [1, 2, 3].map((id) => rssBytes(cluster.node(id).process.pid)),
      };
      report(point);
      points.push(point);
    }
  } finally {
    await closeAll(clients);
  }
  return points;
}

export interface DataOptions {
  keys: number[];
  /** The sizes (among `keys`) at which a node is restarted after missing writes. */
  catchUpAt: number[];
  missed: number;
  valueBytes: number;
  rf: number;
  loadClients: number;
  /** Where each catch-up trial leaves the logs of node 1 (the leader) and node 3, if anywhere. */
  logsDir: string | null;
}

/**
 * 3 nodes: loads keys up to each size in `keys`; at each, memory and disk of every node; at the
 * sizes in `catchUpAt`, node 3 is then killed, `missed` writes (rewrites of stored keys) happen
 * without it, and it is restarted: time to its ready line (start-up) and to being in every
 * in-sync set it belongs to (catch-up), both from the restart.
 */
export async function dataSizes(options: DataOptions, report: Report): Promise<DataPoint[]> {
  await using cluster = newCluster();
  await formCluster(cluster, 3, options.rf);
  const clients = await connectAll(cluster, CONNECTIONS_MAX);
  const points: DataPoint[] = [];
  try {
    let loaded = 0;
    for (const target of options.keys) {
      const load = await writeAll(clients, options.loadClients, loaded, target - loaded, keyOf,
        (i) => valueOf(i, options.valueBytes));
      loaded = target;
      const point: DataPoint = {
        series: "data", keys: loaded, rf: options.rf, valueBytes: options.valueBytes,
        loadWritesPerSec: load.writesPerSec, ...storage(cluster, loaded, options.rf),
        catchUp: options.catchUpAt.includes(target)
          ? await catchUpTrial(cluster, clients, options, loaded)
          : null,
      };
      report(point);
      points.push(point);
    }
  } finally {
    await closeAll(clients);
  }
  return points;
}

/** Memory and disk of nodes 1-3 now. */
function storage(cluster: Cluster, keys: number, rf: number) {
  const ids = [1, 2, 3];
  const disks = ids.map((id) => diskBytes(cluster.dataDir(id)));
  const diskTotal = disks.reduce((sum, d) => sum + d.total, 0);
  const walTotal = disks.reduce((sum, d) => sum + d.wal, 0);
  return {
    rssBytesPerNode: ids.map((id) => rssBytes(cluster.node(id).process.pid)),
    diskBytesPerNode: disks.map((d) => d.total),
    walBytesPerNode: disks.map((d) => d.wal),
    diskBytesPerKeyReplica: Math.round(diskTotal / (keys * rf)),
    dbBytesPerKeyReplica: Math.round((diskTotal - walTotal) / (keys * rf)),
  };
}

async function catchUpTrial(
  cluster: Cluster,
  clients: WarehouseClient[],
  options: DataOptions,
  keys: number,
): Promise<CatchUp> {
  const down = await cluster.kill(3);
  const miss = await writeAll(clients, options.loadClients, 0, options.missed,
    () => keyOf(Math.floor(Math.random() * keys)), (i) => valueOf(`m${i}`, options.valueBytes));
  const cpuBefore = [1, 2].map((id) => cpuMs(cluster.node(id).process.pid));
  const restartedAt = performance.now();
  const restarted = await cluster.restart(3, down);
  const startUpMs = performance.now() - restartedAt;
  // When the node re-entered its first partition and half of its partitions: whether catch-up
  // is slow throughout or waits for something before it starts.
  let held = 0;
  let firstPartitionMs = NaN;
  let halfPartitionsMs = NaN;
  const catchUpMs = await timeToInSync(clients[0] as WarehouseClient, 3, options.rf,
    restartedAt, CATCH_UP_TIMEOUT_MS, (reply, ms) => {
      const count = partitionsHolding(reply, 3);
      if (count > held && Number.isNaN(firstPartitionMs)) firstPartitionMs = ms;
      held = Math.max(held, count);
      const placed = partitionsPlacedOn(reply, 3, options.rf);
      if (held >= placed / 2 && Number.isNaN(halfPartitionsMs)) halfPartitionsMs = ms;
    });
  const cpuMsPerNode = [
    ...[1, 2].map((id, i) => cpuMs(cluster.node(id).process.pid) - (cpuBefore[i] as number)),
    cpuMs(restarted.process.pid),
  ];
  if (options.logsDir !== null) {
    mkdirSync(options.logsDir, { recursive: true });
    for (const node of [cluster.node(1), restarted]) {
      writeFileSync(join(options.logsDir, `catch-up-${keys}-node-${node.id}.log`), node.stderr());
    }
  }
  return {
    missedWrites: options.missed,
    missWritesPerSec: miss.writesPerSec,
    startUpMs: Math.round(startUpMs),
    catchUpMs: Math.round(catchUpMs),
    firstPartitionMs: Math.round(firstPartitionMs),
    halfPartitionsMs: Math.round(halfPartitionsMs),
    cpuMsPerNode,
    rssBytesRestarted: rssBytes(restarted.process.pid),
  };
}
