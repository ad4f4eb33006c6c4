// Public API of the Raft core (style.md A1, B2): a pure state machine, no I/O, no clock.
export type * from "./types.ts";
