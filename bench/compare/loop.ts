// The closed-loop harness bench:compare drives both systems with: `concurrency` loops, each
// sending its next request as soon as the previous one is answered, for a fixed time.
import { readFileSync } from "node:fs";

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every common platform. */
const CLOCK_TICKS_PER_SEC = 100;

/** CPU µs used so far by processes `pids` (Linux /proc; 0 for one that is gone). */
export function processCpuUs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after "(comm)": state is the first; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1e6) / CLOCK_TICKS_PER_SEC;
}

/** CPU µs used so far by this process. */
export function selfCpuUs(): number {
  const used = process.cpuUsage();
  return used.user + used.system;
}

export interface LoopResult {
  latenciesMs: number[];
  errors: number;
  firstError: string | null;
  seconds: number;
  /** CPU time the system's three servers and this load generator used during the loops. */
  cpuUs?: { servers: number; client: number };
}

/** Runs `concurrency` closed loops of `op(loop)` for `seconds`; failures count as errors. */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  op: (loop: number) => Promise<unknown>,
): Promise<LoopResult> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const started = performance.now();
  const end = started + seconds * 1000;
  const loop = async (i: number): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await op(i);
        latenciesMs.push(performance.now() - t0);
      } catch (error) {
        errors++;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  return { latenciesMs, errors, firstError, seconds: (performance.now() - started) / 1000 };
}

export interface Figures {
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** ops/s of each round, to show the spread. */
  rounds: number[];
  /**
   * CPU µs per operation of the three servers and of the load generator (one process for both
   * systems): unlike ops/s, these hold steady when other work competes for the cores.
   */
  cpuUsPerOp: { servers: number; client: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const round2 = (x: number): number => Number(x.toFixed(2));

/** Pools every round's samples: ops/s over the summed time, percentiles over all latencies. */
export function summarize(results: LoopResult[]): Figures {
  const all = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const seconds = results.reduce((sum, r) => sum + r.seconds, 0);
  return {
    ops: all.length,
    opsPerSec: Math.round(all.length / Math.max(seconds, 1e-9)),
    p50Ms: round2(percentile(all, 50)),
    p99Ms: round2(percentile(all, 99)),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    rounds: results.map((r) => Math.round(r.latenciesMs.length / Math.max(r.seconds, 1e-9))),
    cpuUsPerOp: {
      servers: Math.round(results.reduce((sum, r) => sum + (r.cpuUs?.servers ?? 0), 0) /
        Math.max(1, all.length)),
      client: Math.round(results.reduce((sum, r) => sum + (r.cpuUs?.client ?? 0), 0) /
        Math.max(1, all.length)),
    },
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Failover time: a write is started every `intervalMs` (open loop, so a slow or lost attempt
 * never delays the next), `kill` runs after `settleMs`, and the result is the time from the kill
 * to the first acknowledgement of a write started after it.
 */
export async function failoverTime(
  write: () => Promise<unknown>,
  kill: () => Promise<void>,
  options: { intervalMs: number; settleMs: number; timeoutMs: number },
): Promise<number> {
  let killedAt = Infinity;
  let firstAck = 0;
  const inFlight = new Set<Promise<unknown>>();
  let stop = false;
  const writer = (async () => {
    while (!stop && firstAck === 0) {
      const started = performance.now();
      const attempt = write().then(
        () => {
          const now = performance.now();
          if (started >= killedAt && firstAck === 0) firstAck = now;
        },
        () => undefined,
      );
      inFlight.add(attempt);
      void attempt.finally(() => inFlight.delete(attempt));
      await Bun.sleep(options.intervalMs);
    }
  })();
  await Bun.sleep(options.settleMs);
  killedAt = performance.now();
  await kill();
  const deadline = killedAt + options.timeoutMs;
  while (firstAck === 0 && performance.now() < deadline) await Bun.sleep(1);
  stop = true;
  await writer;
  if (firstAck === 0) {
    throw new Error(`no write acknowledged within ${options.timeoutMs} ms of the kill`);
  }
  return firstAck - killedAt;
}
