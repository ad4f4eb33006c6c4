// The divergence point of two change logs (lib/cluster/divergence.ts), on hand-made cases and
// on random pairs of logs that share a prefix and then were written by different leaders.

import { describe, expect, test } from "bun:test";
import { divergencePoint, epochAt, type LogShape } from "../../../lib/cluster/divergence.ts";

/** A log from the epoch of each seq base+1.. and its base position. */
function logOf(epochs: number[], base = { epoch: 0, seq: 0 }): LogShape {
  const starts: { epoch: number; seq: number }[] = [];
  epochs.forEach((epoch, i) => {
    if (starts.at(-1)?.epoch !== epoch) starts.push({ epoch, seq: base.seq + i + 1 });
  });
  const last = epochs.length === 0 ? base : { epoch: epochs.at(-1) as number, seq: base.seq + epochs.length };
  return { base, last, epochs: starts };
}

describe("divergencePoint", () => {
  test("equal logs agree to their end; a longer log agrees up to the shorter's end", () => {
    expect(divergencePoint(logOf([1, 1, 2]), logOf([1, 1, 2]))).toBe(3);
    expect(divergencePoint(logOf([1, 1, 2, 2, 2]), logOf([1, 1, 2]))).toBe(3);
    expect(divergencePoint(logOf([1]), logOf([1, 1, 2]))).toBe(1);
  });

  test("a suffix written by a deposed leader is found", () => {
    // Target took two writes in epoch 2 that the epoch-3 leader never saw.
    expect(divergencePoint(logOf([1, 1, 2, 2]), logOf([1, 1, 3, 3, 3]))).toBe(2);
    expect(divergencePoint(logOf([1, 2, 2, 4]), logOf([1, 2, 3]))).toBe(2);
  });

  test("empty logs agree at zero; an empty target of an untrimmed source starts at zero", () => {
    expect(divergencePoint(logOf([]), logOf([]))).toBe(0);
    expect(divergencePoint(logOf([]), logOf([1, 2]))).toBe(0);
  });

  test("no common retained change means a full copy", () => {
    const trimmed = logOf([3, 3], { epoch: 2, seq: 10 });
    expect(divergencePoint(logOf([1, 1]), trimmed)).toBeNull();
    // Overlap exists but differs already at the later base.
    expect(divergencePoint(logOf([1, 1, 1, 1]), logOf([5, 5], { epoch: 4, seq: 2 }))).toBeNull();
    // The target's base is a change the source also holds: they agree from there.
    expect(divergencePoint(logOf([2, 2], { epoch: 2, seq: 3 }), logOf([1, 2, 2, 2, 2]))).toBe(5);
  });

  test("epochAt answers only for held changes", () => {
    const log = logOf([4, 4, 6], { epoch: 3, seq: 7 });
    expect([7, 8, 9, 10].map((s) => epochAt(log, s))).toEqual([3, 4, 4, 6]);
    expect(epochAt(log, 6)).toBeUndefined();
    expect(epochAt(log, 11)).toBeUndefined();
  });

  test("random logs that share a prefix diverge exactly where the prefix ends", () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 48271) % 2147483647;
      return seed % n;
    };
    for (let round = 0; round < 2000; round++) {
      let epoch = 1;
      const shared: number[] = [];
      for (let i = random(12); i > 0; i--) {
        if (random(3) === 0) epoch++;
        shared.push(epoch);
      }
      // Two later leaders with different terms extend the shared prefix on one replica each.
      const extend = (own: number) => [...shared, ...Array.from({ length: random(6) }, () => own)];
      const targetEpochs = extend(epoch + 1 + 2 * random(3));
      const sourceEpochs = extend(epoch + 2 + 2 * random(3));
      const trimTo = (epochs: number[]) => {
        const cut = random(epochs.length + 1);
        const base = cut === 0 ? { epoch: 0, seq: 0 } : { epoch: epochs[cut - 1] as number, seq: cut };
        return { log: logOf(epochs.slice(cut), base), cut };
      };
      const target = trimTo(targetEpochs);
      const source = trimTo(sourceEpochs);
      const common = Math.min(shared.length, targetEpochs.length, sourceEpochs.length);
      const expected = common >= Math.max(target.cut, source.cut) ? common : null;
      expect(divergencePoint(target.log, source.log)).toBe(expected);
    }
  });
});
