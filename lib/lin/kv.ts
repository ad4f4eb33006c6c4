// The key-value register model and the recorded history format of the fault suite. One
// register per key (P-compositionality: a history is linearizable iff each key's is). Pure.
import type { Model, Operation, StepResult } from "./model.ts";

export type KvInput =
  | { readonly op: "SET"; readonly value: string }
  | { readonly op: "GET" }
  | { readonly op: "DELETE" };

export type KvOutput =
  | { readonly status: "created" | "updated" }
  | { readonly found: false }
  | { readonly found: true; readonly value: string }
  | { readonly status: "deleted" | "not_found" };

/** The value held, or null when the key is absent. */
export type KvState = string | null;

function allow(next: KvState): StepResult<KvState> {
  return { ok: true, next };
}
const refuse: StepResult<KvState> = { ok: false };

/**
 * SET answers created exactly when the key was absent; DELETE answers deleted exactly when it
 * was present; GET answers what is held. Unknown outputs (undefined) accept anything.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  key: (state) => (state === null ? "-" : `=${state}`),
  isReadOnly: (input) => input.op === "GET",
  step(state, input, output) {
    switch (input.op) {
      case "SET": {
        if (output !== undefined && !("status" in output)) return refuse;
        const isCreated = output?.status === "created";
        if (output !== undefined && isCreated !== (state === null)) return refuse;
        return allow(input.value);
      }
      case "DELETE": {
        if (output !== undefined && !("status" in output)) return refuse;
        const isDeleted = output?.status === "deleted";
        if (output !== undefined && isDeleted !== (state !== null)) return refuse;
        return allow(null);
      }
      case "GET": {
        if (output === undefined) return allow(state);
        if (!("found" in output)) return refuse;
        const isSame = output.found ? output.value === state : state === null;
        return isSame ? allow(state) : refuse;
      }
    }
  },
  describe(input, output) {
    const head = input.op === "SET" ? `SET ${JSON.stringify(input.value)}` : input.op;
    if (output === undefined) return `${head} -> ?`;
    if ("status" in output) return `${head} -> ${output.status}`;
    return `${head} -> ${output.found ? JSON.stringify(output.value) : "absent"}`;
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
  return {
    ...kvModel,
    key: (state) => (state === null ? "-" : readValues.has(state) ? `=${state}` : "*"),
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
  readonly call: number;
  readonly ret: number;
  readonly outcome: "ok" | "fail" | "unknown";
  readonly reply?: { status?: string; found?: boolean; value?: string };
  readonly error?: string;
  /** Reads taken after the run, once every fault was healed. */
  readonly final?: boolean;
}

/** Reply codes after which the operation certainly did not take effect. */
export const definiteErrorCodes: readonly string[] = [
  "UNAVAILABLE", "NOT_LEADER", "INVALID_KEY", "BAD_REQUEST",
];

function inputOf(record: OpRecord): KvInput {
  if (record.op === "SET") return { op: "SET", value: record.value ?? "" };
  return { op: record.op };
}

function outputOf(record: OpRecord): KvOutput | undefined {
  const reply = record.reply ?? {};
  if (record.op === "GET") {
    return reply.found === true ? { found: true, value: reply.value ?? "" } : { found: false };
  }
  if (reply.status === "created" || reply.status === "updated") return { status: reply.status };
  if (reply.status === "deleted" || reply.status === "not_found") return { status: reply.status };
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
    if (record.outcome === "fail") continue;
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
