// Linearizability checking (Wing & Gong / Lowe, per key) and the lost-write count of the fault
// suite. Pure: usable by tests, simulations and benchmarks; imports nothing from the cluster.
export type { Model, Operation, StepResult } from "./model.ts";
export { type SearchOutcome, type SearchVerdict, searchLinearization } from "./search.ts";
export {
  type CheckOptions, checkDefaults, checkObject, type Failure, type ObjectVerdict, prefixAt,
} from "./check.ts";
export {
  definiteErrorCodes, type KvInput, kvModel, kvModelFor, type KvOutput, type KvState, type OpRecord,
  operationsByKey,
} from "./kv.ts";
export {
  checkKvHistory, failureWindow, formatFailure, type HistoryVerdict, type KeyVerdict,
  type KvCheckOptions, type KvOperation, type OpLabel,
} from "./report.ts";
export { type LostWrite, lostWrites } from "./lost-writes.ts";
