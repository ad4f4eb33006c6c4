// The fault suite, short: 3 real node processes, 6 recording clients and a nemesis that kills,
// pauses and (as root) partitions nodes for 30 s; then every key's history must be linearizable
// and no acknowledged write lost. The long runs (minutes) are `bun run test:faults`; this one
// keeps every change honest against the same checks. A fixed seed makes the fault schedule the
// same on every run; the interleaving of real processes still differs.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunPath, repoRoot } from "../harness/cluster.ts";
import { runToEnd } from "../harness/run.ts";

const isRoot = process.getuid?.() === 0;
const RUN_MS = 30_000;

interface Summary {
  readonly ops: number;
  readonly ok: number;
  readonly faults: Record<string, number>;
  readonly violations: number;
  readonly inconclusive: number;
  readonly lostWrites: number;
  readonly unreadKeys: number;
  readonly nodeExits?: { readonly crashed: number };
}

test("30 s of kills, pauses and partitions: linearizable, no acknowledged write lost", async () => {
  const out = mkdtempSync(join(tmpdir(), "warehouse-faults-test-"));
  try {
    const faults = isRoot ? "kill,pause,partition,leader" : "kill,pause,leader";
    const result = await runToEnd(
      [bunPath, join(repoRoot, "test/faults/run.ts"), "--minutes", String(RUN_MS / 60_000),
        "--seed", "20261204", "--faults", faults, "--out", out],
      { cwd: repoRoot, deadlineMs: RUN_MS + 120_000 },
    );
    const failure = result.code === 0 ? "" : `${result.stdout}\n${result.stderr}`;
    expect(failure).toBe("");
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as Summary;
    expect(summary.violations).toBe(0);
    expect(summary.inconclusive).toBe(0);
    expect(summary.lostWrites).toBe(0);
    expect(summary.unreadKeys).toBe(0);
    // The run did real work under real faults.
    expect(summary.ok).toBeGreaterThan(1000);
    const applied = Object.entries(summary.faults)
      .filter(([kind]) => ["kill", "pause", "partition"].includes(kind))
      .reduce((sum, [, n]) => sum + n, 0);
    expect(applied).toBeGreaterThanOrEqual(3);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, RUN_MS + 150_000);

const FOUR_STEPS = "issue 7's four steps: an update made while the leader was paused survives";

test(FOUR_STEPS, async () => {
  const result = await runToEnd([bunPath, join(repoRoot, "test/faults/pause-leader.ts")], {
    cwd: repoRoot, deadlineMs: 90_000,
  });
  const failure = result.code === 0 ? "" : `${result.stdout}\n${result.stderr}`;
  expect(failure).toBe("");
  expect(result.stderr).toMatch(/step 3: node \d+ resumed; \d+ reads, 0 did not answer v2/);
  expect(result.stdout).toContain("PASS:");
}, 120_000);
