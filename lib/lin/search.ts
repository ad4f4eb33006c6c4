// Linearizability of one object's history: the Wing & Gong search with Lowe's improvements, in
// the shape Porcupine uses. Operations are entries in a time-ordered doubly linked list of calls
// and returns; the search repeatedly takes a call that may be linearized now (its model step is
// allowed), lifts it and its return out of the list, and backtracks when it meets a return whose
// call was not linearized. Lowe's memoization skips any (set of linearized operations, state)
// reached before. Pure: no I/O, no clock, no unseeded randomness.
import type { Model, Operation } from "./model.ts";

export type SearchVerdict = "ok" | "violation" | "inconclusive";

export interface SearchOutcome {
  readonly verdict: SearchVerdict;
  /** Model steps tried. */
  readonly steps: number;
  /** The most operations linearized at once on the way (all of them when ok). */
  readonly deepest: number;
}

interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  /** For a call: its return. */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/** Calls before returns at equal times: operations that touch at one instant overlap. */
function compareEntries(a: Entry, b: Entry): number {
  if (a.time < b.time) return -1;
  if (a.time > b.time) return 1;
  if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
  return a.op - b.op;
}

function newEntry(op: number, isCall: boolean, time: number, match: Entry | null): Entry {
  return { op, isCall, time, match, prev: null, next: null };
}

function buildList(ops: readonly Operation<unknown, unknown>[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, index) => {
    const ret = newEntry(index, false, op.ret, null);
    const call = newEntry(index, true, op.call, ret);
    entries.push(call, ret);
  });
  entries.sort(compareEntries);
  const head = newEntry(-1, false, -Infinity, null);
  let last = head;
  for (const entry of entries) {
    last.next = entry;
    entry.prev = last;
    last = entry;
  }
  return head;
}

/** Takes a call and its return out of the list. */
function lift(call: Entry): void {
  const ret = call.match as Entry;
  (call.prev as Entry).next = call.next;
  (call.next as Entry).prev = call.prev;
  (ret.prev as Entry).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Puts them back, in the reverse order of lift. */
function unlift(call: Entry): void {
  const ret = call.match as Entry;
  (ret.prev as Entry).next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  (call.prev as Entry).next = call;
  (call.next as Entry).prev = call;
}

/** Deterministic 32-bit words for hashing the linearized set (xorshift32 from a fixed seed). */
function randomWords(count: number, seed: number): Uint32Array {
  const words = new Uint32Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return words;
}

/** The memo of Lowe's algorithm: configurations seen, hashed, compared exactly on a hit. */
class Seen {
  private readonly buckets = new Map<string, Uint32Array[]>();

  /** Adds the configuration; false when it was already there. */
  add(hash: string, bits: Uint32Array): boolean {
    const bucket = this.buckets.get(hash);
    if (bucket === undefined) {
      this.buckets.set(hash, [bits.slice()]);
      return true;
    }
    for (const other of bucket) if (sameBits(other, bits)) return false;
    bucket.push(bits.slice());
    return true;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Decides whether `ops` (one object's operations) is linearizable under `model`, trying at most
 * `stepBudget` model steps; past it the verdict is "inconclusive", never a guess.
 */
export function searchLinearization<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  stepBudget: number,
): SearchOutcome {
  const head = buildList(ops);
  const bits = new Uint32Array(Math.ceil(ops.length / 32) + 1);
  const lowWords = randomWords(ops.length, 0x9e3779b9);
  const highWords = randomWords(ops.length, 0x85ebca6b);
  const seen = new Seen();
  const stack: { call: Entry; state: S }[] = [];
  let low = 0;
  let high = 0;
  let state = model.init();
  let steps = 0;
  let deepest = 0;
  let entry = head.next;
  const flip = (op: number): void => {
    bits[op >>> 5] = (bits[op >>> 5] as number) ^ (1 << (op & 31));
    low ^= lowWords[op] as number;
    high ^= highWords[op] as number;
  };
  while (head.next !== null) {
    if (steps >= stepBudget) return { verdict: "inconclusive", steps, deepest };
    const current = entry as Entry;
    if (current.isCall) {
      steps++;
      const op = ops[current.op] as Operation<I, O>;
      const result = model.step(state, op.input, op.output);
      if (result.ok) {
        flip(current.op);
        if (seen.add(`${low >>> 0}:${high >>> 0}:${model.key(result.next)}`, bits)) {
          stack.push({ call: current, state });
          state = result.next;
          lift(current);
          deepest = Math.max(deepest, stack.length);
          entry = head.next;
          continue;
        }
        flip(current.op);
      }
      entry = current.next;
      continue;
    }
    // A return whose call is still in the list: that operation had to be linearized by now.
    const top = stack.pop();
    if (top === undefined) return { verdict: "violation", steps, deepest };
    state = top.state;
    flip(top.call.op);
    unlift(top.call);
    entry = top.call.next;
  }
  return { verdict: "ok", steps, deepest };
}
