// Settings shared by the property-based fuzz tests (fast-check). CI runs a fixed seed and a run
// count that keeps each file to a few seconds; FUZZ_RUNS raises the count and FUZZ_SEED picks
// another seed (or replays the one a failure printed), e.g.
//   FUZZ_RUNS=100000 bun test test/unit/zmtp/codec-fuzz.test.ts
import fc from "fast-check";

export const fuzzSeedDefault = 20261204;

export interface FuzzSettings {
  readonly parameters: fc.Parameters<unknown>;
  /** A test's timeout, grown with the run count so a long local run is not cut short. */
  readonly timeoutMs: number;
}

/** `runsDefault` is what CI runs; FUZZ_RUNS (the same for every property) overrides it. */
export function fuzzSettings(runsDefault: number): FuzzSettings {
  const fromEnv = process.env.FUZZ_RUNS;
  const runs = fromEnv === undefined ? runsDefault : Number(fromEnv);
  const seed = Number(process.env.FUZZ_SEED ?? fuzzSeedDefault);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`FUZZ_RUNS=${fromEnv}: not a count`);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED=${String(seed)}: not a seed`);
  return {
    parameters: { numRuns: runs, seed, endOnFailure: true },
    timeoutMs: Math.max(60_000, runs * 50),
  };
}

/** Cuts `bytes` at the given offsets (taken modulo its length + 1), keeping every byte once. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const offsets = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const offset of offsets) {
    chunks.push(bytes.subarray(start, offset));
    start = offset;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** Offsets to cut a byte stream at: none (one chunk) up to one per byte of a short stream. */
export const cutsArb: fc.Arbitrary<number[]> = fc.oneof(
  fc.array(fc.nat(), { maxLength: 8 }),
  fc.array(fc.nat(), { maxLength: 300, size: "max" }),
);

/**
 * Bytes of up to `maxLength`, with long ones as likely as short ones: fast-check's default size
 * keeps arrays near ten items, which would never reach a LONG frame header.
 */
export function bytesArb(maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: Math.min(maxLength, 16) }),
    fc.uint8Array({ maxLength, size: "max" }),
  );
}
