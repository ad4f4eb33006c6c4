// The scale benchmark's charts: which figure goes on which axis. A series that was not run
// gives no chart.
import { type ChartSeries, lineChart, shortNumber } from "./chart.ts";
import type { DataPoint, MemoryPoint, ThroughputPoint } from "./series.ts";

/** 262144 → "256 KiB". */
export function bytesLabel(bytes: number): string {
  if (bytes >= 2 ** 20 && bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

function byOp(
  points: ThroughputPoint[],
  x: (p: ThroughputPoint) => number,
  y: (p: ThroughputPoint) => number,
  name: (p: ThroughputPoint) => string = (p) => p.op,
): ChartSeries[] {
  const series = new Map<string, ChartSeries>();
  for (const p of points) {
    const key = name(p);
    const entry = series.get(key) ?? { name: key, points: [] };
    entry.points.push({ x: x(p), y: y(p) });
    series.set(key, entry);
  }
  return [...series.values()];
}

/** The SVG files (name → text) for the points measured. */
export function writeCharts(
  throughput: ThroughputPoint[],
  memory: MemoryPoint[],
  data: DataPoint[],
): Map<string, string> {
  const files = new Map<string, string>();
  const clients = throughput.filter((p) => p.series === "clients");
  const values = throughput.filter((p) => p.series === "values");
  const nodes = throughput.filter((p) => p.series === "nodes");
  const opsPerSec = (p: ThroughputPoint) => p.opsPerSec;
  const rate = { yLabel: "operations/s (log scale)" };
  const latency = { yLabel: "p99 latency, ms (log scale)" };
  const p99 = (p: ThroughputPoint) => p.p99Ms;
  if (clients.length > 0) {
    const common = { xLabel: "concurrent clients (closed loops)", xScale: "log" as const,
      yScale: "log" as const };
    files.set("scale-clients-throughput.svg", lineChart({ ...common,
      title: "Throughput against clients (3 nodes, RF 2, 256 B)", ...rate,
      series: byOp(clients, (p) => p.clients, opsPerSec) }));
    files.set("scale-clients-p99.svg", lineChart({ ...common,
      title: "p99 latency against clients (3 nodes, RF 2, 256 B)", ...latency,
      series: byOp(clients, (p) => p.clients, p99) }));
  }
  if (values.length > 0) {
    const concurrency = values[0]?.clients ?? 0;
    const common = { xLabel: "value size", xScale: "log" as const, xFormat: bytesLabel,
      yScale: "log" as const };
    files.set("scale-values-throughput.svg", lineChart({ ...common,
      title: `Throughput against value size (3 nodes, RF 2, ${concurrency} clients)`,
      ...rate, series: byOp(values, (p) => p.valueBytes, opsPerSec) }));
    files.set("scale-values-p99.svg", lineChart({ ...common,
      title: `p99 latency against value size (${concurrency} clients)`,
      ...latency, series: byOp(values, (p) => p.valueBytes, p99) }));
  }
  if (nodes.length > 0) {
    const concurrency = nodes[0]?.clients ?? 0;
    const name = (p: ThroughputPoint) => `${p.op} RF ${p.rf}`;
    const common = { xLabel: "nodes", xScale: "linear" as const, yScale: "log" as const };
    files.set("scale-nodes-throughput.svg", lineChart({ ...common,
      title: `Throughput against cluster size (${concurrency} clients, 256 B)`,
      ...rate, series: byOp(nodes, (p) => p.nodes, opsPerSec, name) }));
    files.set("scale-nodes-p99.svg", lineChart({ ...common,
      title: `p99 latency against cluster size (${concurrency} clients)`,
      ...latency, series: byOp(nodes, (p) => p.nodes, p99, name) }));
  }
  if (memory.length > 0) memoryChart(memory, files);
  if (data.length > 0) dataCharts(data, files);
  return files;
}

function memoryChart(memory: MemoryPoint[], files: Map<string, string>): void {
  const valueBytes = (memory[0] as MemoryPoint).valueBytes;
  files.set("scale-memory-writes.svg", lineChart({
    title: `Memory while writing ${bytesLabel(valueBytes)} values (3 nodes, RF 2)`,
    xLabel: "MiB of values written", yLabel: "RSS (MiB)", xScale: "linear",
    xFormat: (x) => String(Math.round(x)),
    series: [0, 1, 2].map((n) => ({
      name: n === 0 ? "node 1 (leader)" : `node ${n + 1}`,
      points: memory.map((p) => ({ x: (p.writes * p.valueBytes) / 2 ** 20,
        y: (p.rssBytesPerNode[n] ?? NaN) / 2 ** 20 })),
    })),
  }));
}

function mean(values: number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

function dataCharts(data: DataPoint[], files: Map<string, string>): void {
  const first = data[0] as DataPoint;
  const setting = `3 nodes, RF ${first.rf}, ${bytesLabel(first.valueBytes)} values`;
  const common = { xLabel: "stored keys", xScale: "linear" as const, xFormat: shortNumber };
  files.set("scale-data-memory.svg", lineChart({ ...common,
    title: `Memory and disk against stored keys (${setting})`, yLabel: "MiB",
    series: [
      ...[0, 1, 2].map((n) => ({ name: `RSS node ${n + 1}`, points: data.map((p) =>
        ({ x: p.keys, y: (p.rssBytesPerNode[n] ?? NaN) / 2 ** 20 })) })),
      { name: "disk per node", points: data.map((p) => ({ x: p.keys,
        y: mean(p.diskBytesPerNode) / 2 ** 20 })) },
    ] }));
  const caught = data.filter((p) => p.catchUp !== null);
  if (caught.length === 0) return;
  const missed = caught[0]?.catchUp?.missedWrites ?? 0;
  files.set("scale-data-restart.svg", lineChart({ ...common,
    title: `Restart of a node that missed ${shortNumber(missed)} writes (${setting})`,
    yLabel: "seconds from the restart",
    series: [
      { name: "ready (start-up)", points: caught.map((p) =>
        ({ x: p.keys, y: (p.catchUp?.startUpMs ?? NaN) / 1000 })) },
      { name: "in sync (catch-up)", points: caught.map((p) =>
        ({ x: p.keys, y: (p.catchUp?.catchUpMs ?? NaN) / 1000 })) },
      // CPU time moves much less than elapsed time when other processes compete for the cores.
      { name: "its CPU time", points: caught.map((p) =>
        ({ x: p.keys, y: (p.catchUp?.cpuMsPerNode[2] ?? NaN) / 1000 })) },
    ] }));
}
