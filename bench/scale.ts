// `bun run bench:scale`: how Warehouse's cost grows. Throughput and p99 latency against
// concurrent clients, value size and cluster size (nodes and RF); and against data size: memory
// and disk per key, start-up time of a node on that data, and catch-up time of a node that was
// down while writes happened. Prints one JSON line per point, then a summary line, and writes
// SVG line charts (default docs/bench/; with --quick .tmp/bench-scale/ unless --out is given).
// Every node it starts is killed when it ends, also on error or SIGINT/SIGTERM.
//
//   --quick                  small sizes, well under a minute (keeps the script working)
//   --series a,b             any of clients,values,nodes,memory,data (default all)
//   --seconds s              length of each throughput case (default 5)
//   --clients 1,4,16,64,256  concurrencies of the clients series
//   --values 64,1024,...     value sizes in bytes (default 64,1024,16384,262144)
//   --value-clients n        concurrency of the value-size series (default 16)
//   --nodes 3,5,7 --rf 2,3   cluster sizes and replication factors of the nodes series
//   --node-clients n         concurrency of the nodes series (default 64)
//   --memory-writes n        SETs of the memory series (default 4000), of the largest --values
//   --keys 125000,...        stored keys at which the data series measures memory and disk
//                            (loaded in turn; default 125000,250000,500000,750000,1000000)
//   --catch-up-at 250000,... of those, the sizes with a restart and catch-up (default the
//                            second and the last)
//   --missed n               writes the restarted node misses (default 200000)
//   --load-clients n         concurrency of the data series' writes (default 64)
//   --out dir                where the SVGs go
//   --from a.log,b.log       measure nothing: draw the charts from the JSON lines of earlier
//                            runs (e.g. the throughput series and the data series run apart)
//   --logs dir               keep the logs of the leader and the restarted node of each
//                            catch-up trial there
import "./help.ts";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeCharts } from "./scale/plots.ts";
import {
  clientsAndValues, clusterSizes, type DataPoint, dataSizes, killEverything, type MemoryPoint,
  memoryUnderWrites, type Report, type ThroughputPoint,
} from "./scale/series.ts";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    series: { type: "string" },
    seconds: { type: "string" },
    clients: { type: "string" },
    values: { type: "string" },
    "value-clients": { type: "string" },
    nodes: { type: "string" },
    rf: { type: "string" },
    "node-clients": { type: "string" },
    keys: { type: "string" },
    "memory-writes": { type: "string" },
    "catch-up-at": { type: "string" },
    missed: { type: "string" },
    "load-clients": { type: "string" },
    logs: { type: "string" },
    from: { type: "string" },
    out: { type: "string" },
  },
  strict: true,
});

/** A comma-separated list of positive integers, or the default. */
function numbers(text: string | undefined, fallback: number[], name: string): number[] {
  if (text === undefined) return fallback;
  const list = text.split(",").map((part) => Number(part.trim()));
  if (list.length === 0 || list.some((n) => !Number.isSafeInteger(n) || n <= 0)) {
    console.error(`--${name} takes positive integers separated by commas, got "${text}"`);
    process.exit(1);
  }
  return list;
}

const quick = flags.quick === true;
const allSeries = ["clients", "values", "nodes", "memory", "data"];
const seriesWanted = (flags.series ?? allSeries.join(",")).split(",");
for (const s of seriesWanted) {
  if (!allSeries.includes(s)) {
    console.error(`--series takes ${allSeries.join(", ")}; got "${s}"`);
    process.exit(1);
  }
}
const settings = {
  quick,
  series: seriesWanted,
  seconds: Number(flags.seconds ?? (quick ? 0.25 : 5)),
  clients: numbers(flags.clients, quick ? [1, 16] : [1, 4, 16, 64, 256], "clients"),
  values: numbers(flags.values, quick ? [64, 16384] : [64, 1024, 16384, 262144], "values"),
  valueClients: numbers(flags["value-clients"], [16], "value-clients")[0] as number,
  nodes: numbers(flags.nodes, quick ? [3] : [3, 5, 7], "nodes"),
  rfs: numbers(flags.rf, quick ? [2, 3] : [2, 3], "rf"),
  nodeClients: numbers(flags["node-clients"], [quick ? 16 : 64], "node-clients")[0] as number,
  memoryWrites: numbers(flags["memory-writes"], [quick ? 200 : 4000], "memory-writes")[0] as number,
  keys: numbers(flags.keys, quick ? [1000, 2000] :
    [125_000, 250_000, 500_000, 750_000, 1_000_000], "keys").sort((a, b) => a - b),
  missed: numbers(flags.missed, [quick ? 500 : 200_000], "missed")[0] as number,
  loadClients: numbers(flags["load-clients"], [64], "load-clients")[0] as number,
  valueBytesData: 256,
  rfData: 2,
  out: flags.out ?? (quick ? ".tmp/bench-scale" : "docs/bench"),
};
const catchUpAt = numbers(flags["catch-up-at"],
  [...new Set([settings.keys[Math.min(1, settings.keys.length - 1)] as number,
    settings.keys[settings.keys.length - 1] as number])], "catch-up-at");
if (!(settings.seconds > 0)) {
  console.error(`--seconds takes a positive number, got "${flags.seconds}"`);
  process.exit(1);
}

// Clusters clean up through `await using`; a signal abandons the pending work, so it kills
// every node itself before the process exits.
const stop = Promise.withResolvers<never>();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => stop.reject(new Error(`stopped by ${signal}`)));
}

const print: Report = (point) => console.log(JSON.stringify(point));
const started = performance.now();
console.log(JSON.stringify({
  event: "settings", ...settings, catchUpAt, cores: navigator.hardwareConcurrency,
}));

/** The points printed by earlier runs, read back from their output files. */
interface Points {
  throughput: ThroughputPoint[];
  memory: MemoryPoint[];
  data: DataPoint[];
}

function readPoints(files: string[]): Points {
  const throughput: ThroughputPoint[] = [];
  const memory: MemoryPoint[] = [];
  const data: DataPoint[] = [];
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const point = JSON.parse(line) as { series?: unknown; event?: string };
      if (point.event !== undefined) continue; // the settings and summary lines
      if (point.series === "data") data.push(point as DataPoint);
      else if (point.series === "memory") memory.push(point as MemoryPoint);
      else if (point.series !== undefined) throughput.push(point as ThroughputPoint);
    }
  }
  return { throughput, memory, data };
}

async function run(): Promise<Points> {
  if (flags.from !== undefined) return readPoints(flags.from.split(","));
  const throughput: ThroughputPoint[] = [];
  const memory: MemoryPoint[] = [];
  const data: DataPoint[] = [];
  const wants = (s: string) => settings.series.includes(s);
  if (wants("clients") || wants("values")) {
    const result = await clientsAndValues({
      clients: wants("clients") ? settings.clients : [],
      values: wants("values") ? settings.values : [],
      seconds: settings.seconds,
      concurrencyForValues: settings.valueClients,
    }, print);
    throughput.push(...result.clients, ...result.values);
  }
  if (wants("nodes")) {
    throughput.push(...await clusterSizes({ nodes: settings.nodes, rfs: settings.rfs,
      clients: settings.nodeClients, seconds: settings.seconds }, print));
  }
  if (wants("memory")) {
    memory.push(...await memoryUnderWrites({ writes: settings.memoryWrites,
      valueBytes: Math.max(...settings.values), steps: 4 }, print));
  }
  if (wants("data")) {
    data.push(...await dataSizes({ keys: settings.keys, catchUpAt, missed: settings.missed,
      valueBytes: settings.valueBytesData, rf: settings.rfData,
      loadClients: settings.loadClients, logsDir: flags.logs ?? null }, print));
  }
  return { throughput, memory, data };
}

try {
  const { throughput, memory, data } = await Promise.race([run(), stop.promise]);
  mkdirSync(settings.out, { recursive: true });
  const files = writeCharts(throughput, memory, data);
  for (const [name, svg] of files) writeFileSync(join(settings.out, name), svg);
  console.log(JSON.stringify(summary({ throughput, memory, data }, [...files.keys()])));
  process.exit(0);
} catch (error) {
  await killEverything();
  console.error(`bench:scale failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

function summary(points: Points, charts: string[]): object {
  const { throughput, memory, data } = points;
  const best = (op: string) =>
    Math.max(0, ...throughput.filter((p) => p.op === op).map((p) => p.opsPerSec));
  const largest = data[data.length - 1];
  const caught = data.filter((p) => p.catchUp !== null);
  return {
    event: "summary",
    seconds: Math.round((performance.now() - started) / 1000),
    bestSetOpsPerSec: best("SET"),
    bestGetOpsPerSec: best("GET"),
    errors: throughput.reduce((sum, p) => sum + p.errors, 0),
    ...(memory.length === 0 ? {} : {
      // The most each node held while the memory series wrote its values.
      memoryRssMBMaxPerNode: [0, 1, 2].map((n) =>
        Math.round(Math.max(...memory.map((p) => p.rssBytesPerNode[n] ?? NaN)) / 2 ** 20)),
    }),
    ...(largest === undefined ? {} : {
      keys: largest.keys,
      rssMBMax: Math.round(Math.max(...largest.rssBytesPerNode) / 2 ** 20),
      diskBytesPerKeyReplica: largest.diskBytesPerKeyReplica,
      dbBytesPerKeyReplica: largest.dbBytesPerKeyReplica,
      catchUps: caught.map((p) => ({ keys: p.keys, ...p.catchUp })),
    }),
    charts: charts.map((name) => join(settings.out, name)),
  };
}
