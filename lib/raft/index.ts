// Public API of the Raft core (style.md A1, B2): a pure state machine, no I/O, no clock.
export type * from "./types.ts";
export { RaftCore, validateRaftConfig, committedPerReadyMax } from "./core.ts";
export { MemoryStorage, bootstrapEntries, bootstrapMemoryStorage } from "./memory-storage.ts";
export {
  decodeConfChange, decodeMessage, encodeConfChange, encodeMessage, messageLimits,
  validateMessage,
} from "./messages.ts";
export type { DecodeResult } from "./messages.ts";
export { RaftAssertionError } from "./assert.ts";
