// Runs seeded simulations: `bun run sim -- --seeds N [--from S]` runs seeds S..S+N-1 of the Raft
// core (S defaults to 1); with `--cluster` (`bun run sim:cluster`), seeds of the whole cluster
// (test/sim/cluster-sim.ts: nodes, data plane, clients, faults, linearizability). Prints one
// JSON line last. Exits 1 when any seed fails, after printing the first failing seed and how to
// replay it. `--cluster --sqlite` gives each simulated node the sqlite data-plane store (in
// memory) instead of the in-memory reference store, so its tables meet the cluster's truncations,
// trims, copies and drops too.
import { parseArgs } from "node:util";
import { SqliteReplicaStore } from "../lib/store/sqlite-replica-store.ts";
import { runClusterSeed } from "../test/sim/cluster-sim.ts";
import { defaultSimOptions, runSeed } from "../test/sim/raft-sim.ts";

function count(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`error: --${name} must be a non-negative integer (got ${text})\n`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seeds: { type: "string" },
    from: { type: "string" },
    quiet: { type: "boolean" },
    cluster: { type: "boolean" },
    help: { type: "boolean", short: "h" },
    sqlite: { type: "boolean" },
  },
});
if (values.help === true) {
  process.stdout.write(
    [
      "usage: bun run sim -- [--seeds N] [--from S] [--quiet]",
      "       bun run sim:cluster -- [--seeds N] [--from S] [--quiet]",
      "",
      "Runs seeds S..S+N-1 (default 1..100) of the Raft core's simulation, or with --cluster of",
      "the whole cluster's (nodes, data plane, clients, faults, linearizability checked).",
      "Prints a JSON summary last; exits 1 when a seed fails, naming how to replay it.",
      "",
    ].join("\n"),
  );
  process.exit(0);
}
const seeds = count(values.seeds, "seeds", 100);
const from = count(values.from, "from", 1);
if (values.cluster === true) runCluster();

// SIM_TRACE=1 prints every delivered Raft message and every change of a node's state.
const trace = process.env.SIM_TRACE === "1"
  ? { ...defaultSimOptions, trace: (line: string) => process.stderr.write(`${line}\n`) }
  : defaultSimOptions;
let failures = 0;
let steps = 0;
let elections = 0;
let commits = 0;
let firstFailure: { seed: number; failure: string } | null = null;
const startedAt = performance.now();
for (let seed = from; seed < from + seeds; seed++) {
  const result = runSeed(seed, trace);
  steps += result.steps;
  elections += result.elections;
  commits += result.commits;
  if (!result.ok) {
    failures += 1;
    firstFailure ??= { seed, failure: result.failure ?? "" };
    process.stderr.write(`seed ${seed} failed: ${result.failure}\n`);
  }
  if (!values.quiet && (seed - from + 1) % 1000 === 0) {
    process.stderr.write(`${seed - from + 1} seeds, ${failures} failures\n`);
  }
}
if (firstFailure !== null) {
  process.stdout.write(
    `first failing seed: ${firstFailure.seed} (${firstFailure.failure})\n` +
      `replay: bun run sim -- --seeds 1 --from ${firstFailure.seed}` +
      `   or: SEED=${firstFailure.seed} bun test test/sim\n`,
  );
}
const seconds = Number(((performance.now() - startedAt) / 1000).toFixed(1));
const summary = { seeds, failures, steps, elections, commits, seconds };
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(failures > 0 ? 1 : 0);

function runCluster(): never {
  let failures = 0;
  let ops = 0;
  let acknowledged = 0;
  let faults = 0;
  let leaders = 0;
  let first: { seed: number; problem: string } | null = null;
  const startedAt = performance.now();
  for (let seed = from; seed < from + seeds; seed++) {
    const result = runClusterSeed(
      values.sqlite === true
        ? { seed, openReplicaStore: () => new SqliteReplicaStore(":memory:") }
        : { seed },
    );
    ops += result.ops;
    acknowledged += result.acknowledged;
    faults += result.faults;
    leaders += result.leaders;
    if (!result.ok) {
      failures += 1;
      const problem = result.problems.join("\n");
      first ??= { seed, problem };
      process.stderr.write(`seed ${seed} failed: ${problem}\n`);
    }
    if (!values.quiet && (seed - from + 1) % 100 === 0) {
      process.stderr.write(`${seed - from + 1} seeds, ${failures} failures\n`);
    }
  }
  if (first !== null) {
    process.stdout.write(
      `first failing seed: ${first.seed}\n` +
        `replay: bun run sim:cluster -- --seeds 1 --from ${first.seed}` +
        `   or: SEED=${first.seed} bun test test/sim/cluster-sim.test.ts\n`,
    );
  }
  const seconds = Number(((performance.now() - startedAt) / 1000).toFixed(1));
  const line = { seeds, failures, ops, acknowledged, faults, leaderTerms: leaders, seconds };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.exit(failures > 0 ? 1 : 0);
}
