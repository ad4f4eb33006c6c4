// What the checker needs to know about the object under test: a sequential specification.
// Pure: no I/O, no clock.

/** The outcome of applying one operation to a state: allowed (with the next state) or not. */
export type StepResult<State> =
  | { readonly ok: true; readonly next: State }
  | { readonly ok: false };

/**
 * A sequential specification (Porcupine's and Knossos's "model").
 *
 * `step` is called with `output === undefined` when the operation's outcome is unknown (timed
 * out, connection lost) or was deliberately left unchecked: the operation may still take effect,
 * and any output is acceptable. `key` is a canonical string of the state: two states are equal
 * exactly when their keys are equal, which is what the search memoizes on.
 *
 * A model with versions (compare-and-set) fits the same shape: the state carries the version,
 * the input the expected version, and `step` refuses an output whose version or CONFLICT does
 * not match the state.
 */
export interface Model<State, Input, Output> {
  init(): State;
  step(state: State, input: Input, output: Output | undefined): StepResult<State>;
  key(state: State): string;
  /** True when the operation never changes the state (a read): it may be dropped. */
  isReadOnly(input: Input): boolean;
  /** One line for reports, e.g. `SET "v1" -> created`. */
  describe(input: Input, output: Output | undefined): string;
}

/**
 * One operation of a single-object history. Times are from one monotonic clock. `ret` is
 * Infinity when the outcome is unknown: the operation may have taken effect at any moment after
 * `call`, or never. `output` undefined with a finite `ret` means the operation happened within
 * its interval but its output is not checked (used when shrinking a failing history).
 */
export interface Operation<Input, Output> {
  readonly id: number;
  readonly client: number;
  readonly call: number;
  readonly ret: number;
  readonly input: Input;
  readonly output: Output | undefined;
}
