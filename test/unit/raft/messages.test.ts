// The Raft message codec: every message type survives encode/decode unchanged, and malformed
// or hostile input (truncated, wrong types, unsafe integers, non-contiguous entries, oversized)
// is refused with a reason instead of being trusted or thrown.
import { describe, expect, test } from "bun:test";
import {
  decodeConfChange, decodeMessage, encodeConfChange, encodeMessage, type Message, messageLimits,
} from "../../../lib/raft/index.ts";

const entry = (index: number, term: number, data = "x") => ({ term, index, type: "normal", data });

const samples: Message[] = [
  { type: "append", from: 1, to: 2, term: 3, index: 4, logTerm: 2, commit: 4,
    entries: [{ term: 3, index: 5, type: "normal", data: "a" },
      { term: 3, index: 6, type: "conf-change", data: "{}" }] },
  { type: "append", from: 1, to: 2, term: 3, index: 0, logTerm: 0, commit: 0, entries: [] },
  { type: "append-response", from: 2, to: 1, term: 3, index: 6, reject: true, rejectHint: 4,
    logTerm: 2 },
  { type: "vote", from: 1, to: 2, term: 3, lastLogIndex: 6, lastLogTerm: 3, force: true },
  { type: "pre-vote", from: 1, to: 2, term: 3, lastLogIndex: 6, lastLogTerm: 3, force: false },
  { type: "vote-response", from: 2, to: 1, term: 3, reject: false },
  { type: "pre-vote-response", from: 2, to: 1, term: 3, reject: true },
  { type: "heartbeat", from: 1, to: 2, term: 3, commit: 5, round: 7 },
  { type: "heartbeat-response", from: 2, to: 1, term: 3, round: 7 },
  { type: "snapshot", from: 1, to: 2, term: 3,
    snapshot: { meta: { index: 9, term: 2, confState: { voters: [1, 2, 3] } },
      data: "{\"k\":1}" } },
  { type: "timeout-now", from: 1, to: 2, term: 3 },
];

describe("encode/decode", () => {
  for (const message of samples) {
    test(`${message.type} round-trips`, () => {
      expect(decodeMessage(encodeMessage(message))).toEqual({ ok: true, message });
    });
  }

  test("unknown fields are dropped, not carried along", () => {
    const text = JSON.stringify({ ...samples[7], extra: "x".repeat(10) });
    expect(decodeMessage(text)).toEqual({ ok: true, message: samples[7] as Message });
  });

  test("conf changes round-trip and bad ones decode to null", () => {
    const change = { type: "add-voter", nodeId: 4, context: "tcp://x" } as const;
    expect(decodeConfChange(encodeConfChange(change))).toEqual(change);
    expect(decodeConfChange("{")).toBeNull();
    expect(decodeConfChange(JSON.stringify({ ...change, type: "add-learner" }))).toBeNull();
    expect(decodeConfChange(JSON.stringify({ ...change, nodeId: 0 }))).toBeNull();
  });
});

const append = { type: "append", from: 1, to: 2, term: 3, index: 4, logTerm: 2, commit: 4,
  entries: [entry(5, 3)] };

const refused: [string, unknown, RegExp][] = [
  ["not JSON", "{\"type\":", /not valid JSON/],
  ["an array", [], /must be an object/],
  ["null", null, /must be an object/],
  ["an unknown type", { ...append, type: "install" }, /unknown message type/],
  ["a missing field", { ...append, commit: undefined }, /commit must be/],
  ["a string where a number belongs", { ...append, term: "3" }, /term must be/],
  ["a negative index", { ...append, index: -1 }, /index must be/],
  ["a fractional term", { ...append, term: 1.5 }, /term must be/],
  ["an unsafe integer", { ...append, commit: 2 ** 53 }, /commit must be/],
  ["node id zero", { ...append, from: 0 }, /from must be a positive node id/],
  ["a message to its sender", { ...append, to: 1 }, /addressed to its sender/],
  ["logTerm above term", { ...append, logTerm: 4 }, /logTerm is above/],
  ["a gap in entries", { ...append, entries: [entry(6, 3)] }, /contiguous/],
  ["entries out of order", { ...append, entries: [entry(5, 3), entry(5, 3)] }, /contiguous/],
  ["an entry term going back", { ...append, entries: [entry(5, 3), entry(6, 2)] }, /below/],
  ["an entry below logTerm", { ...append, entries: [entry(5, 1)] }, /below/],
  ["an entry from a future term", { ...append, entries: [entry(5, 4)] }, /above the message/],
  ["an entry of unknown type", { ...append, entries: [{ ...entry(5, 3), type: "x" }] }, /type/],
  ["entry data not a string", { ...append, entries: [{ ...entry(5, 3), data: 1 }] }, /data/],
  ["a boolean as a number", { type: "vote-response", from: 2, to: 1, term: 1, reject: 1 },
    /reject must be a boolean/],
  ["an oversized entry", { ...append, entries: [entry(5, 3, "x".repeat(
    messageLimits.entryDataCharsMax + 1))] }, /longer than/],
  ["unsorted voters", { type: "snapshot", from: 1, to: 2, term: 3, snapshot: { meta: {
    index: 9, term: 2, confState: { voters: [2, 1] } }, data: "" } }, /sorted/],
  ["a snapshot index without term", { type: "snapshot", from: 1, to: 2, term: 3, snapshot: {
    meta: { index: 9, term: 0, confState: { voters: [1] } }, data: "" } }, /both be zero/],
];

describe("decode refuses malformed input", () => {
  for (const [what, value, reason] of refused) {
    test(what, () => {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      const result = decodeMessage(text);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(reason);
    });
  }

  test("too many entries", () => {
    const entries = Array.from({ length: messageLimits.entriesPerMessageMax + 1 },
      (_, i) => entry(5 + i, 3));
    const result = decodeMessage(JSON.stringify({ ...append, entries }));
    expect(result).toEqual({ ok: false, error: "too many entries" });
  });

  test("every truncation of a valid message is refused, never thrown", () => {
    const text = encodeMessage(samples[0] as Message);
    for (let length = 0; length < text.length; length++) {
      expect(decodeMessage(text.slice(0, length)).ok).toBe(false);
    }
  });
});
