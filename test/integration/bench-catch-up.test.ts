// `bun run bench:catch-up` keeps working: `build` saves a small data set that node 3 missed
// writes of, `replay` restarts the cluster on copies of it and times node 3 back into every
// in-sync set, twice from the same data, and `store` stores rewrites into a copy of node 3's
// database without the network. Every node the script starts is killed at the end.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunPath, repoRoot } from "../harness/cluster.ts";
import { runScript } from "../harness/process-tree.ts";

/** Ports of this test alone (below 32768): node i on 23100 + 10i .. + 2, node 3's HTTP + 33. */
const PORT_BASE = "23100";
const DEADLINE_MS = 50_000;

type Line = Record<string, unknown>;

function linesOf(stdout: string): Line[] {
  return stdout.trim().split("\n").map((line) => JSON.parse(line) as Line);
}

test("bench:catch-up: build a data set, replay node 3's catch-up from it, store alone", async () => {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-bench-catch-up-"));
  const script = [bunPath, join(repoRoot, "bench", "catch-up.ts")];
  const flags = ["--dir", dir, "--port-base", PORT_BASE];
  try {
    const missing = await runScript([...script, "replay", ...flags], repoRoot, DEADLINE_MS);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("run `bun run bench:catch-up -- build` first");

    const built = await runScript(
      [...script, "build", "--keys", "3000", "--missed", "1500", ...flags], repoRoot, DEADLINE_MS);
    expect({ code: built.code, stderr: built.stderr }).toEqual({ code: 0, stderr: "" });
    expect(linesOf(built.stdout)[0]).toMatchObject({ event: "built", keys: 3000, missed: 1500 });

    const replayed = await runScript(
      [...script, "replay", "--rounds", "2", ...flags], repoRoot, DEADLINE_MS);
    expect({ code: replayed.code, stderr: replayed.stderr }).toEqual({ code: 0, stderr: "" });
    const [first, second, summary] = linesOf(replayed.stdout) as [Line, Line, Line];
    for (const [round, line] of [[1, first], [2, second]] as const) {
      expect(line["round"]).toBe(round);
      expect(line["startUpMs"] as number).toBeGreaterThan(0);
      expect(line["catchUpMs"] as number).toBeGreaterThanOrEqual(line["startUpMs"] as number);
      // CPU of nodes 1, 2 and 3 while node 3 came back: it stored what it missed.
      const cpu = line["cpuMsPerNode"] as number[];
      expect(cpu).toHaveLength(3);
      expect(cpu[2]).toBeGreaterThan(0);
      // Node 3's own metrics: it committed what it caught up on, and that took time.
      expect(line["commitsRestarted"] as number).toBeGreaterThan(0);
      expect(line["committedRowsRestarted"] as number).toBeGreaterThan(0);
      expect(line["commitMsRestarted"] as number).toBeGreaterThan(0);
    }
    expect(summary).toMatchObject({ event: "summary", keys: 3000, missed: 1500, rounds: 2 });
    expect([first["catchUpMs"], second["catchUpMs"]]).toContain(summary["medianCatchUpMs"]);
    expect([first["commitMsRestarted"], second["commitMsRestarted"]])
      .toContain(summary["medianCommitMsRestarted"]);

    // The storage part alone, on a copy of node 3's database: every change stored, written out.
    const stored = await runScript([...script, "store", "--missed", "2000", ...flags], repoRoot,
      DEADLINE_MS);
    expect({ code: stored.code, stderr: stored.stderr }).toEqual({ code: 0, stderr: "" });
    const [line] = linesOf(stored.stdout) as [Line];
    expect(line).toMatchObject({ event: "store", changes: 2000 });
    expect(line["rows"] as number).toBeGreaterThan(1000);
    expect(line["writeCallsPerChange"] as number).toBeGreaterThan(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
