// `bun run bench:compare`: Warehouse against etcd 3.4 on the same machine in one run. Each side
// runs 3 members on loopback with temp data directories and acknowledges a write only once two
// members have it fsync'd (etcd: its WAL on a majority; Warehouse: RF 2, both replicas). One
// closed-loop harness drives both in interleaved rounds (each case runs on both, the order
// alternating), SET and linearizable GET on random UUID keys at several concurrencies and value
// sizes; then failover: kill -9 the leader under a write started every 10 ms, time to the first
// acknowledged write started after the kill, median of N fresh-cluster trials.
// etcd is reached over gRPC (node:http2, up to 4 sessions, like Warehouse's 4 client connections),
// or with --etcd-client http through its v3 JSON gateway; requests go to the leader. Prints the
// settings, one JSON line per case (both figures and the ratio Warehouse / etcd), then a table.
// `--quick` takes about half a minute; see USAGE (bench/compare/settings.ts) for the flags.
import { etcdVersion, ETCD_BINARY } from "./compare/etcd.ts";
import {
  closedLoop, failoverTime, type Figures, type LoopResult, median, processCpuUs, selfCpuUs,
  summarize,
} from "./compare/loop.ts";
import { type Op, parseSettings, type Settings, USAGE } from "./compare/settings.ts";
import { live, type System, type SystemName, startSystem, stopSystem } from "./compare/systems.ts";
import { printTable, targetFor, type CaseLine, type FailoverLine } from "./compare/report.ts";

const SYSTEMS: SystemName[] = ["etcd", "warehouse"];
/** Loops share a few client connections, as several application processes would (Warehouse). */
const CONNECTIONS_MAX = 4;

async function killEverything(): Promise<void> {
  await Promise.all([...live].map(async (r) => {
    try {
      await r[Symbol.asyncDispose]();
    } catch {
      // best effort: the others must still be killed
    }
  }));
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`bench:compare: ${signal}, killing every process it started`);
    void killEverything().finally(() => process.exit(130));
  });
}

interface Case {
  op: Op;
  concurrency: number;
  valueBytes: number;
}

function casesOf(settings: Settings): Case[] {
  return settings.valueSizes.flatMap((valueBytes) =>
    settings.concurrencies.flatMap((concurrency) =>
      settings.ops.map((op) => ({ op, concurrency, valueBytes }))));
}

const caseName = (c: Case): string => `${c.op} c=${c.concurrency} ${c.valueBytes} B`;

/** Writes `count` keys with `value` (64 at a time) for the GET cases to read. */
async function seed(system: System, count: number, value: string): Promise<string[]> {
  const keys = Array.from({ length: count }, () => crypto.randomUUID());
  for (let i = 0; i < keys.length; i += 64) {
    await Promise.all(keys.slice(i, i + 64).map((k, j) => system.set(j, k, value)));
  }
  return keys;
}

async function runCase(system: System, c: Case, seconds: number, keys: string[]):
  Promise<LoopResult> {
  await system.connect(Math.min(CONNECTIONS_MAX, c.concurrency));
  try {
    const value = "v".repeat(c.valueBytes);
    const pids = system.pids();
    const servers = processCpuUs(pids);
    const client = selfCpuUs();
    const result = await closedLoop(c.concurrency, seconds, async (loop) => {
      if (c.op === "SET") return system.set(loop, crypto.randomUUID(), value);
      const key = keys[Math.floor(Math.random() * keys.length)] as string;
      if (!(await system.get(loop, key))) throw new Error(`GET ${key}: not found`);
    });
    result.cpuUs = { servers: processCpuUs(pids) - servers, client: selfCpuUs() - client };
    return result;
  } finally {
    await system.closeClients();
  }
}

async function throughput(settings: Settings): Promise<CaseLine[]> {
  const cases = casesOf(settings);
  if (cases.length === 0) return [];
  const systems = new Map<SystemName, System>();
  const keys = new Map<string, string[]>();
  try {
    for (const name of SYSTEMS) {
      const system = await startSystem(name, settings);
      systems.set(name, system);
      await system.connect(CONNECTIONS_MAX);
      for (const size of settings.valueSizes) {
        keys.set(`${name}/${size}`, await seed(system, settings.getKeys, "v".repeat(size)));
      }
      await system.closeClients();
      // Warm-up: JIT, connection pools, first sqlite/bbolt pages; not recorded.
      await runCase(system, { op: "SET", concurrency: 16, valueBytes: 256 },
        settings.warmupSeconds, []);
    }
    const results = new Map<string, Record<SystemName, LoopResult[]>>();
    for (let round = 0; round < settings.rounds; round++) {
      for (const [i, c] of cases.entries()) {
        const order = (round + i) % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse();
        const entry = results.get(caseName(c)) ?? { etcd: [], warehouse: [] };
        results.set(caseName(c), entry);
        for (const name of order) {
          const system = systems.get(name) as System;
          const result = await runCase(system, c, settings.seconds,
            keys.get(`${name}/${c.valueBytes}`) ?? []);
          entry[name].push(result);
          if (result.firstError !== null) {
            console.error(`${name} ${caseName(c)}: ${result.errors} errors, ` +
              `first: ${result.firstError}`);
          }
        }
      }
      console.error(`round ${round + 1}/${settings.rounds} done`);
    }
    return cases.map((c) => {
      const entry = results.get(caseName(c)) as Record<SystemName, LoopResult[]>;
      return caseLine(c, summarize(entry.etcd), summarize(entry.warehouse));
    });
  } finally {
    for (const system of systems.values()) await stopSystem(system);
  }
}

const ratio = (a: number, b: number): number => Number((a / b).toFixed(2));

function caseLine(c: Case, etcd: Figures, warehouse: Figures): CaseLine {
  const line: CaseLine = {
    case: c.op.toLowerCase() as "set" | "get",
    concurrency: c.concurrency,
    valueBytes: c.valueBytes,
    etcd,
    warehouse,
    ratio: {
      opsPerSec: ratio(warehouse.opsPerSec, etcd.opsPerSec),
      p50: ratio(warehouse.p50Ms, etcd.p50Ms),
      p99: ratio(warehouse.p99Ms, etcd.p99Ms),
      serverCpuPerOp: ratio(warehouse.cpuUsPerOp.servers, etcd.cpuUsPerOp.servers),
    },
  };
  const target = targetFor(line);
  if (target !== undefined) line.target = target;
  return line;
}

async function failover(settings: Settings): Promise<FailoverLine | null> {
  if (settings.failoverTrials === 0) return null;
  const trials: Record<SystemName, number[]> = { etcd: [], warehouse: [] };
  for (let t = 0; t < settings.failoverTrials; t++) {
    for (const name of t % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse()) {
      const system = await startSystem(name, settings);
      try {
        await system.connect(1);
        const ms = await failoverTime(() => system.set(0, crypto.randomUUID(), "x"),
          () => system.killLeader(), { intervalMs: 10, settleMs: 500, timeoutMs: 20_000 });
        trials[name].push(Math.round(ms));
      } finally {
        await stopSystem(system);
      }
    }
  }
  const etcdMs = median(trials.etcd);
  const warehouseMs = median(trials.warehouse);
  const line: FailoverLine = {
    case: "failover",
    etcd: { medianMs: Math.round(etcdMs), trialsMs: trials.etcd },
    warehouse: { medianMs: Math.round(warehouseMs), trialsMs: trials.warehouse },
    ratio: ratio(warehouseMs, etcdMs),
  };
  const target = targetFor(line);
  if (target !== undefined) line.target = target;
  return line;
}

async function main(): Promise<number> {
  let settings: Settings;
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  try {
    settings = parseSettings(args, process.env);
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const version = etcdVersion();
  if (version === null) {
    console.error(`bench:compare needs etcd 3.4 at ${ETCD_BINARY} (or set ETCD_BINARY).\n` +
      "On Debian or Ubuntu: sudo apt-get install etcd-server");
    return 2;
  }
  console.log(JSON.stringify({
    settings: {
      ...settings,
      etcd: version,
      etcdClient: settings.etcdClient === "grpc"
        ? "gRPC (node:http2, hand-encoded protobuf), up to 4 HTTP/2 sessions to the leader"
        : "v3 JSON gateway, HTTP/1.1 keep-alive (Bun fetch), requests to the leader",
      etcdDurability:
        "default: WAL fsync'd on a majority (2 of 3); 100 ms heartbeat, 1000 ms election",
      warehouseDurability: `RF ${settings.rf}: every in-sync replica fsync'd; 200 ms election`,
      bun: Bun.version,
    },
  }));
  const lines: CaseLine[] = await throughput(settings);
  for (const line of lines) console.log(JSON.stringify(line));
  const failoverLine = await failover(settings);
  if (failoverLine !== null) console.log(JSON.stringify(failoverLine));
  printTable(lines, failoverLine);
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`bench:compare failed: ${(error as Error).stack ?? String(error)}`);
} finally {
  await killEverything();
}
process.exit(code);
