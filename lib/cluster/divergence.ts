// Where two replicas' change logs part: the largest seq at which both hold the change of the same
// epoch. Pure. By log matching (docs/agreement.md), logs that agree on the epoch of a seq are
// identical up to it, so agreement is a prefix property and a binary search finds its end.

import type { LogSummary } from "../store/replica-types.ts";

export type LogShape = Pick<LogSummary, "base" | "last" | "epochs">;

/** The epoch of the change at `seq` in `log`, or undefined when `log` does not hold it. */
export function epochAt(log: LogShape, seq: number): number | undefined {
  if (seq === log.base.seq) return log.base.epoch;
  if (seq < log.base.seq || seq > log.last.seq) return undefined;
  let found: number | undefined;
  for (const start of log.epochs) {
    if (start.seq > seq) break;
    found = start.epoch;
  }
  return found;
}

/**
 * The seq up to which `target` equals `source`, or null when their retained histories do not
 * overlap on a common change (the target needs a full copy of the source).
 */
export function divergencePoint(target: LogShape, source: LogShape): number | null {
  const low = Math.max(target.base.seq, source.base.seq);
  const high = Math.min(target.last.seq, source.last.seq);
  if (high < low) return null;
  const agrees = (seq: number) => {
    const epoch = epochAt(target, seq);
    return epoch !== undefined && epoch === epochAt(source, seq);
  };
  if (!agrees(low)) return null;
  let good = low;
  let bad = high + 1;
  // Invariant: agrees(good) and, if bad <= high, !agrees(bad).
  while (bad - good > 1) {
    const middle = good + Math.floor((bad - good) / 2);
    if (agrees(middle)) good = middle;
    else bad = middle;
  }
  return good;
}
