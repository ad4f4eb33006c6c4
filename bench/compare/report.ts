// bench:compare's output: the targets checked against a case's figures, and the closing
// table (Markdown, so it can be pasted into the README).
import type { Figures } from "./loop.ts";

export interface Target {
  wants: string;
  met: boolean;
}

export interface CaseLine {
  case: "set" | "get";
  concurrency: number;
  valueBytes: number;
  etcd: Figures;
  warehouse: Figures;
  /** Warehouse / etcd. */
  ratio: { opsPerSec: number; p50: number; p99: number; serverCpuPerOp: number };
  target?: Target;
}

export interface FailoverLine {
  case: "failover";
  etcd: { medianMs: number; trialsMs: number[] };
  warehouse: { medianMs: number; trialsMs: number[] };
  ratio: number;
  target?: Target;
}

/** The targets the issue sets (256-byte values). */
export function targetFor(line: CaseLine | FailoverLine): Target | undefined {
  if (line.case === "failover") {
    return { wants: "failover ≤ 0.4× etcd's", met: line.ratio <= 0.4 };
  }
  if (line.valueBytes !== 256) return undefined;
  const { opsPerSec, p50, p99 } = line.ratio;
  if (line.case === "set" && line.concurrency === 64) {
    return { wants: "≥ 3× etcd's ops/s, p99 ≤ ¼ of etcd's",
      met: opsPerSec >= 3 && p99 <= 0.25 };
  }
  if (line.case === "get" && line.concurrency === 64) {
    return { wants: "≥ 5× etcd's ops/s, p99 ≤ ¼ of etcd's",
      met: opsPerSec >= 5 && p99 <= 0.25 };
  }
  if (line.case === "set" && line.concurrency === 1) {
    return { wants: "p50 ≤ etcd's", met: p50 <= 1 };
  }
  return undefined;
}

const n = (x: number): string => Math.round(x).toLocaleString("en-US");
const ms = (x: number): string => x.toFixed(2);
const times = (x: number): string => `${x.toFixed(2)}×`;
const mark = (t: Target | undefined): string => (t === undefined ? "" : t.met ? "met" : "MISSED");

export function printTable(lines: CaseLine[], failover: FailoverLine | null): void {
  const rows = [
    "| case | clients | value | etcd ops/s | p50 ms | p99 ms | CPU µs/op | Warehouse ops/s | " +
      "p50 ms | p99 ms | CPU µs/op | ops/s × | p50 × | p99 × | CPU × | target |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const l of lines) {
    rows.push(`| ${l.case.toUpperCase()} | ${l.concurrency} | ${l.valueBytes} B | ` +
      `${n(l.etcd.opsPerSec)} | ${ms(l.etcd.p50Ms)} | ${ms(l.etcd.p99Ms)} | ` +
      `${n(l.etcd.cpuUsPerOp.servers)} | ` +
      `${n(l.warehouse.opsPerSec)} | ${ms(l.warehouse.p50Ms)} | ${ms(l.warehouse.p99Ms)} | ` +
      `${n(l.warehouse.cpuUsPerOp.servers)} | ` +
      `${times(l.ratio.opsPerSec)} | ${times(l.ratio.p50)} | ${times(l.ratio.p99)} | ` +
      `${times(l.ratio.serverCpuPerOp)} | ` +
      `${mark(l.target)} |`);
  }
  if (failover !== null) {
    rows.push("",
      "| failover (kill -9 leader → first acknowledged write) | etcd | Warehouse | × | target |",
      "|---|---:|---:|---:|---|",
      `| median of ${failover.etcd.trialsMs.length} (trials: etcd ` +
        `${failover.etcd.trialsMs.join(", ")}; ` +
        `Warehouse ${failover.warehouse.trialsMs.join(", ")}) | ` +
        `${failover.etcd.medianMs} ms | ${failover.warehouse.medianMs} ms | ` +
        `${times(failover.ratio)} | ${mark(failover.target)} |`);
  }
  console.log(rows.join("\n"));
}
