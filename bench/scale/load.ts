// Load for the scale benchmark: closed-loop clients timing SETs and GETs, a bulk loader, and
// keys made from a number so a million of them need no memory in the load generator.
import type { WarehouseClient } from "../../lib/client/client.ts";

/** The key numbered `index`: a UUID4 whose bits are a hash of the number, spread evenly over
 * the partitions (placement reads the first 8 hex digits). */
export function keyOf(index: number): string {
  const words = [1, 2, 3, 4].map((round) => mix(index * 4 + round));
  const hex = words.map((w) => (w >>> 0).toString(16).padStart(8, "0")).join("");
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-` +
    `${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** A 32-bit integer hash (the finaliser of MurmurHash3), deterministic across runs. */
function mix(input: number): number {
  let h = input | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A value of exactly `bytes` ASCII bytes that starts with `tag`, so rewrites change the row. */
export function valueOf(tag: number | string, bytes: number): string {
  const head = `${tag}:`;
  return head.length >= bytes ? head.slice(0, bytes) : head + "v".repeat(bytes - head.length);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export interface LoopResult {
  ops: number;
  errors: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * `concurrency` closed loops, shared round-robin over `clients`, each calling `operation` until
 * `seconds` have passed; latencies of the successful calls.
 */
export async function closedLoops(
  clients: WarehouseClient[],
  concurrency: number,
  seconds: number,
  operation: (client: WarehouseClient) => Promise<unknown>,
): Promise<LoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const loop = async (i: number): Promise<void> => {
    const client = clients[i % clients.length] as WarehouseClient;
    while (performance.now() < end) {
      const start = performance.now();
      try {
        await operation(client);
        latencies.push(performance.now() - start);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    errors,
    seconds: Number(elapsed.toFixed(2)),
    opsPerSec: Math.round(latencies.length / elapsed),
    p50Ms: Number(percentile(latencies, 50).toFixed(2)),
    p99Ms: Number(percentile(latencies, 99).toFixed(2)),
  };
}

/**
 * Writes `count` values through `concurrency` loops: write number i (from `first`) sets
 * `keyFor(i)` to `valueFor(i)`. A failed write is tried again (up to a bound), so every
 * write happens. Returns the writes per second and how many attempts failed.
 */
export async function writeAll(
  clients: WarehouseClient[],
  concurrency: number,
  first: number,
  count: number,
  keyFor: (i: number) => string,
  valueFor: (i: number) => string,
): Promise<{ writesPerSec: number; failedAttempts: number }> {
  let next = first;
  const end = first + count;
  let failedAttempts = 0;
  const started = performance.now();
  const loop = async (l: number): Promise<void> => {
    const client = clients[l % clients.length] as WarehouseClient;
    while (next < end) {
      const i = next++;
      for (let attempt = 0; ; attempt++) {
        try {
          await client.set(keyFor(i), valueFor(i));
          break;
        } catch (error) {
          failedAttempts++;
          if (attempt >= WRITE_ATTEMPTS_MAX) throw error;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, l) => loop(l)));
  const seconds = (performance.now() - started) / 1000;
  return { writesPerSec: Math.round(count / seconds), failedAttempts };
}

/** Attempts of one bulk write before the load gives up (a cluster that lost its data plane). */
const WRITE_ATTEMPTS_MAX = 20;
