// `bun run bench:catch-up`: how long a node that missed writes takes to be back in every in-sync
// set it belongs to, replayed as often as wanted from one saved data set, so that two versions of
// the code can be compared on the same data in minutes (bench:scale loads the data anew for
// every trial). Two steps, given the same --dir and --port-base:
//
//   build    3 nodes (RF 2) load --keys keys of 256-byte values, node 3 is killed, --missed
//            rewrites of stored keys follow, then nodes 1 and 2 stop; the three data
//            directories are kept in --dir
//   replay   --rounds times: copies the directories, restarts nodes 1 and 2 on them and waits
//            until node 1 leads and they serve every partition, then restarts node 3 and times
//            it until the leader's heartbeat shows it in every in-sync set placement gives it.
//            One JSON line per round (start-up and catch-up ms, CPU ms of nodes 1, 2 and 3
//            from node 3's restart, node 3's RSS, and from node 3's own metrics its commits,
//            the rows they stored and the ms they took), then a summary line with the medians.
//   store    the storage part alone, no network and no other node: copies node 3's database and
//            has its replica role store --missed rewrites of the keys it holds (256-byte
//            values, 512 per partition step, about 1,300 per commit as node 3 commits them when
//            catching up, the log trimmed as a node trims it). One JSON line: µs per change of
//            elapsed time, of user and of system CPU, and read and write system calls per change.
//
//   --keys n        stored keys (default 1000000)
//   --missed n      writes node 3 misses (default 200000)
//   --dir d         where build keeps the data (default .tmp/catch-up); replay copies it
//   --rounds n      replays (default 3)
//   --port-base p   node i listens on p+10i, p+10i+1 and p+10i+2 (default 21000): a restarted
//                   node must come back on its old ports; replay's node 3 serves HTTP on p+33
// Every node it starts is killed when it ends, also on error.
import "./help.ts";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { WarehouseClient } from "../lib/client/client.ts";
import { ReplicaCore } from "../lib/cluster/replica-core.ts";
import { NodeStorage } from "../lib/store/node-storage.ts";
import { Cluster, waitFor } from "../test/harness/cluster.ts";
import { parsePrometheusText, sampleValue } from "../test/harness/prometheus.ts";
import { keyOf, valueOf, writeAll } from "./scale/load.ts";
import { cpuMs, isFullyInSync, rssBytes, timeToInSync } from "./scale/probe.ts";

/** A mistake in how the script was called: said on stderr, exit status 2. */
class UsageError extends Error {}

function count(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${text}`);
  }
  return n;
}

function readSettings() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        keys: { type: "string", default: "1000000" },
        missed: { type: "string", default: "200000" },
        dir: { type: "string", default: ".tmp/catch-up" },
        rounds: { type: "string", default: "3" },
        "port-base": { type: "string", default: "21000" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values: flags, positionals } = parsed;
  const step = positionals[0];
  if (positionals.length !== 1 || (step !== "build" && step !== "replay" && step !== "store")) {
    throw new UsageError("usage: bun run bench:catch-up -- build|replay|store [flags] (--help)");
  }
  return {
    step,
    keys: count("keys", flags.keys, 1, 100_000_000),
    missed: count("missed", flags.missed, 0, 100_000_000),
    rounds: count("rounds", flags.rounds, 1, 1000),
    portBase: count("port-base", flags["port-base"], 1024, 32_700),
    dir: resolve(flags.dir),
  };
}

const { step, keys, missed, rounds, portBase, dir } = (() => {
  try {
    return readSettings();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
})();
const RF = 2;
const VALUE_BYTES = 256;
const LOAD_CLIENTS = 64;
/** Changes of one catch-up step (the leader's fetch limit) and of one commit of node 3's. */
const STEP_CHANGES = 512;
const COMMIT_CHANGES = 1300;
/** A round that takes longer than this is a failure, not a slow result. */
const ROUND_TIMEOUT_MS = 300_000;

const portsOf = (id: number) => ({
  port: portBase + id * 10, pubPort: portBase + id * 10 + 1, peerPort: portBase + id * 10 + 2,
  httpPort: "off" as const,
});

async function connect(cluster: Cluster): Promise<WarehouseClient> {
  return WarehouseClient.connect({
    endpoints: cluster.endpoints(), requestTimeoutMs: 3000, giveUpMs: 20_000,
  });
}

/** `alive` members serve every partition (`absent` ones aside), led by `leader` if given. */
async function isSettled(probe: WarehouseClient, alive: number, absent: number[], leader?: number) {
  const reply = await probe.request({ op: "HEARTBEAT" });
  const leading = (reply["leader"] as { id?: unknown } | null | undefined)?.id;
  return (leader === undefined || leading === leader) && isFullyInSync(reply, alive, RF, absent);
}

async function build(): Promise<void> {
  await using cluster = new Cluster();
  const first = await cluster.start({ id: 1, rf: RF, ...portsOf(1) });
  for (const id of [2, 3]) await cluster.start({ id, join: [first.endpoint], ...portsOf(id) });
  const clients = await Promise.all([1, 2, 3, 4].map(() => connect(cluster)));
  try {
    const probe = clients[0] as WarehouseClient;
    await waitFor(() => isSettled(probe, 3, []), { what: "3 nodes in sync", timeoutMs: 60_000 });
    const load = await writeAll(clients, LOAD_CLIENTS, 0, keys, keyOf,
      (i) => valueOf(i, VALUE_BYTES));
    await cluster.kill(3);
    const miss = await writeAll(clients, LOAD_CLIENTS, 0, missed,
      () => keyOf(Math.floor(Math.random() * keys)), (i) => valueOf(`m${i}`, VALUE_BYTES));
    console.log(JSON.stringify({ event: "built", keys, missed, loadWritesPerSec: load.writesPerSec,
      missWritesPerSec: miss.writesPerSec }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  await cluster.stop(2);
  await cluster.stop(1);
  await Bun.$`rm -rf ${dir} && mkdir -p ${dir} && cp -a ${cluster.root}/. ${dir}/`;
  writeFileSync(join(dir, "catch-up.json"), JSON.stringify({ keys, missed, portBase }));
  console.log(JSON.stringify({ event: "saved", dir }));
}

async function replayOnce(round: number) {
  await using cluster = new Cluster();
  await Bun.$`cp -a ${dir}/. ${cluster.root}/`;
  for (const id of [1, 2]) await cluster.start({ id, ...portsOf(id) });
  const probe = await connect(cluster);
  try {
    // Node 1 leads, as it did when node 3 went down (and as in bench:scale): node 3 must not
    // return into the hand-back of the lead from node 2, which restarts every partition's
    // catch-up under a new epoch a few hundred ms later.
    await waitFor(() => isSettled(probe, 2, [3], 1), {
      what: "node 1 leading, nodes 1 and 2 serving every partition", timeoutMs: ROUND_TIMEOUT_MS,
    });
    const cpuBefore = [1, 2].map((id) => cpuMs(cluster.node(id).process.pid));
    const started = performance.now();
    // HTTP on node 3 alone: its metrics say how long its commits took.
    const restarted = await cluster.start({ id: 3, ...portsOf(3), httpPort: portBase + 33 });
    const startUpMs = performance.now() - started;
    const catchUpMs = await timeToInSync(probe, 3, RF, started, ROUND_TIMEOUT_MS);
    const cpuMsPerNode = [
      ...[1, 2].map((id, i) => cpuMs(cluster.node(id).process.pid) - (cpuBefore[i] as number)),
      cpuMs(restarted.process.pid),
    ];
    return { round, startUpMs: Math.round(startUpMs), catchUpMs: Math.round(catchUpMs),
      cpuMsPerNode, rssBytesRestarted: rssBytes(restarted.process.pid),
      ...await commitsOf(restarted.http) };
  } finally {
    await probe.close();
  }
}

/** A node's commits since it started, the rows they stored and their time (its /metrics). */
async function commitsOf(http: string | null) {
  if (http === null) throw new Error("node 3 serves no HTTP: its metrics cannot be read");
  const metrics = parsePrometheusText(await (await fetch(`${http}/metrics`)).text());
  return {
    commitsRestarted: sampleValue(metrics, "warehouse_storage_commits_total"),
    committedRowsRestarted: sampleValue(metrics, "warehouse_storage_committed_rows_total"),
    commitMsRestarted: Math.round(
      sampleValue(metrics, "warehouse_storage_commit_duration_seconds_sum") * 1000),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** What `build` saved in `dir`. */
function savedDataSet(): { keys: number; missed: number; portBase: number } {
  const saved = join(dir, "catch-up.json");
  if (!existsSync(saved)) {
    throw new UsageError(`no data set in ${dir}: run \`bun run bench:catch-up -- build\` first`);
  }
  return JSON.parse(readFileSync(saved, "utf8")) as { keys: number; missed: number;
    portBase: number };
}

async function replay(): Promise<void> {
  const fixture = savedDataSet();
  if (fixture.portBase !== portBase) {
    throw new UsageError(`${dir} was built with --port-base ${fixture.portBase}`);
  }
  const results = [];
  for (let round = 1; round <= rounds; round++) {
    const result = await replayOnce(round);
    console.log(JSON.stringify(result));
    results.push(result);
  }
  console.log(JSON.stringify({ event: "summary", keys: fixture.keys, missed: fixture.missed,
    rounds, medianCatchUpMs: median(results.map((r) => r.catchUpMs)),
    medianStartUpMs: median(results.map((r) => r.startUpMs)),
    medianCpuMsRestarted: median(results.map((r) => r.cpuMsPerNode[2] as number)),
    medianCommitMsRestarted: median(results.map((r) => r.commitMsRestarted)) }));
}

/** Read and write system calls of this process so far (Linux /proc, every thread). */
function syscalls(): { reads: number; writes: number } {
  const text = readFileSync("/proc/self/io", "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)?.[1]);
  return { reads: field("syscr"), writes: field("syscw") };
}

async function storeOnly(): Promise<void> {
  savedDataSet();
  const work = mkdtempSync(join(tmpdir(), "warehouse-catch-up-store-"));
  try {
    await Bun.$`cp -a ${join(dir, "3")}/. ${work}/`;
    const keysOf = new Map<number, string[]>();
    const file = new Database(join(work, "warehouse.sqlite"), { readonly: true });
    for (const { partition, key } of file.query<{ partition: number; key: string }, []>(
      "SELECT partition, key FROM kv").iterate()) {
      const list = keysOf.get(partition) ?? [];
      if (list.length === 0) keysOf.set(partition, list);
      list.push(key);
    }
    file.close();
    const storage = NodeStorage.open(work);
    const core = new ReplicaCore(storage.replica);
    const partitions = [...keysOf.keys()];
    if (partitions.length === 0) throw new UsageError(`node 3 of ${dir} holds no rows`);
    const value = "v".repeat(VALUE_BYTES);
    const writer = `${crypto.randomUUID()}/`;
    let rid = 0;
    let stored = 0;
    const cpu = process.cpuUsage();
    const calls = syscalls();
    const started = performance.now();
    while (stored < missed) {
      // Steps of different partitions, as the leader sends them: the store's summary moves only
      // when the batch commits, so a partition takes one step per commit.
      const stepped = new Set<number>();
      let queued = 0;
      while (queued < COMMIT_CHANGES && stored + queued < missed &&
        stepped.size < partitions.length) {
        const partition = partitions[Math.floor(Math.random() * partitions.length)] as number;
        if (stepped.has(partition)) continue;
        stepped.add(partition);
        const keys = keysOf.get(partition) as string[];
        const prev = storage.replica.summary(partition).last;
        const epoch = Math.max(prev.epoch, storage.replica.fencedEpoch(partition), 1);
        const count = Math.min(STEP_CHANGES, COMMIT_CHANGES - queued, missed - stored - queued);
        const changes = Array.from({ length: count }, (_, i) => ({
          seq: prev.seq + 1 + i, epoch, value, writer: `${writer}${stored + queued + i}`,
          key: keys[Math.floor(Math.random() * keys.length)] as string,
        }));
        const reply = core.handle(1, { type: "replicate", rid: ++rid, partition, epoch, prev,
          changes });
        if (reply !== null) throw new Error(`replicate refused: ${JSON.stringify(reply)}`);
        queued += count;
      }
      const batch = core.takeBatch();
      batch.complete(storage.persist(null, batch.writes));
      stored += queued;
    }
    const elapsedMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const after = syscalls();
    storage.close();
    const per = (n: number) => Math.round((n / stored) * 10) / 10;
    console.log(JSON.stringify({ event: "store", changes: stored, rows: [...keysOf.values()]
      .reduce((n, k) => n + k.length, 0), usPerChange: per(elapsedMs * 1000),
      userUsPerChange: per(used.user), systemUsPerChange: per(used.system),
      readCallsPerChange: per(after.reads - calls.reads),
      writeCallsPerChange: per(after.writes - calls.writes) }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  if (step === "build") await build();
  else if (step === "replay") await replay();
  else await storeOnly();
} catch (error) {
  console.error(error instanceof UsageError ? error.message
    : `bench:catch-up failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
