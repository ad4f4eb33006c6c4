// `bun run bench:cluster`: a 3-node, RF 2 cluster on loopback; closed-loop clients at several
// concurrencies doing SET and GET of 256-byte values on random UUID4 keys; then failover time
// (kill -9 the leader under a light write load, time to the first write the new leader acks).
// Prints one JSON line per case. BENCH_SECONDS (default 10) sets each case's length.
// BENCH_OPS (default "SET,GET") picks the cases; BENCH_CONCURRENCY (default "1,16,64") the
// concurrencies; BENCH_FAILOVER_TRIALS=0 skips failover. E.g. writes only:
// `BENCH_OPS=SET BENCH_CONCURRENCY=16,64 BENCH_FAILOVER_TRIALS=0 bun bench/cluster.ts`.
// `--curve`: the nodes serve and peer with CURVE (a cluster key from keygen) and the clients
// connect with keys of their own; every line then says "curve": true.
// cpuUsPerOp: CPU time of the three nodes and this load generator per operation (Linux /proc),
// which, unlike ops/s, holds steady when other processes compete for the cores; nodesCpuUsPerOp
// splits the nodes' share into user and kernel time.
import "./help.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WarehouseClient } from "../lib/client/client.ts";
import { generateKeyPair, writeKeyPair } from "../lib/curve-keys.ts";
import { type CurveOptions, loadCurveCrypto } from "../lib/zmtp/index.ts";
import { Cluster, waitForSynced } from "../test/harness/cluster.ts";

const isCurve = process.argv.includes("--curve");

const seconds = Number(process.env["BENCH_SECONDS"] ?? 10);
const concurrencies = (process.env["BENCH_CONCURRENCY"] ?? "1,16,64").split(",").map(Number);
const ops = (process.env["BENCH_OPS"] ?? "SET,GET").toUpperCase().split(",");
const failoverTrials = Number(process.env["BENCH_FAILOVER_TRIALS"] ?? 3);
/** Loops share a few client connections, as several application processes would. */
const CLIENTS_MAX = 4;
const value = "v".repeat(256);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** CPU time in µs used so far by these processes (node pids), user and kernel, and by this one. */
function cpuUs(pids: number[]): { nodesUser: number; nodesSystem: number; self: number } {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is the first; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    user += Number(fields[11]);
    system += Number(fields[12]);
  }
  const self = process.cpuUsage();
  const toUs = (ticks: number) => (ticks * 1e6) / CLOCK_TICKS_PER_SEC;
  return { nodesUser: toUs(user), nodesSystem: toUs(system), self: self.user + self.system };
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every common platform. */
const CLOCK_TICKS_PER_SEC = 100;

/** Client CURVE options, set by startCluster under --curve. */
let clientCurve: CurveOptions | undefined;

async function connect(endpoints: string[]): Promise<WarehouseClient> {
  return WarehouseClient.connect({
    endpoints,
    requestTimeoutMs: 2000,
    giveUpMs: 10_000,
    ...(clientCurve === undefined ? {} : { curve: clientCurve }),
  });
}

/** 3 nodes, RF 2; under --curve with a cluster key written to the cluster's temp directory. */
async function startCluster(cluster: Cluster): Promise<void> {
  if (!isCurve) {
    await cluster.startMany(3, 2);
    return;
  }
  const crypto = await loadCurveCrypto();
  const clusterPair = generateKeyPair(crypto);
  const base = join(cluster.root, "cluster");
  writeKeyPair(base, clusterPair);
  clientCurve = { crypto, ...generateKeyPair(crypto), serverKey: clusterPair.publicKey };
  await cluster.startMany(3, 2, ["--curve-secret-key-file", `${base}.key`]);
}

async function runCase(
  clients: WarehouseClient[],
  op: "SET" | "GET",
  concurrency: number,
  keys: string[],
  pids: number[],
): Promise<void> {
  const latencies: number[] = [];
  let errors = 0;
  const termBefore = (await (clients[0] as WarehouseClient).heartbeat()).term;
  const end = performance.now() + seconds * 1000;
  const loop = async (i: number): Promise<void> => {
    const client = clients[i % clients.length] as WarehouseClient;
    while (performance.now() < end) {
      const key =
        op === "SET"
          ? crypto.randomUUID()
          : (keys[Math.floor(Math.random() * keys.length)] as string);
      const start = performance.now();
      try {
        if (op === "SET") await client.set(key, value);
        else await client.get(key);
        latencies.push(performance.now() - start);
      } catch {
        errors++;
      }
    }
  };
  const started = performance.now();
  const cpuBefore = cpuUs(pids);
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  const cpuAfter = cpuUs(pids);
  const nodesUser = cpuAfter.nodesUser - cpuBefore.nodesUser;
  const nodesSystem = cpuAfter.nodesSystem - cpuBefore.nodesSystem;
  const cpuUsed = nodesUser + nodesSystem + cpuAfter.self - cpuBefore.self;
  const perOp = (us: number) => Math.round(us / Math.max(1, latencies.length));
  const elapsed = (performance.now() - started) / 1000;
  // A healthy, busy cluster keeps its leader: the term must not move during a case.
  const termAfter = (await (clients[0] as WarehouseClient).heartbeat()).term;
  latencies.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      case: `${op.toLowerCase()}`,
      curve: isCurve,
      concurrency,
      valueBytes: value.length,
      seconds: Number(elapsed.toFixed(1)),
      ops: latencies.length,
      opsPerSec: Math.round(latencies.length / elapsed),
      p50Ms: Number(percentile(latencies, 50).toFixed(2)),
      p99Ms: Number(percentile(latencies, 99).toFixed(2)),
      cpuUsPerOp: perOp(cpuUsed),
      nodesCpuUsPerOp: { user: perOp(nodesUser), kernel: perOp(nodesSystem) },
      errors,
      termChanges: termAfter - termBefore,
    }),
  );
}

async function throughput(): Promise<void> {
  await using cluster = new Cluster();
  await startCluster(cluster);
  const probe = await connect(cluster.endpoints());
  await waitForSynced((b) => probe.request(b), { members: 3, rf: 2, leaderId: 1 });
  await probe.close();
  // Keys for GET: written once up front so reads hit real rows.
  const seedClient = await connect(cluster.endpoints());
  const keys = Array.from({ length: 2000 }, () => crypto.randomUUID());
  for (let i = 0; i < keys.length; i += 64) {
    await Promise.all(keys.slice(i, i + 64).map((k) => seedClient.set(k, value)));
  }
  await seedClient.close();
  for (const concurrency of concurrencies) {
    const clients = await Promise.all(
      Array.from({ length: Math.min(CLIENTS_MAX, concurrency) }, () =>
        connect(cluster.endpoints()),
      ),
    );
    const pids = [1, 2, 3].map((id) => cluster.node(id).process.pid);
    if (ops.includes("SET")) await runCase(clients, "SET", concurrency, keys, pids);
    if (ops.includes("GET")) await runCase(clients, "GET", concurrency, keys, pids);
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** One trial: writes every 10 ms, kill -9 node 1, time until a write after the kill is acked. */
async function failoverTrial(): Promise<number> {
  await using cluster = new Cluster();
  await startCluster(cluster);
  const client = await connect(cluster.endpoints());
  try {
    await waitForSynced((b) => client.request(b), { members: 3, rf: 2, leaderId: 1 });
    let killedAt = 0;
    let firstAckAfterKill = 0;
    const writer = (async () => {
      while (firstAckAfterKill === 0) {
        const started = performance.now();
        try {
          await client.set(crypto.randomUUID(), "x");
          if (killedAt > 0 && started >= killedAt) firstAckAfterKill = performance.now();
        } catch {
          // a write that failed during the failover is retried by the next loop turn
        }
        await Bun.sleep(10);
      }
    })();
    await Bun.sleep(500);
    killedAt = performance.now();
    await cluster.kill(1);
    await writer;
    return firstAckAfterKill - killedAt;
  } finally {
    await client.close();
  }
}

await throughput();
const trials: number[] = [];
for (let i = 0; i < failoverTrials; i++) trials.push(await failoverTrial());
const sorted = [...trials].sort((a, b) => a - b);
if (failoverTrials > 0) console.log(
  JSON.stringify({
    case: "failover",
    curve: isCurve,
    trials: trials.map((t) => Math.round(t)),
    medianMs: Math.round(percentile(sorted, 50)),
    maxMs: Math.round(sorted[sorted.length - 1] ?? NaN),
  }),
);
