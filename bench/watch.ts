// `bun run bench:watch`: the WATCH feed under load. A 3-node, RF 2 cluster on loopback; N SUB
// sockets (this library's, in a child process of their own, so that receiving does not slow the
// writer) subscribe to one key's topic at the leader; a writer SETs that key at a fixed rate,
// each value the time it was sent (epoch ms, the same clock in both processes). Prints one JSON
// line per case:
//   paced:      the same writes with no subscriber, for the acknowledgement latency alone;
//   delivery:   latency from SET sent to change received at each subscriber (p50/p99/max), the
//               SET's own acknowledgement latency for comparison, and deliveries missed;
//   throughput: closed-loop SETs on the key (concurrency 64) without subscribers, then with N
//               connected and receiving every change: ops/s and CPU µs per op (nodes + this
//               process, from /proc), the cost of fanning each change out N times.
// Flags: --quick (100 subscribers, 200 changes/s, short cases), --subscribers N, --rate R,
// --seconds S. The nodes, the writer and the subscribers share the machine's cores, so on a
// small machine each one's work slows the others; the settings are printed with every line.
import "./help.ts";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { WarehouseClient } from "../lib/client/client.ts";
import { decodeHeartbeat, decodeWatchMessage, watchTopic } from "../lib/protocol.ts";
import { Subscriber } from "../lib/zmtp/index.ts";
import { Cluster, waitForSynced } from "../test/harness/cluster.ts";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    subscribers: { type: "string" },
    rate: { type: "string" },
    seconds: { type: "string" },
    "subscriber-process": { type: "string" },
  },
});
const isQuick = flags.quick === true;
const settings = {
  subscribers: Number(flags.subscribers ?? (isQuick ? 100 : 1000)),
  ratePerSec: Number(flags.rate ?? (isQuick ? 200 : 1000)),
  seconds: Number(flags.seconds ?? (isQuick ? 3 : 10)),
  throughputSeconds: isQuick ? 2 : 5,
  throughputConcurrency: 64,
  cluster: "3 nodes, RF 2, loopback",
};

/** Latencies in 0.1 ms buckets up to 20 s: percentiles of millions of samples in little memory. */
class Histogram {
  private readonly buckets = new Uint32Array(200_000);
  count = 0;
  max = 0;
  add(ms: number): void {
    const bucket = Math.min(this.buckets.length - 1, Math.max(0, Math.floor(ms * 10)));
    this.buckets[bucket] = (this.buckets[bucket] as number) + 1;
    this.count++;
    this.max = Math.max(this.max, ms);
  }
  percentile(p: number): number {
    const target = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i] as number;
      if (seen >= target && seen > 0) return (i + 1) / 10;
    }
    return NaN;
  }
}

const CLOCK_TICKS_PER_SEC = 100;
function cpuUs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = fields.slice(fields.lastIndexOf(")") + 2).split(" ");
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  const self = process.cpuUsage();
  return (ticks * 1e6) / CLOCK_TICKS_PER_SEC + self.user + self.system;
}

const round = (n: number, digits = 1) => Number(n.toFixed(digits));
const summary = (h: Histogram) =>
  ({ p50: h.percentile(50), p99: h.percentile(99), max: round(h.max) });

/** Wall-clock ms with sub-ms precision, comparable between processes on one machine. */
const epochMs = () => performance.timeOrigin + performance.now();

/**
 * The child: N subscribers of `key` at `pub`, each ready once a heartbeat proves its topic in
 * force; prints {"ready":N}, then {"deliveries":n} for each line on stdin, then on stdin's end
 * the latency summary, and exits.
 */
async function subscriberProcess(pub: string, key: string, count: number): Promise<void> {
  const delivery = new Histogram();
  const subs = await subscribe(pub, key, count, (sentMs) => delivery.add(epochMs() - sentMs));
  console.log(JSON.stringify({ ready: subs.length }));
  const decoder = new TextDecoder();
  for await (const chunk of process.stdin) {
    const lines = decoder.decode(chunk).split("\n").filter((l) => l !== "").length;
    for (let i = 0; i < lines; i++) console.log(JSON.stringify({ deliveries: delivery.count }));
  }
  console.log(JSON.stringify({
    deliveries: delivery.count,
    p50: delivery.percentile(50),
    p99: delivery.percentile(99),
    max: round(delivery.max),
  }));
  await Promise.all(subs.map((s) => s.close()));
  process.exit(0);
}

/** Starts the subscriber child and waits for its subscribers to be ready. */
async function startSubscribers(pub: string, key: string, count: number) {
  const proc = Bun.spawn(
    [
      process.execPath,
      import.meta.path,
      "--subscriber-process",
      JSON.stringify({ pub, key, count }),
    ],
    { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
  );
  const reader = proc.stdout.getReader();
  let text = "";
  const nextLine = async (): Promise<Record<string, number>> => {
    for (;;) {
      const newline = text.indexOf("\n");
      if (newline >= 0) {
        const line = text.slice(0, newline);
        text = text.slice(newline + 1);
        return JSON.parse(line) as Record<string, number>;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("the subscriber process ended early");
      text += new TextDecoder().decode(value);
    }
  };
  await nextLine();
  return {
    proc,
    /** Deliveries so far. */
    count: async () => {
      proc.stdin.write("?\n");
      proc.stdin.flush();
      return (await nextLine())["deliveries"] ?? 0;
    },
    /** Ends the child and returns its latency summary. */
    finish: async () => {
      proc.stdin.end();
      return nextLine();
    },
  };
}

async function subscribe(
  pub: string,
  key: string,
  count: number,
  onChange: (sentMs: number) => void,
) {
  const subs: Subscriber[] = [];
  let ready = 0;
  for (let i = 0; i < count; i++) {
    const sub = new Subscriber({ reconnectIvlMs: 50, receiveHwm: 100_000 });
    sub.subscribe(watchTopic(key));
    sub.subscribe("hb");
    sub.connect(pub);
    subs.push(sub);
    void (async () => {
      let isReady = false;
      for await (const frames of sub) {
        if (decodeHeartbeat(frames) !== null) {
          // Heartbeats only prove the subscription; ten a second to each would be load of ours.
          if (!isReady) sub.unsubscribe("hb");
          if (!isReady) ready++;
          isReady = true;
          continue;
        }
        const change = decodeWatchMessage(frames);
        if (change?.op === "SET") onChange(Number(change.value));
      }
    })().catch(() => undefined);
  }
  const deadline = performance.now() + 60_000;
  while (ready < count && performance.now() < deadline) await Bun.sleep(20);
  if (ready < count) throw new Error(`only ${ready} of ${count} subscribers became ready`);
  return subs;
}

/** SETs `key` at `ratePerSec` for `seconds`, each value its send time; the ack latencies. */
async function paced(client: WarehouseClient, key: string, ratePerSec: number, seconds: number) {
  const acks = new Histogram();
  const started = performance.now();
  let sent = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * ratePerSec);
    for (; sent < due; sent++) {
      const sentMs = epochMs();
      const write: Promise<void> = client
        .set(key, String(sentMs))
        .then(() => acks.add(epochMs() - sentMs))
        .catch(() => void failed++)
        .finally(() => inFlight.delete(write));
      inFlight.add(write);
    }
    await Bun.sleep(1);
  }
  await Promise.all(inFlight);
  return { sent, failed, acks };
}

/** CPU µs so far of one process (not this one). */
function processCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = fields.slice(fields.lastIndexOf(")") + 2).split(" ");
  return ((Number(rest[11]) + Number(rest[12])) * 1e6) / CLOCK_TICKS_PER_SEC;
}

/**
 * Closed-loop SETs of `key` for `seconds`: ops/s, CPU per op in all (nodes, subscribers, this
 * process), and per op in each named process (the leader's share is what fan-out costs it).
 */
async function throughput(
  client: WarehouseClient,
  key: string,
  pids: number[],
  named: Record<string, number> = {},
) {
  const { throughputSeconds: seconds, throughputConcurrency: concurrency } = settings;
  const namedBefore = Object.fromEntries(
    Object.entries(named).map(([name, pid]) => [name, processCpuUs(pid)]),
  );
  const cpuBefore = cpuUs(pids);
  const started = performance.now();
  let ops = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - started < seconds * 1000) {
        await client.set(key, String(epochMs()));
        ops++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const byProcess = Object.fromEntries(
    Object.entries(named).map(([name, pid]) => [
      name,
      round((processCpuUs(pid) - (namedBefore[name] ?? 0)) / ops),
    ]),
  );
  return {
    opsPerSec: Math.round(ops / elapsed),
    cpuUsPerOp: round((cpuUs(pids) - cpuBefore) / ops),
    cpuUsPerOpBy: byProcess,
  };
}

async function main(): Promise<void> {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(),
    requestTimeoutMs: 2000,
    giveUpMs: 10_000,
  });
  let subscribers: Awaited<ReturnType<typeof startSubscribers>> | null = null;
  try {
    await waitForSynced((body) => client.request(body), { members: 3, rf: 2, leaderId: 1 });
    const pids = [...cluster.nodes.values()].map((n) => n.process.pid);
    const key = crypto.randomUUID();
    await client.set(key, String(performance.now()));
    // What else ran meanwhile decides these figures: print the load the machine started with.
    const base = { ...settings, loadAverage: Number(loadavg()[0]?.toFixed(2)) };

    const leaderPid = cluster.node(1).process.pid;
    const alone = await throughput(client, key, pids, { leader: leaderPid });
    console.log(JSON.stringify({ case: "throughput", ...base, subscribers: 0, ...alone }));

    // The same paced writes with nobody subscribed: what the acknowledgement costs alone.
    const bare = await paced(client, key, settings.ratePerSec, settings.seconds);
    console.log(JSON.stringify({
      case: "paced",
      ...base,
      subscribers: 0,
      changes: bare.sent,
      failedWrites: bare.failed,
      ackMs: summary(bare.acks),
    }));

    subscribers = await startSubscribers(cluster.node(1).pub, key, settings.subscribers);
    const run = await paced(client, key, settings.ratePerSec, settings.seconds);
    // The last changes are on their way: wait while they still arrive (at most 30 s); what has
    // not arrived then is reported as missed. A failed (timed-out) write may still have been
    // committed and delivered, so deliveries can exceed the acknowledged writes' share.
    const expected = (run.sent - run.failed) * settings.subscribers;
    const waitDeadline = performance.now() + 30_000;
    let last = -1;
    for (;;) {
      const now = await subscribers.count();
      if (now >= expected || now === last || performance.now() > waitDeadline) break;
      last = now;
      await Bun.sleep(1000);
    }
    const delivery = await subscribers.finish();
    subscribers = null;
    const received = delivery["deliveries"] ?? 0;
    console.log(JSON.stringify({
      case: "delivery",
      ...base,
      changes: run.sent,
      failedWrites: run.failed,
      deliveries: received,
      missed: Math.max(0, expected - received),
      deliveryMs: { p50: delivery["p50"], p99: delivery["p99"], max: delivery["max"] },
      ackMs: summary(run.acks),
    }));

    // Again with the subscribers connected and receiving, in their own process (counted in CPU).
    subscribers = await startSubscribers(cluster.node(1).pub, key, settings.subscribers);
    const fanned = await throughput(client, key, [...pids, subscribers.proc.pid], {
      leader: leaderPid,
      subscribers: subscribers.proc.pid,
    });
    await subscribers.finish();
    subscribers = null;
    console.log(JSON.stringify({
      case: "throughput",
      ...base,
      subscribers: settings.subscribers,
      ...fanned,
      costVsNone: `${round((1 - fanned.opsPerSec / alone.opsPerSec) * 100)}% fewer ops/s`,
    }));
  } finally {
    subscribers?.proc.kill("SIGKILL");
    await client.close();
  }
}

const child = flags["subscriber-process"];
if (child !== undefined) {
  const { pub, key, count } = JSON.parse(child) as { pub: string; key: string; count: number };
  await subscriberProcess(pub, key, count);
} else {
  await main();
  process.exit(0);
}
