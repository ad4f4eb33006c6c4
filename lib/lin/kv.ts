// The key-value register model and the recorded history format of the fault suite. One
// register per key (P-compositionality: a history is linearizable iff each key's is). Pure.
import type { Model, Operation, StepResult } from "./model.ts";

export type KvInput =
  /** `ifVersion`: compare-and-set (0: only if absent). */
  | { readonly op: "SET"; readonly value: string; readonly ifVersion?: number }
  | { readonly op: "GET" }
  | { readonly op: "DELETE"; readonly ifVersion?: number };

/** `version`: the key's version the reply reported, when it reported one. */
export type KvOutput =
  | { readonly status: "created" | "updated"; readonly version?: number }
  | { readonly found: false }
  | { readonly found: true; readonly value: string; readonly version?: number }
  | { readonly status: "deleted" | "not_found"; readonly version?: number }
  /** A compare-and-set refused: nothing changed; `version` is the key's (0: absent). */
  | { readonly conflict: true; readonly version: number };

/**
 * The value held (null: absent) and the version of the key's last change, deletes included
 * (null: unknown, after a write whose reply was lost). A compare-and-set compares with the
 * version when the key is present, with 0 when it is absent.
 */
export interface KvState {
  readonly value: string | null;
  readonly version: number | null;
}

const initialState: KvState = { value: null, version: 0 };

function allow(next: KvState): StepResult<KvState> {
  return { ok: true, next };
}
const refuse: StepResult<KvState> = { ok: false };

/** What a compare-and-set compares with; null when unknown. */
function currentVersion(state: KvState): number | null {
  return state.value === null ? 0 : state.version;
}

/** A write that took effect: its reported version must be newer than the key's last. */
function written(state: KvState, value: string | null, version: number | undefined) {
  if (version !== undefined && state.version !== null && version <= state.version) return refuse;
  return allow({ value, version: version ?? null });
}

function stepWrite(
  state: KvState,
  input: Exclude<KvInput, { op: "GET" }>,
  output: KvOutput | undefined,
): StepResult<KvState> {
  const value = input.op === "SET" ? input.value : null;
  const current = currentVersion(state);
  const isMatch = input.ifVersion === undefined || current === null || current === input.ifVersion;
  if (output === undefined) {
    // Its outcome is unknown: at this point it succeeds exactly when its condition holds.
    return isMatch ? allow({ value, version: null }) : allow(state);
  }
  if ("conflict" in output) {
    if (input.ifVersion === undefined || output.version === input.ifVersion) return refuse;
    if (current !== null) return current === output.version ? allow(state) : refuse;
    // The version was unknown: the conflict tells it (a present key has a positive one).
    return output.version > 0 ? allow({ value: state.value, version: output.version }) : refuse;
  }
  if (!("status" in output) || !isMatch) return refuse;
  if (input.op === "SET") {
    if ((output.status === "created") !== (state.value === null)) return refuse;
    if (output.status !== "created" && output.status !== "updated") return refuse;
  } else {
    if ((output.status === "deleted") !== (state.value !== null)) return refuse;
    if (output.status !== "deleted" && output.status !== "not_found") return refuse;
  }
  return written(state, value, output.version);
}

/**
 * SET answers created exactly when the key was absent; DELETE answers deleted exactly when it
 * was present; GET answers what is held, and its version when the model knows it; a
 * compare-and-set takes effect exactly when the version matches, and a CONFLICT reports the
 * version held; every write's version is newer than the last. Unknown outputs accept anything.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => initialState,
  key: (state) => `${state.value === null ? "-" : `=${state.value}`}@${state.version ?? "?"}`,
  isReadOnly: (input) => input.op === "GET",
  step(state, input, output) {
    if (input.op !== "GET") return stepWrite(state, input, output);
    if (output === undefined) return allow(state);
    if (!("found" in output)) return refuse;
    if (!output.found) return state.value === null ? allow(state) : refuse;
    if (output.value !== state.value) return refuse;
    if (output.version === undefined || state.version === output.version) return allow(state);
    return state.version === null ? allow({ ...state, version: output.version }) : refuse;
  },
  describe(input, output) {
    const condition = input.op !== "GET" && input.ifVersion !== undefined
      ? ` IF ${input.ifVersion}` : "";
    const head = (input.op === "SET" ? `SET ${JSON.stringify(input.value)}` : input.op) + condition;
    if (output === undefined) return `${head} -> ?`;
    const reported = "version" in output ? output.version : undefined;
    const version = reported === undefined ? "" : ` (version ${reported})`;
    if ("conflict" in output) return `${head} -> CONFLICT${version}`;
    if ("status" in output) return `${head} -> ${output.status}${version}`;
    return `${head} -> ${output.found ? JSON.stringify(output.value) : "absent"}${version}`;
  },
};

/**
 * The register model for one key's operations, with every value that no read returns folded
 * into one: no read can tell such values apart, so states that differ only by them are the
 * same configuration to the search, and the memo merges them.
 */
export function kvModelFor(ops: readonly Operation<KvInput, KvOutput>[]):
  Model<KvState, KvInput, KvOutput> {
  const readValues = new Set<string>();
  for (const op of ops) {
    if (op.output !== undefined && "found" in op.output && op.output.found) {
      readValues.add(op.output.value);
    }
  }
  const valueKey = (value: string | null) =>
    value === null ? "-" : readValues.has(value) ? `=${value}` : "*";
  return {
    ...kvModel,
    key: (state) => `${valueKey(state.value)}@${state.version ?? "?"}`,
  };
}

/**
 * One line of a history file: one attempt, sent to one node, as the driver saw it. Times are
 * milliseconds on the driver's monotonic clock. `outcome`: "ok" (a reply with ok true), "fail"
 * (a reply with a definite error: it did not happen), "unknown" (TIMEOUT, no reply in time,
 * connection lost: it may have happened at any time after `call`).
 */
export interface OpRecord {
  readonly id: number;
  readonly client: number;
  readonly node: number | null;
  readonly key: string;
  readonly op: "SET" | "GET" | "DELETE";
  readonly value?: string;
  /** A compare-and-set write: the version it required (0: absent). */
  readonly ifVersion?: number;
  readonly call: number;
  readonly ret: number;
  readonly outcome: "ok" | "fail" | "unknown";
  readonly reply?: { status?: string; found?: boolean; value?: string; version?: number };
  readonly error?: string;
  /** Reads taken after the run, once every fault was healed. */
  readonly final?: boolean;
}

/** Reply codes after which the operation certainly did not take effect. */
export const definiteErrorCodes: readonly string[] = [
  "UNAVAILABLE", "NOT_LEADER", "INVALID_KEY", "BAD_REQUEST", "CONFLICT",
];

function inputOf(record: OpRecord): KvInput {
  const condition = record.ifVersion === undefined ? {} : { ifVersion: record.ifVersion };
  if (record.op === "SET") return { op: "SET", value: record.value ?? "", ...condition };
  if (record.op === "DELETE") return { op: "DELETE", ...condition };
  return { op: record.op };
}

/** A compare-and-set refused: a definite answer that reports the version (a kind of read). */
function isConflict(record: OpRecord): boolean {
  return record.outcome === "fail" && record.error === "CONFLICT" &&
    typeof record.reply?.version === "number";
}

function outputOf(record: OpRecord): KvOutput | undefined {
  const reply = record.reply ?? {};
  const version = typeof reply.version === "number" ? { version: reply.version } : {};
  if (isConflict(record)) return { conflict: true, version: reply.version ?? 0 };
  if (record.op === "GET") {
    return reply.found === true
      ? { found: true, value: reply.value ?? "", ...version }
      : { found: false };
  }
  if (reply.status === "created" || reply.status === "updated") {
    return { status: reply.status, ...version };
  }
  if (reply.status === "deleted" || reply.status === "not_found") {
    return { status: reply.status, ...version };
  }
  return undefined;
}

/**
 * The checker's view of a recorded history, per key: failed attempts dropped, unknown ones made
 * open-ended with their output unchecked; unknown reads dropped (a read changes nothing).
 */
export function operationsByKey(
  records: readonly OpRecord[],
  options: { readonly checkWriteReplies: boolean } = { checkWriteReplies: true },
): Map<string, Operation<KvInput, KvOutput>[]> {
  const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
  for (const record of records) {
    if (record.outcome === "fail" && !isConflict(record)) continue;
    const isUnknown = record.outcome === "unknown";
    if (isUnknown && record.op === "GET") continue;
    const op: Operation<KvInput, KvOutput> = {
      id: record.id,
      client: record.client,
      call: record.call,
      ret: isUnknown ? Infinity : record.ret,
      input: inputOf(record),
      // Unchecked write replies still take effect inside their interval (a sound relaxation).
      output: isUnknown || (!options.checkWriteReplies && record.op !== "GET")
        ? undefined : outputOf(record),
    };
    const list = byKey.get(record.key);
    if (list === undefined) byKey.set(record.key, [op]);
    else list.push(op);
  }
  return byKey;
}
