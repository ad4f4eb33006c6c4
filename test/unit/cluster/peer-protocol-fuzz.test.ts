// Property-based fuzzing of the peer protocol parser (issue 8) with fast-check: whatever the
// bytes, parsePeerMessage never throws; valid messages of every kind round-trip; and a valid
// message changed in a way that breaks its shape is always refused.
//
// CI runs a fixed seed and FUZZ_RUNS_DEFAULT runs per property (well under 2 s). Locally:
//   FUZZ_RUNS=1000000 bun test test/unit/cluster/peer-protocol-fuzz.test.ts
// and FUZZ_SEED=<n> to explore or to replay a failure fast-check printed.

import { expect, test } from "bun:test";
import fc from "fast-check";
import {
  encodePeerMessage,
  parsePeerMessage,
  peerKinds,
  type PeerParseResult,
} from "../../../lib/cluster/peer-protocol.ts";
import { messageArb } from "./peer-arbitraries.ts";
import { frameOf, limits, rawOf, type TestRaft } from "./peer-samples.ts";

const FUZZ_RUNS_DEFAULT = 200;
const runs = Number(process.env.FUZZ_RUNS ?? FUZZ_RUNS_DEFAULT);
const seed = Number(process.env.FUZZ_SEED ?? 20261204);
const parameters = { numRuns: runs, seed, endOnFailure: true };
// A million runs take many minutes on a busy machine: the timeout grows with the run count.
const timeoutMs = Math.max(60_000, runs * 20);

/** Parses; a throw fails the property with the frame that caused it. */
function parse(frame: Uint8Array): PeerParseResult<TestRaft> {
  const result = parsePeerMessage(frame, limits);
  expect(typeof result.ok).toBe("boolean");
  if (!result.ok) expect(result.error.length).toBeGreaterThan(0);
  return result;
}

/** An accepted message is a fixed point: encoding it and parsing again gives it back. */
function expectStable(result: PeerParseResult<TestRaft>): void {
  if (!result.ok) return;
  expect(parse(encodePeerMessage(result.message))).toEqual(result);
}

test(
  "valid messages of every kind round-trip unchanged",
  () => {
    fc.assert(
      fc.property(messageArb(), (message) => {
        expect(parse(encodePeerMessage(message))).toEqual({ ok: true, message });
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "random bytes never throw",
  () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => expectStable(parse(bytes))),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "random JSON bodies under every kind never throw, and what is accepted is stable",
  () => {
    const envelope = fc.record({
      v: fc.constantFrom(1, 1, 2, "1"),
      from: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(2 ** 53)),
      to: fc.integer({ min: 0, max: 4 }),
      kind: fc.constantFrom(...peerKinds),
      body: fc.jsonValue({ maxDepth: 4 }),
    });
    fc.assert(
      fc.property(envelope, (raw) => expectStable(parse(frameOf(raw)))),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "byte-level damage to valid frames never throws, and what is accepted is stable",
  () => {
    const damage = fc.array(
      fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), how: fc.nat(2) }),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(messageArb(), damage, (message, edits) => {
        const bytes = [...encodePeerMessage(message)];
        for (const { at, byte, how } of edits) {
          const index = at % (bytes.length + 1);
          if (how === 0) bytes[index] = byte;
          else if (how === 1) bytes.splice(index, 0, byte);
          else bytes.splice(index, 1);
        }
        expectStable(parse(new Uint8Array(bytes)));
      }),
      parameters,
    );
  },
  timeoutMs,
);

// ---- mutations that always break the shape ---------------------------------------------------

type Container = Record<string, unknown> | unknown[];

interface Slot {
  readonly parent: Container;
  readonly key: string | number;
  readonly path: string;
}

/** Every value inside the message (not the message itself), with where it sits. */
function slotsOf(value: unknown, path = "message"): Slot[] {
  if (typeof value !== "object" || value === null) return [];
  const parent = value as Container;
  const entries: [string | number, unknown][] = Array.isArray(parent)
    ? parent.map((item, i) => [i, item])
    : Object.entries(parent);
  return entries.flatMap(([key, child]) => {
    const childPath = `${path}${typeof key === "number" ? `[${key}]` : `.${key}`}`;
    return [{ parent, key, path: childPath }, ...slotsOf(child, childPath)];
  });
}

/**
 * Replacements no field of the protocol accepts for a value of this JSON type: every number
 * is a non-negative safe integer, no string field takes a number, no boolean field takes null,
 * every nullable field is a string or an object, and no object field takes an array.
 */
function breakingReplacements(value: unknown): unknown[] {
  if (typeof value === "number") return [-1, 2 ** 53, 0.5, "7", true, [], {}];
  if (typeof value === "string") return [5, true, [], {}];
  if (typeof value === "boolean") return [0, "true", null];
  if (value === null) return [-1, true, []];
  if (Array.isArray(value)) return ["x", 7, {}];
  return [[], "x", 7];
}

/**
 * Fields some message may leave out: a leader hint, a rows page's `more`, a rows request's
 * `ttlOnly`, a row's or change's `expiresAt`. (Where one of these names is required, as
 * `more` in a key-changes reply, leaving it out goes untried here.)
 */
const optionalFields = new Set(["leader", "more", "ttlOnly", "expiresAt"]);

const extraNames = ["__proto__", "constructor", "toString", "hasOwnProperty", "extra"];

type Mutation =
  | { kind: "replace"; choice: number }
  | { kind: "delete" }
  | { kind: "add"; name: number };

/** Applies `mutation` at `slot`; false when it does not apply there (the run is skipped). */
function mutate(slot: Slot, mutation: Mutation): boolean {
  const { parent, key } = slot;
  const current = (parent as Record<string | number, unknown>)[key];
  switch (mutation.kind) {
    case "replace": {
      const options = breakingReplacements(current);
      (parent as Record<string | number, unknown>)[key] = options[mutation.choice % options.length];
      return true;
    }
    case "delete":
      // Array items may come and go (a shorter status list is valid); so may optional fields.
      if (Array.isArray(parent) || optionalFields.has(key as string)) return false;
      delete parent[key as string];
      return true;
    case "add": {
      if (typeof current !== "object" || current === null || Array.isArray(current)) return false;
      const name = extraNames[mutation.name % extraNames.length] as string;
      if (Object.hasOwn(current, name)) return false;
      // defineProperty: assigning "__proto__" would set the prototype, not add a field.
      Object.defineProperty(current, name, { value: 1, enumerable: true, writable: true });
      return true;
    }
  }
}

test(
  "a valid message with one shape-breaking change is always refused",
  () => {
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.nat().map((choice): Mutation => ({ kind: "replace", choice })),
      fc.constant<Mutation>({ kind: "delete" }),
      fc.nat().map((name): Mutation => ({ kind: "add", name })),
    );
    fc.assert(
      fc.property(messageArb(), fc.nat(), mutation, (message, at, change) => {
        const raw = rawOf(message);
        const slots = slotsOf(raw);
        const slot = slots[at % slots.length] as Slot;
        fc.pre(mutate(slot, change));
        const result = parse(frameOf(raw));
        if (result.ok) throw new Error(`accepted after ${change.kind} at ${slot.path}`);
      }),
      parameters,
    );
  },
  timeoutMs,
);
