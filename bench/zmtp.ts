// `bun run bench:zmtp`: our ZMTP sockets on Bun side by side with libzmq (zeromq.js on Node, run
// from bench/zmtp-libzmq.mjs) and a raw Bun TCP echo without ZMTP as the floor, on loopback.
// Cases: DEALER->ROUTER echo with 1 outstanding request (p50/p99 µs) and with 128 outstanding
// (msgs/s), payloads 64 B and 4 KiB; PUB->SUB 64 B (msgs/s). One JSON line per case on stdout.
// `--curve`: our sockets only, NULL beside CURVE (lib/zmtp/curve.ts) on the same cases, with 64
// and 128 outstanding requests; each line gives both figures and CURVE's share of NULL's, in
// messages per second and per CPU second (cpuUsPerMsg: CPU time of both ends per message).
// A script, not a test: it measures and reports, it asserts nothing.
import "./help.ts";
import type { Socket } from "bun";
import {
  type CurveOptions,
  Dealer,
  Publisher,
  Router,
  Subscriber,
  loadCurveCrypto,
} from "../lib/zmtp/index.ts";

const config = { roundTrips: 5000, durationMs: 1500, pubsubCount: 300_000 };
const WINDOW = 128;
const HWM = 100_000;
const LIBZMQ_SCRIPT = new URL("./zmtp-libzmq.mjs", import.meta.url).pathname;

const nowUs = (): number => Bun.nanoseconds() / 1000;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Figures = Record<string, number>;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

function latencyFigures(samples: Float64Array): Figures {
  samples.sort();
  return {
    p50Us: percentile(samples, 50),
    p99Us: percentile(samples, 99),
    roundTrips: samples.length,
  };
}

// ---- our sockets ---------------------------------------------------------------------------

/** CURVE options for a ROUTER (server) and a DEALER (client), or none for NULL. */
type Security = { server: CurveOptions; client: CurveOptions } | null;

async function curveSecurity(): Promise<Security> {
  const crypto = await loadCurveCrypto();
  const pair = () => {
    const secretKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
    return { publicKey: crypto.publicKeyOf(secretKey), secretKey };
  };
  const server = { crypto, ...pair() };
  return { server, client: { crypto, ...pair(), serverKey: server.publicKey } };
}

async function echoPair(
  security: Security = null,
): Promise<{ dealer: Dealer; close(): Promise<void> }> {
  const options = { lingerMs: 0, sendHwm: HWM, receiveHwm: HWM };
  const router = new Router(security === null ? options : { ...options, curve: security.server });
  const endpoint = await router.bind("tcp://127.0.0.1:0");
  const dealer = new Dealer(security === null ? options : { ...options, curve: security.client });
  dealer.connect(endpoint);
  const serving = (async () => {
    for await (const message of router) await router.send(message);
  })();
  return {
    dealer,
    async close() {
      await dealer.close();
      await router.close();
      await serving;
    },
  };
}

async function oursLatency(size: number, security: Security = null): Promise<Figures> {
  const { dealer, close } = await echoPair(security);
  const payload = new Uint8Array(size).fill(7);
  for (let i = 0; i < 500; i++) {
    await dealer.send([payload]);
    await dealer.receive();
  }
  const samples = new Float64Array(config.roundTrips);
  for (let i = 0; i < samples.length; i++) {
    const t0 = nowUs();
    await dealer.send([payload]);
    await dealer.receive();
    samples[i] = nowUs() - t0;
  }
  await close();
  return latencyFigures(samples);
}

async function oursPipelined(
  size: number,
  security: Security = null,
  window = WINDOW,
): Promise<Figures> {
  const { dealer, close } = await echoPair(security);
  const payload = new Uint8Array(size).fill(7);
  for (let i = 0; i < 200; i++) {
    await dealer.send([payload]);
    await dealer.receive();
  }
  for (let i = 0; i < window; i++) await dealer.send([payload]);
  const t0 = nowUs();
  const cpu0 = process.cpuUsage();
  const deadline = t0 + config.durationMs * 1000;
  let received = 0;
  while (nowUs() < deadline) {
    await dealer.receive();
    received++;
    await dealer.send([payload]);
  }
  const elapsedUs = nowUs() - t0;
  const cpu = process.cpuUsage(cpu0);
  for (let i = 0; i < window; i++) await dealer.receive();
  await close();
  // CPU time per message (both ends run in this process): unlike msgs/s, it holds steady when
  // other processes compete for the cores.
  return {
    msgsPerSec: Math.round((received * 1e6) / elapsedUs),
    messages: received,
    cpuUsPerMsg: (cpu.user + cpu.system) / received,
  };
}

async function oursPubSub(size: number): Promise<Figures> {
  const pub = new Publisher({ lingerMs: 0, sendHwm: HWM });
  const sub = new Subscriber({ lingerMs: 0, receiveHwm: HWM });
  sub.subscribe("");
  sub.connect(await pub.bind("tcp://127.0.0.1:0"));
  const payload = new Uint8Array(size).fill(7);
  let warm = false;
  void sub.receive().then(() => (warm = true));
  while (!warm) {
    await pub.send(["w"]);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const count = config.pubsubCount;
  let received = 0;
  let lastAt = 0;
  const reading = (async () => {
    while (received < count) {
      const [frame] = await sub.receive();
      if (frame?.length === size) {
        received++;
        lastAt = nowUs();
      }
    }
  })();
  const t0 = nowUs();
  for (let sent = 0; sent < count; sent++) {
    await pub.send([payload]);
    // In-process flow control, identical on the libzmq side: never far ahead of the reader.
    if (sent % 1000 === 999) while (sent - received > 20_000) await yieldToLoop();
    if (sent % 1000 === 999) await yieldToLoop();
  }
  await reading;
  await pub.close();
  await sub.close();
  return { msgsPerSec: Math.round((received * 1e6) / (lastAt - t0)), messages: received };
}

// ---- raw TCP floor: Bun sockets, fixed-size messages echoed byte for byte, no framing --------

interface RawClient {
  write(bytes: Uint8Array): void;
  /** Resolves when `n` more bytes have come back. */
  onBytes: (n: number) => void;
  close(): void;
}

async function rawEchoPair(): Promise<{ client: RawClient; stop(): void }> {
  const pendingOut = new Map<Socket<undefined>, Uint8Array[]>();
  const writeAll = (socket: Socket<undefined>, bytes: Uint8Array): void => {
    const queue = pendingOut.get(socket);
    if (queue !== undefined && queue.length > 0) {
      queue.push(bytes.slice());
      return;
    }
    const n = socket.write(bytes);
    if (n < bytes.length) pendingOut.set(socket, [bytes.slice(Math.max(0, n))]);
  };
  const drain = (socket: Socket<undefined>): void => {
    const queue = pendingOut.get(socket) ?? [];
    while (queue.length > 0) {
      const head = queue[0] as Uint8Array;
      const n = socket.write(head);
      if (n < head.length) {
        queue[0] = head.subarray(Math.max(0, n));
        return;
      }
      queue.shift();
    }
  };
  const server = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    data: undefined,
    socket: {
      open: (s) => {
        s.setNoDelay(true);
      },
      data: (s, chunk) => writeAll(s, chunk),
      drain,
    },
  });
  const client: RawClient = {
    write: () => undefined,
    onBytes: () => undefined,
    close: () => undefined,
  };
  const socket = await Bun.connect<undefined>({
    hostname: "127.0.0.1",
    port: server.port,
    data: undefined,
    socket: {
      data: (_s, chunk) => client.onBytes(chunk.length),
      drain,
    },
  });
  socket.setNoDelay(true);
  client.write = (bytes) => writeAll(socket, bytes);
  client.close = () => socket.end();
  return {
    client,
    stop() {
      socket.end();
      server.stop(true);
    },
  };
}

async function rawLatency(size: number): Promise<Figures> {
  const { client, stop } = await rawEchoPair();
  const payload = new Uint8Array(size).fill(7);
  let waiting = 0;
  let done: () => void = () => undefined;
  client.onBytes = (n) => {
    waiting -= n;
    if (waiting <= 0) done();
  };
  const roundTrip = (): Promise<void> =>
    new Promise((resolve) => {
      waiting = size;
      done = resolve;
      client.write(payload);
    });
  for (let i = 0; i < 500; i++) await roundTrip();
  const samples = new Float64Array(config.roundTrips);
  for (let i = 0; i < samples.length; i++) {
    const t0 = nowUs();
    await roundTrip();
    samples[i] = nowUs() - t0;
  }
  stop();
  return latencyFigures(samples);
}

/**
 * 128 messages in flight. Per message (`batched` false) the client writes each message it sends
 * on its own, as an application handing messages one by one would: the floor. Batched, it
 * refills the window with one write per chunk read: a pure byte pump, the ceiling for any
 * message protocol on this machine.
 */
async function rawPipelined(size: number, batched: boolean): Promise<Figures> {
  const { client, stop } = await rawEchoPair();
  const payload = new Uint8Array(size).fill(7);
  const batch = new Uint8Array(size * WINDOW).fill(7);
  let bytesBack = 0;
  let received = 0;
  let isRunning = true;
  const { promise: finished, resolve: finish } = Promise.withResolvers<void>();
  let deadline = 0;
  client.onBytes = (n) => {
    bytesBack += n;
    const complete = Math.floor(bytesBack / size);
    bytesBack -= complete * size;
    received += complete;
    if (isRunning && complete > 0) {
      if (batched) client.write(batch.subarray(0, complete * size));
      else for (let i = 0; i < complete; i++) client.write(payload);
    }
    if (isRunning && nowUs() >= deadline) {
      isRunning = false;
      finish();
    }
  };
  const t0 = nowUs();
  deadline = t0 + config.durationMs * 1000;
  client.write(batch);
  await finished;
  const elapsedUs = nowUs() - t0;
  stop();
  return { msgsPerSec: Math.round((received * 1e6) / elapsedUs), messages: received };
}

// ---- libzmq on Node -------------------------------------------------------------------------

async function runLibzmq(): Promise<Map<string, Figures>> {
  const proc = Bun.spawn(["node", LIBZMQ_SCRIPT, JSON.stringify(config)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const out = await new Response(proc.stdout).text();
  const code = await proc.exited;
  if (code !== 0) throw new Error(`bench/zmtp-libzmq.mjs exited with ${code}`);
  const results = new Map<string, Figures>();
  for (const line of out.split("\n")) {
    if (line.trim() === "") continue;
    const { case: name, ...figures } = JSON.parse(line) as { case: string } & Figures;
    results.set(name, figures);
  }
  return results;
}

// ---- report ---------------------------------------------------------------------------------

function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || b === 0) return null;
  return Math.round((a / b) * 100) / 100;
}

function round(figures: Figures | undefined): Figures | null {
  if (figures === undefined) return null;
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}

type Runner = () => Promise<Figures>;

async function main(): Promise<void> {
  const started = Date.now();
  const ours = new Map<string, Figures>();
  const raw = new Map<string, Figures>();
  const rawBatched = new Map<string, Figures>();
  const cases: [string, Runner, Runner | null, Runner | null][] = [
    ["echo-latency-64B", () => oursLatency(64), () => rawLatency(64), null],
    ["echo-latency-4KiB", () => oursLatency(4096), () => rawLatency(4096), null],
    [
      "echo-pipelined-64B",
      () => oursPipelined(64),
      () => rawPipelined(64, false),
      () => rawPipelined(64, true),
    ],
    [
      "echo-pipelined-4KiB",
      () => oursPipelined(4096),
      () => rawPipelined(4096, false),
      () => rawPipelined(4096, true),
    ],
    ["pubsub-64B", () => oursPubSub(64), null, null],
  ];
  // One implementation at a time: the machine may have few cores.
  for (const [name, runOurs, runRaw, runRawBatched] of cases) {
    ours.set(name, await runOurs());
    if (runRaw !== null) raw.set(name, await runRaw());
    if (runRawBatched !== null) rawBatched.set(name, await runRawBatched());
  }
  const libzmq = await runLibzmq();
  for (const [name] of cases) {
    const o = ours.get(name);
    const l = libzmq.get(name);
    const r = raw.get(name);
    const rb = rawBatched.get(name);
    const isLatency = o?.p50Us !== undefined;
    const line = isLatency
      ? {
          case: name,
          unit: "µs per round trip",
          ours: round(o),
          libzmq: round(l),
          rawTcp: round(r),
          ratio: { p50: ratio(o?.p50Us, l?.p50Us), p99: ratio(o?.p99Us, l?.p99Us) },
          oursOverRawTcp: { p50: ratio(o?.p50Us, r?.p50Us), p99: ratio(o?.p99Us, r?.p99Us) },
        }
      : {
          case: name,
          unit: "messages/s",
          ours: round(o),
          libzmq: round(l),
          ratio: ratio(o?.msgsPerSec, l?.msgsPerSec),
          ...(r === undefined
            ? {}
            : {
                rawTcp: round(r),
                rawTcpBatched: round(rb),
                oursOverRawTcp: ratio(o?.msgsPerSec, r.msgsPerSec),
                oursOverRawTcpBatched: ratio(o?.msgsPerSec, rb?.msgsPerSec),
              }),
        };
    console.log(JSON.stringify(line));
  }
  console.error(`bench:zmtp finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** NULL and CURVE on the same cases, one after the other; CURVE's figure as a share of NULL's. */
async function mainCurve(): Promise<void> {
  const curve = await curveSecurity();
  // Pairs run back to back, BENCH_REPEATS times (default 3); each line shows the pair with the
  // median ratio, so a burst of load from elsewhere skews one pair, not the result.
  const repeats = Math.max(1, Number(process.env["BENCH_REPEATS"] ?? 3));
  const cases: [string, (security: Security) => Promise<Figures>][] = [
    ["echo-latency-64B", (s) => oursLatency(64, s)],
    ["echo-pipelined-64-outstanding-64B", (s) => oursPipelined(64, s, 64)],
    ["echo-pipelined-64-outstanding-4KiB", (s) => oursPipelined(4096, s, 64)],
    ["echo-pipelined-128-outstanding-64B", (s) => oursPipelined(64, s, 128)],
  ];
  for (const [name, run] of cases) {
    const pairs: { null: Figures; curve: Figures; ratio: number }[] = [];
    for (let i = 0; i < repeats; i++) {
      const nullFigures = await run(null);
      const curveFigures = await run(curve);
      const key = nullFigures.p50Us !== undefined ? "p50Us" : "msgsPerSec";
      const r = (curveFigures[key] ?? NaN) / (nullFigures[key] ?? NaN);
      pairs.push({ null: nullFigures, curve: curveFigures, ratio: r });
    }
    pairs.sort((a, b) => a.ratio - b.ratio);
    const median = pairs[Math.floor(pairs.length / 2)] as (typeof pairs)[number];
    const isLatency = median.null.p50Us !== undefined;
    console.log(
      JSON.stringify({
        case: name,
        unit: isLatency ? "µs per round trip" : "messages/s",
        pairs: repeats,
        null: round(median.null),
        curve: round(median.curve),
        curveOverNull: isLatency
          ? { p50: ratio(median.curve.p50Us, median.null.p50Us) }
          : {
              msgsPerSec: ratio(median.curve.msgsPerSec, median.null.msgsPerSec),
              // Throughput per CPU second: NULL's CPU cost per message over CURVE's.
              perCpu: ratio(median.null.cpuUsPerMsg, median.curve.cpuUsPerMsg),
            },
        allRatios: pairs.map((p) => Math.round(p.ratio * 100) / 100),
      }),
    );
  }
}

if (process.argv.includes("--curve")) await mainCurve();
else await main();
