// Checking a recorded key-value history and writing what failed so a person can follow it.
// Pure: takes records, returns verdicts and text.
import { type CheckOptions, checkDefaults, checkObject, type Failure } from "./check.ts";
import {
  type KvInput, kvModel, kvModelFor, type KvOutput, type OpRecord, operationsByKey,
} from "./kv.ts";
import type { Operation } from "./model.ts";
import type { SearchVerdict } from "./search.ts";

export type KvOperation = Operation<KvInput, KvOutput>;

export interface KeyVerdict {
  readonly key: string;
  readonly verdict: SearchVerdict;
  readonly ops: number;
  readonly steps: number;
  readonly failure?: Failure<KvInput, KvOutput>;
}

export interface HistoryVerdict {
  readonly keys: readonly KeyVerdict[];
  /** Keys whose history is not linearizable. */
  readonly violations: number;
  /** Of those, by the first reply that cannot be explained: a GET's value, or a write's status. */
  readonly violationsByKind: { readonly read: number; readonly status: number };
  readonly inconclusive: number;
}

export interface KvCheckOptions extends CheckOptions {
  /** False: created/updated/deleted/not_found are not checked, only what reads return. */
  readonly checkWriteReplies: boolean;
  /**
   * A key inconclusive within `stepBudget` is searched once more with this budget (none when
   * unset): most keys need a small fraction of the first budget, so the large one is spent only
   * on the few histories dense with unknown writes.
   */
  readonly retryStepBudget?: number;
}

/** Checks every key on its own (P-compositionality). */
export function checkKvHistory(
  records: readonly OpRecord[],
  options: KvCheckOptions = { ...checkDefaults, checkWriteReplies: true },
): HistoryVerdict {
  const keys: KeyVerdict[] = [];
  for (const [key, ops] of operationsByKey(records, options)) {
    let verdict = checkObject(kvModelFor(ops), ops, options);
    if (verdict.verdict === "inconclusive" && options.retryStepBudget !== undefined) {
      const stepBudget = options.retryStepBudget;
      verdict = checkObject(kvModelFor(ops), ops, { ...options, stepBudget });
    }
    keys.push({ key, ...verdict });
  }
  const failures = keys.flatMap((k) => (k.failure === undefined ? [] : [k.failure]));
  const reads = failures.filter((f) => f.culprit.input.op === "GET").length;
  return {
    keys,
    violations: keys.filter((k) => k.verdict === "violation").length,
    violationsByKind: { read: reads, status: failures.length - reads },
    inconclusive: keys.filter((k) => k.verdict === "inconclusive").length,
  };
}

/**
 * The operations worth showing: from the state the essential operations start from (the last
 * write completed before the earliest of them, or of the writes whose values they read) up to
 * the culprit. Earlier ones are counted, not shown.
 */
export function failureWindow(failure: Failure<KvInput, KvOutput>): {
  shown: KvOperation[];
  omitted: number;
} {
  const essential = failure.ops.filter((o) => failure.essential.has(o.id));
  const readValues = new Set(essential.flatMap((o) =>
    o.output !== undefined && "found" in o.output && o.output.found ? [o.output.value] : []));
  const anchors = [
    ...essential,
    ...failure.ops.filter((o) => o.input.op === "SET" && readValues.has(o.input.value)),
  ];
  const first = anchors.reduce((a, b) => (b.call < a.call ? b : a));
  let start = first.call;
  // A first operation whose reply depends on the state before it gets that state's write too.
  const before = first.output === undefined ? []
    : failure.ops.filter((o) => o.input.op !== "GET" && o.ret < start);
  const entering = before.reduce<KvOperation | undefined>(
    (last, o) => (last === undefined || o.ret > last.ret ? o : last), undefined);
  if (entering !== undefined) start = Math.min(start, entering.call);
  const shown = failure.ops.filter((o) => o.ret >= start || o === entering);
  return { shown, omitted: failure.ops.length - shown.length };
}

/** Where an operation went, e.g. "node 2", looked up by id (optional). */
export type OpLabel = (id: number) => string;

function formatTime(ms: number, origin: number): string {
  return ms === Infinity ? "?" : `${(ms - origin).toFixed(1)}`;
}

/** Operations shown on screen before folding the long middle of a window. */
const shownOpsMax = 16;
/** Of the folded middle, the last few stay visible: they set the state the culprit saw. */
const middleKept = 4;

/**
 * Writes in a long window that are neither essential nor overlapping the culprit, whose replies
 * are not needed: all but the first and the last few are folded into one line.
 */
function foldedMiddle(shown: readonly KvOperation[], failure: Failure<KvInput, KvOutput>):
  Set<KvOperation> & { first?: KvOperation; last?: KvOperation } {
  const folded: Set<KvOperation> & { first?: KvOperation; last?: KvOperation } = new Set();
  if (shown.length <= shownOpsMax) return folded;
  const foldable = shown.slice(1).filter((o) => o.output === undefined && o.ret !== Infinity
    && !failure.essential.has(o.id) && o.ret < failure.culprit.call);
  for (const op of foldable.slice(0, Math.max(0, foldable.length - middleKept))) folded.add(op);
  const list = [...folded];
  folded.first = list[0];
  folded.last = list[list.length - 1];
  return folded;
}

/** A few lines explaining one key's violation. */
export function formatFailure(key: string, verdict: KeyVerdict, label: OpLabel = () => ""): string {
  const failure = verdict.failure;
  if (failure === undefined) return `key ${key}: ${verdict.verdict}`;
  const { shown, omitted } = failureWindow(failure);
  // Times count from the first completed operation shown; pending ones may start earlier.
  const completed = shown.filter((o) => o.ret !== Infinity);
  const origin = Math.min(...(completed.length > 0 ? completed : shown).map((o) => o.call));
  const lines = [
    `key ${key}: not linearizable (${verdict.ops} ops on this key; ` +
      `a failing sub-history of ${failure.ops.length}, ${shown.length} shown, times in ms)`,
  ];
  const folded = foldedMiddle(shown, failure);
  for (const op of shown) {
    if (folded.has(op)) {
      if (op === folded.first) {
        lines.push(`    ... ${folded.size} more writes, #${op.id} to #${folded.last?.id}, ` +
          `all finished before #${failure.culprit.id} was sent (replies not needed)`);
      }
      continue;
    }
    const mark = op === failure.culprit ? ">" : failure.essential.has(op.id) ? "!" : " ";
    const where = label(op.id);
    const span = `${formatTime(op.call, origin)}..${formatTime(op.ret, origin)}`;
    const reply = op.output === undefined && op.ret !== Infinity
      ? `${kvModel.describe(op.input, undefined).replace(/ -> \?$/, "")} (reply not needed)`
      : kvModel.describe(op.input, op.output);
    lines.push(`  ${mark} #${op.id} client ${op.client}${where ? ` ${where}` : ""} ` +
      `[${span}] ${reply}`);
  }
  if (omitted > 0) lines.push(`    (${omitted} earlier writes of the sub-history not shown)`);
  lines.push(`  > #${failure.culprit.id} is the first reply that no order of the operations ` +
    `before it explains; ! marks the other replies the failure depends on.`);
  return lines.join("\n");
}
