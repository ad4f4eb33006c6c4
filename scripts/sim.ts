// Runs seeded Raft simulations: `bun run sim -- --seeds N [--from S]` runs seeds S..S+N-1
// (S defaults to 1) and prints one JSON line last. Exits 1 when any seed fails, after printing
// the first failing seed and how to replay it.
import { parseArgs } from "node:util";
import { runSeed } from "../test/sim/raft-sim.ts";

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
  options: { seeds: { type: "string" }, from: { type: "string" }, quiet: { type: "boolean" } },
});
const seeds = count(values.seeds, "seeds", 100);
const from = count(values.from, "from", 1);

let failures = 0;
let steps = 0;
let elections = 0;
let commits = 0;
let firstFailure: { seed: number; failure: string } | null = null;
const startedAt = performance.now();
for (let seed = from; seed < from + seeds; seed++) {
  const result = runSeed(seed);
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
