// Checks a history key by key and, when one is not linearizable, shrinks it to a small failing
// sub-history a person can read. Every shrinking move keeps the verdict sound: a cut of the
// history at a moment in time (linearizability is prefix-closed), dropping reads (a read
// changes nothing), and no longer checking a write's reply (it still happens in its interval).
// Any of these applied to a linearizable history leaves it linearizable, so a sub-history that
// still fails shows a real violation. Pure.
import type { Model, Operation } from "./model.ts";
import { type SearchVerdict, searchLinearization } from "./search.ts";

export interface CheckOptions {
  /** Model steps one search may take before its verdict is "inconclusive". */
  readonly stepBudget: number;
  /** Searches spent shrinking one failing key. */
  readonly shrinkSearchesMax: number;
}

export const checkDefaults: CheckOptions = { stepBudget: 2_000_000, shrinkSearchesMax: 120 };

export interface Failure<I, O> {
  /** The first operation whose reply cannot be explained: the history up to it fails. */
  readonly culprit: Operation<I, O>;
  /** The shrunk failing sub-history, in call order. */
  readonly ops: readonly Operation<I, O>[];
  /** Ids whose input and reply the failure needs (culprit included). */
  readonly essential: ReadonlySet<number>;
}

export interface ObjectVerdict<I, O> {
  readonly verdict: SearchVerdict;
  readonly ops: number;
  readonly steps: number;
  readonly failure?: Failure<I, O>;
}

/** Checks one object's operations; on a violation, shrinks and explains it. */
export function checkObject<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  options: CheckOptions = checkDefaults,
): ObjectVerdict<I, O> {
  const outcome = searchLinearization(model, ops, options.stepBudget);
  if (outcome.verdict === "violation") {
    const failure = shrink(model, ops, options);
    return { verdict: "violation", ops: ops.length, steps: outcome.steps, failure };
  }
  if (outcome.verdict === "inconclusive") {
    // Proving a violation means ruling out every order, which many operations of unknown
    // outcome make expensive. A failing cut proves it for the whole history (prefix closure),
    // and an earlier cut has fewer of them pending: try growing cuts.
    const failing = failingCut(model, ops, options);
    if (failing !== undefined) {
      const failure = shrink(model, failing, options);
      return { verdict: "violation", ops: ops.length, steps: outcome.steps, failure };
    }
  }
  return { verdict: outcome.verdict, ops: ops.length, steps: outcome.steps };
}

function failingCut<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  options: CheckOptions,
): Operation<I, O>[] | undefined {
  const returns = ops.filter((o) => o.ret !== Infinity).map((o) => o.ret).sort((a, b) => a - b);
  for (let count = 32; count < returns.length; count *= 2) {
    const prefix = prefixAt(ops, returns[count - 1] as number, (i) => model.isReadOnly(i));
    const verdict = searchLinearization(model, prefix, options.stepBudget).verdict;
    if (verdict === "violation") return prefix;
    if (verdict === "inconclusive") return undefined;
  }
  return undefined;
}

/** Operations as they stood at time `cut`: later calls left out, later returns unknown. */
export function prefixAt<I, O>(
  ops: readonly Operation<I, O>[],
  cut: number,
  isRead: (input: I) => boolean,
): Operation<I, O>[] {
  const prefix: Operation<I, O>[] = [];
  for (const op of ops) {
    if (op.call > cut) continue;
    if (op.ret <= cut) prefix.push(op);
    else if (!isRead(op.input)) prefix.push({ ...op, ret: Infinity, output: undefined });
  }
  return prefix;
}

function shrink<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  options: CheckOptions,
): Failure<I, O> {
  let searches = 0;
  const fails = (candidate: readonly Operation<I, O>[]): boolean => {
    searches++;
    return searchLinearization(model, candidate, options.stepBudget).verdict === "violation";
  };
  const isRead = (input: I): boolean => model.isReadOnly(input);
  // 1. The earliest cut that already fails, by binary search over return times.
  const returns = [...new Set(ops.filter((o) => o.ret !== Infinity && o.output !== undefined)
    .map((o) => o.ret))].sort((a, b) => a - b);
  let lo = 0;
  let hi = returns.length - 1;
  let cut = returns[hi] ?? Infinity;
  while (lo < hi && searches < options.shrinkSearchesMax / 2) {
    const mid = (lo + hi) >>> 1;
    if (fails(prefixAt(ops, returns[mid] as number, isRead))) hi = mid;
    else lo = mid + 1;
  }
  cut = returns[hi] ?? cut;
  let current = prefixAt(ops, cut, isRead);
  if (!fails(current)) current = [...ops];
  const culprit = current.find((o) => o.ret === cut && o.output !== undefined)
    ?? (current[current.length - 1] as Operation<I, O>);
  // 2. Drop reads and stop checking write replies wherever the rest still fails, in halving
  // chunks, newest first.
  const movable = current.filter((o) => o !== culprit && o.output !== undefined).map((o) => o.id)
    .reverse();
  type Ops = Operation<I, O>[];
  const relax = (history: readonly Operation<I, O>[], ids: ReadonlySet<number>): Ops =>
    history.flatMap((o) => {
      if (!ids.has(o.id) || o.output === undefined) return [o];
      return isRead(o.input) ? [] : [{ ...o, output: undefined }];
    });
  for (let size = Math.max(1, movable.length >> 1); size >= 1; size = size === 1 ? 0 : size >> 1) {
    for (let start = 0; start < movable.length; start += size) {
      if (searches >= options.shrinkSearchesMax) break;
      const chunk = new Set(movable.slice(start, start + size));
      const candidate = relax(current, chunk);
      const isSame = candidate.length === current.length
        && candidate.every((o, i) => o === current[i]);
      if (isSame) continue;
      if (fails(candidate)) current = candidate;
    }
  }
  const essential = new Set(current.filter((o) => o.output !== undefined && o.ret !== Infinity)
    .map((o) => o.id));
  essential.add(culprit.id);
  return { culprit, ops: [...current].sort((a, b) => a.call - b.call), essential };
}
