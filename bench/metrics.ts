// Metrics benchmark (a script, not a test): `bun bench/metrics.ts [milliseconds per case]`.
// What recording one client request costs on the request path (a counter by op and outcome
// plus a latency histogram by op, as the node records it), with our registry (lib/ops) and with
// prom-client; and what rendering /metrics costs with the node's families filled in.
// Prints one JSON line per case on stdout.
import "./help.ts";
import client from "prom-client";
import { NodeMetrics, latencyBoundsSeconds } from "../lib/ops/index.ts";

const msPerCase = Number(process.argv[2] ?? "1500");
const ops = ["SET", "GET", "DELETE"] as const;
const outcomes = ["ok", "ok", "ok", "ok", "NOT_LEADER"] as const;
// Latencies spread over the buckets, precomputed so the loop measures recording only.
const latencies = Array.from({ length: 4096 }, (_, i) => 0.00005 * 1.003 ** (i % 2048));

function run(name: string, record: (i: number) => void): void {
  // Warm up the JIT, then count calls in the time box, checking the clock every 4096 calls.
  for (let i = 0; i < 200_000; i++) record(i);
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < msPerCase) {
    for (let i = 0; i < 4096; i++) record(calls + i);
    calls += 4096;
    elapsed = performance.now() - started;
  }
  const nsPerCall = (elapsed * 1e6) / calls;
  console.log(JSON.stringify({ case: name, calls, nsPerRequest: Number(nsPerCall.toFixed(1)) }));
}

const ours = new NodeMetrics("bench");
run("ours: NodeMetrics.request", (i) =>
  ours.request(ops[i % 3] ?? "GET", outcomes[i % 5] ?? "ok", latencies[i & 4095] ?? 0));

const registry = new client.Registry();
const counter = new client.Counter({
  name: "warehouse_requests_total", help: "Requests.", labelNames: ["op", "outcome"],
  registers: [registry],
});
const histogram = new client.Histogram({
  name: "warehouse_request_duration_seconds", help: "Latency.", labelNames: ["op"],
  buckets: [...latencyBoundsSeconds], registers: [registry],
});
run("prom-client: inc(labels) + observe(labels)", (i) => {
  const op = ops[i % 3] ?? "GET";
  counter.inc({ op, outcome: outcomes[i % 5] ?? "ok" });
  histogram.observe({ op }, latencies[i & 4095] ?? 0);
});
// prom-client's fastest form: children bound once, as our recorder does.
type Bound = { c: client.Counter.Internal; h: client.Histogram.Internal<string> };
const bound = new Map<string, Bound>();
run("prom-client: bound children", (i) => {
  const op = ops[i % 3] ?? "GET";
  const outcome = outcomes[i % 5] ?? "ok";
  const key = `${op} ${outcome}`;
  let child = bound.get(key);
  if (child === undefined) {
    child = { c: counter.labels(op, outcome), h: histogram.labels(op) };
    bound.set(key, child);
  }
  child.c.inc();
  child.h.observe(latencies[i & 4095] ?? 0);
});

// Rendering: the same two families, then ours with every family a node has.
async function renderCost(name: string, render: () => string | Promise<string>): Promise<void> {
  for (let i = 0; i < 200; i++) await render();
  const rounds = 2000;
  const started = performance.now();
  let bytes = 0;
  for (let i = 0; i < rounds; i++) bytes = (await render()).length;
  const usPerRender = ((performance.now() - started) * 1000) / rounds;
  console.log(JSON.stringify({ case: name, usPerRender: Number(usPerRender.toFixed(1)), bytes }));
}
await renderCost("ours: render /metrics", () => ours.render());
await renderCost("prom-client: render the two families", () => registry.metrics());
