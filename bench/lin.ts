// `bun run bench:lin`: how long the linearizability checker takes on generated valid histories
// (8 clients overlapping on 8 keys, 1 % unknown outcomes, 2 % definite failures) and on the same
// with one read corrupted, which it must prove non-linearizable and shrink. One JSON line each.
import "./help.ts";
import { checkKvHistory, type OpRecord } from "../lib/lin/index.ts";
import { randomHistory } from "../test/unit/lin/random-history.ts";

const sizes = (process.env["BENCH_OPS"] ?? "10000,50000,200000").split(",").map(Number);

function timed(records: OpRecord[]): { seconds: number; violations: number; steps: number } {
  const started = performance.now();
  const verdict = checkKvHistory(records);
  const seconds = (performance.now() - started) / 1000;
  const steps = verdict.keys.reduce((n, k) => n + k.steps, 0);
  return { seconds: Number(seconds.toFixed(3)), violations: verdict.violations, steps };
}

for (const ops of sizes) {
  const clients = 8;
  const records = randomHistory({
    seed: ops, clients, opsPerClient: Math.ceil(ops / clients), keys: 8, unknownRate: 0.01,
    failRate: 0.02,
  });
  console.log(JSON.stringify({ case: "valid", ops: records.length, keys: 8, ...timed(records) }));
  const index = records.findIndex((r, i) => i > records.length / 2 && r.op === "GET"
    && r.outcome === "ok");
  records[index] = { ...(records[index] as OpRecord), reply: { found: true, value: "corrupt" } };
  console.log(JSON.stringify({ case: "one corrupted read", ops: records.length, keys: 8,
    ...timed(records) }));
}
