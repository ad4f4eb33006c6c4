// Assertions for programmer errors inside the Raft core (style.md B5/B6). Never used on peer
// input: that is validated and refused instead. Kept here so lib/raft imports nothing outside.

export class RaftAssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RaftAssertionError";
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftAssertionError(message);
}

export function unreachable(value: never): never {
  throw new RaftAssertionError(`unreachable: ${JSON.stringify(value)}`);
}
