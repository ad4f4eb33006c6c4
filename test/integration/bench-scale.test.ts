// `bun run bench:scale --quick` keeps working: it measures every series on real clusters, prints
// one JSON line per point and a summary, and writes a chart per figure. The bench is stopped
// and every node it started is killed by process id at the end, whether the test passed or not.
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunPath, repoRoot } from "../harness/cluster.ts";
import { runScript } from "../harness/process-tree.ts";

/** The bench's own deadline: --quick takes well under this even on a busy machine. */
const DEADLINE_MS = 50_000;

type Line = Record<string, unknown>;

test("bench:scale --quick prints a point per case, a summary and writes its charts", async () => {
  const out = mkdtempSync(join(tmpdir(), "warehouse-bench-scale-"));
  try {
    const args = [bunPath, join(repoRoot, "bench", "scale.ts"), "--quick", "--out", out];
    const { code, stdout, stderr } = await runScript(args, repoRoot, DEADLINE_MS);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line) as Line);
    checkThroughput(lines);
    checkData(lines);
    // The memory series: 200 SETs of the largest quick value, RSS of every node per quarter.
    const memory = lines.filter((l) => l["series"] === "memory");
    expect(memory.map((p) => [p["writes"], p["valueBytes"]]))
      .toEqual([[50, 16384], [100, 16384], [150, 16384], [200, 16384]]);
    for (const p of memory) {
      for (const rss of p["rssBytesPerNode"] as number[]) expect(rss).toBeGreaterThan(10 * 2 ** 20);
    }
    const summary = lines[lines.length - 1] as Line;
    expect(summary["event"]).toBe("summary");
    expect(summary["errors"]).toBe(0);
    const charts = summary["charts"] as string[];
    expect(charts.map((path) => path.slice(out.length + 1)).sort()).toEqual([
      "scale-clients-p99.svg", "scale-clients-throughput.svg", "scale-data-memory.svg",
      "scale-data-restart.svg", "scale-memory-writes.svg", "scale-nodes-p99.svg",
      "scale-nodes-throughput.svg",
      "scale-values-p99.svg", "scale-values-throughput.svg",
    ]);
    for (const path of charts) {
      expect(existsSync(path)).toBe(true);
      expect(readFileSync(path, "utf8")).toContain("<polyline points=");
    }
    // The clients chart has a SET and a GET line, each with a marker per concurrency.
    const clientsChart = readFileSync(join(out, "scale-clients-throughput.svg"), "utf8");
    expect([...clientsChart.matchAll(/<polyline /g)].length).toBe(2);
    expect([...clientsChart.matchAll(/<circle /g)].length).toBe(4);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 60_000);

/** SET and GET at every shape of --quick, each with operations done, none failed. */
function checkThroughput(lines: Line[]): void {
  const points = lines.filter((l) => l["op"] !== undefined);
  const shapes = points.map((p) =>
    `${String(p["series"])} ${String(p["op"])} c${String(p["clients"])} ` +
    `v${String(p["valueBytes"])} n${String(p["nodes"])} rf${String(p["rf"])}`);
  expect(shapes).toEqual([
    "clients SET c1 v256 n3 rf2", "clients GET c1 v256 n3 rf2",
    "clients SET c16 v256 n3 rf2", "clients GET c16 v256 n3 rf2",
    "values SET c16 v64 n3 rf2", "values GET c16 v64 n3 rf2",
    "values SET c16 v16384 n3 rf2", "values GET c16 v16384 n3 rf2",
    "nodes SET c16 v256 n3 rf2", "nodes GET c16 v256 n3 rf2",
    "nodes SET c16 v256 n3 rf3", "nodes GET c16 v256 n3 rf3",
  ]);
  for (const p of points) {
    expect(p["errors"]).toBe(0);
    expect(p["ops"] as number).toBeGreaterThan(0);
    expect(p["p99Ms"] as number).toBeGreaterThanOrEqual(p["p50Ms"] as number);
  }
}

/** Memory and disk at 1,000 and 2,000 keys; a restart and catch-up at the larger size. */
function checkData(lines: Line[]): void {
  const points = lines.filter((l) => l["series"] === "data");
  expect(points.map((p) => p["keys"])).toEqual([1000, 2000]);
  for (const p of points) {
    for (const rss of p["rssBytesPerNode"] as number[]) expect(rss).toBeGreaterThan(10 * 2 ** 20);
    // Each replica of a key holds at least its 256-byte value.
    expect(p["diskBytesPerKeyReplica"] as number).toBeGreaterThanOrEqual(256);
  }
  expect(points[0]?.["catchUp"]).toBeNull();
  const catchUp = points[1]?.["catchUp"] as Record<string, number>;
  expect(catchUp["missedWrites"]).toBe(500);
  expect(catchUp["startUpMs"]).toBeGreaterThan(0);
  // Back in one partition's in-sync set, then in half of them, then in all.
  expect(catchUp["firstPartitionMs"]).toBeLessThanOrEqual(catchUp["halfPartitionsMs"] as number);
  expect(catchUp["halfPartitionsMs"]).toBeLessThanOrEqual(catchUp["catchUpMs"] as number);
  // The restarted node did the work of catching up.
  expect((catchUp["cpuMsPerNode"] as unknown as number[])[2]).toBeGreaterThan(0);
}
