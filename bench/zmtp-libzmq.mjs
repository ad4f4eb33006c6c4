// The libzmq side of `bun run bench:zmtp`: the same cases as bench/zmtp.ts, run with the
// `zeromq` package (libzmq 4.3.5) under Node, both ends in this one process on loopback.
// Prints one JSON line per case on stdout. argv[2]: JSON {roundTrips, durationMs, pubsubCount}.
// Measures only; it judges nothing.
import * as zmq from "zeromq";

const config = JSON.parse(process.argv[2] ?? "{}");
const roundTrips = config.roundTrips ?? 5000;
const durationMs = config.durationMs ?? 1500;
const pubsubCount = config.pubsubCount ?? 300_000;
const WINDOW = 128;
const HWM = 100_000;

const now = () => Number(process.hrtime.bigint()) / 1000; // µs
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function echoPair() {
  const router = new zmq.Router({ linger: 0, sendHighWaterMark: HWM, receiveHighWaterMark: HWM });
  await router.bind("tcp://127.0.0.1:0");
  const dealer = new zmq.Dealer({ linger: 0, sendHighWaterMark: HWM, receiveHighWaterMark: HWM });
  dealer.connect(router.lastEndpoint);
  const serving = (async () => {
    try {
      for await (const message of router) await router.send(message);
    } catch {
      // closed at the end of the case
    }
  })();
  const close = async () => {
    dealer.close();
    router.close();
    await serving;
  };
  return { dealer, close };
}

async function latency(size) {
  const { dealer, close } = await echoPair();
  const payload = Buffer.alloc(size, 7);
  for (let i = 0; i < 500; i++) {
    await dealer.send(payload);
    await dealer.receive();
  }
  const samples = new Float64Array(roundTrips);
  for (let i = 0; i < roundTrips; i++) {
    const t0 = now();
    await dealer.send(payload);
    await dealer.receive();
    samples[i] = now() - t0;
  }
  await close();
  samples.sort();
  return { p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), roundTrips };
}

async function pipelined(size) {
  const { dealer, close } = await echoPair();
  const payload = Buffer.alloc(size, 7);
  for (let i = 0; i < 200; i++) {
    await dealer.send(payload);
    await dealer.receive();
  }
  for (let i = 0; i < WINDOW; i++) await dealer.send(payload);
  const t0 = now();
  const deadline = t0 + durationMs * 1000;
  let received = 0;
  while (now() < deadline) {
    await dealer.receive();
    received++;
    await dealer.send(payload);
  }
  const elapsedUs = now() - t0;
  for (let i = 0; i < WINDOW; i++) await dealer.receive();
  await close();
  return { msgsPerSec: Math.round((received * 1e6) / elapsedUs), messages: received };
}

async function pubsub(size) {
  const pub = new zmq.Publisher({ linger: 0, sendHighWaterMark: HWM });
  await pub.bind("tcp://127.0.0.1:0");
  const sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: HWM });
  sub.subscribe("");
  sub.connect(pub.lastEndpoint);
  const payload = Buffer.alloc(size, 7);
  const first = sub.receive();
  let warm = false;
  first.then(() => (warm = true));
  while (!warm) {
    await pub.send([Buffer.from("w")]);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  let received = 0;
  let lastAt = 0;
  const reading = (async () => {
    while (received < pubsubCount) {
      const [frame] = await sub.receive();
      if (frame.length === size) {
        received++;
        lastAt = now();
      }
    }
  })();
  const t0 = now();
  for (let sent = 0; sent < pubsubCount; sent++) {
    await pub.send(payload);
    // Same in-process flow control as ours: never run far ahead of the reader (no drops).
    if (sent % 1000 === 999) while (sent - received > 20_000) await yieldToLoop();
    if (sent % 1000 === 999) await yieldToLoop();
  }
  await reading;
  pub.close();
  sub.close();
  return { msgsPerSec: Math.round((received * 1e6) / (lastAt - t0)), messages: received };
}

const cases = [
  ["echo-latency-64B", () => latency(64)],
  ["echo-latency-4KiB", () => latency(4096)],
  ["echo-pipelined-64B", () => pipelined(64)],
  ["echo-pipelined-4KiB", () => pipelined(4096)],
  ["pubsub-64B", () => pubsub(64)],
];
const only = config.only;
for (const [name, run] of cases) {
  if (only !== undefined && !only.includes(name)) continue;
  process.stdout.write(JSON.stringify({ case: name, ...(await run()) }) + "\n");
}
process.exit(0);
