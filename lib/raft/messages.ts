// Raft messages on the wire: JSON encode, and a decode that validates every field before
// anything acts on it. A malformed or hostile message is refused with a reason, never thrown
// and never trusted. Pure: no I/O.
import type {
  ConfChange, ConfState, Entry, HardState, Message, MessageType, Snapshot,
} from "./types.ts";

/** Bounds on what a peer may send (style.md B6). */
export const messageLimits = {
  entriesPerMessageMax: 10_000,
  entryDataCharsMax: 4 * 1024 * 1024,
  snapshotDataCharsMax: 256 * 1024 * 1024,
  votersMax: 1_000,
  messageCharsMax: 512 * 1024 * 1024,
} as const;

const messageTypes: readonly MessageType[] = [
  "append", "append-response", "vote", "vote-response", "pre-vote", "pre-vote-response",
  "heartbeat", "heartbeat-response", "snapshot", "timeout-now",
];

export function encodeMessage(message: Message): string {
  return JSON.stringify(message);
}

export type DecodeResult = { ok: true; message: Message } | { ok: false; error: string };

export function decodeMessage(text: string): DecodeResult {
  if (text.length > messageLimits.messageCharsMax) {
    return { ok: false, error: `message of ${text.length} characters is too large` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: "message is not valid JSON" };
  }
  return validateMessage(raw);
}

class Invalid extends Error {}

function fail(message: string): never {
  throw new Invalid(message);
}

type Fields = Record<string, unknown>;

function record(value: unknown, what: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`${what} must be an object`);
  }
  return value as Fields;
}

function count(fields: Fields, name: string): number {
  const value = fields[name];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    fail(`${name} must be a non-negative safe integer`);
  }
  return value;
}

function nodeId(fields: Fields, name: string): number {
  const value = count(fields, name);
  if (value === 0) fail(`${name} must be a positive node id`);
  return value;
}

function flag(fields: Fields, name: string): boolean {
  const value = fields[name];
  if (typeof value !== "boolean") fail(`${name} must be a boolean`);
  return value;
}

function text(fields: Fields, name: string, charsMax: number): string {
  const value = fields[name];
  if (typeof value !== "string") fail(`${name} must be a string`);
  if (value.length > charsMax) fail(`${name} is longer than ${charsMax} characters`);
  return value;
}

function entry(value: unknown): Entry {
  const fields = record(value, "entry");
  const type = fields.type;
  if (type !== "normal" && type !== "conf-change") fail("entry type must be normal or conf-change");
  const term = count(fields, "term");
  const index = count(fields, "index");
  if (term === 0 || index === 0) fail("entry term and index must be positive");
  return { term, index, type, data: text(fields, "data", messageLimits.entryDataCharsMax) };
}

function entries(fields: Fields, prevIndex: number, prevTerm: number, term: number): Entry[] {
  const list = fields.entries;
  if (!Array.isArray(list)) fail("entries must be an array");
  if (list.length > messageLimits.entriesPerMessageMax) fail("too many entries");
  const result: Entry[] = [];
  let index = prevIndex;
  let lastTerm = prevTerm;
  for (const item of list) {
    const parsed = entry(item);
    index += 1;
    if (parsed.index !== index) fail(`entries must be contiguous after ${prevIndex}`);
    // Terms never decrease along a log, and no entry is newer than the leader sending it.
    if (parsed.term < lastTerm) fail(`entry ${index} has a term below its predecessor's`);
    if (parsed.term > term) fail(`entry ${index} has a term above the message's`);
    lastTerm = parsed.term;
    result.push(parsed);
  }
  return result;
}

export function validateConfState(value: unknown): ConfState {
  const fields = record(value, "confState");
  const voters = fields.voters;
  if (!Array.isArray(voters)) fail("voters must be an array");
  if (voters.length > messageLimits.votersMax) fail("too many voters");
  const result: number[] = [];
  for (const voter of voters) {
    if (typeof voter !== "number" || !Number.isSafeInteger(voter) || voter <= 0) {
      fail("a voter must be a positive node id");
    }
    const previous = result[result.length - 1];
    if (previous !== undefined && voter <= previous) fail("voters must be sorted and distinct");
    result.push(voter);
  }
  return { voters: result };
}

function snapshot(value: unknown): Snapshot {
  const fields = record(value, "snapshot");
  const meta = record(fields.meta, "snapshot meta");
  const index = count(meta, "index");
  const term = count(meta, "term");
  if ((index === 0) !== (term === 0)) fail("snapshot index and term must both be zero or not");
  return {
    meta: { index, term, confState: validateConfState(meta.confState) },
    data: text(fields, "data", messageLimits.snapshotDataCharsMax),
  };
}

/** Validates an already parsed value as a Message; every field is checked and copied. */
export function validateMessage(raw: unknown): DecodeResult {
  try {
    return { ok: true, message: build(record(raw, "message")) };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, error: error.message };
    throw error;
  }
}

function build(fields: Fields): Message {
  const type = fields.type;
  if (typeof type !== "string" || !messageTypes.includes(type as MessageType)) {
    fail("unknown message type");
  }
  const base = {
    from: nodeId(fields, "from"), to: nodeId(fields, "to"), term: count(fields, "term"),
  };
  if (base.from === base.to) fail("a message cannot be addressed to its sender");
  switch (type as MessageType) {
    case "append": {
      const index = count(fields, "index");
      const logTerm = count(fields, "logTerm");
      if (logTerm > base.term) fail("logTerm is above the message's term");
      const list = entries(fields, index, logTerm, base.term);
      const commit = count(fields, "commit");
      return { type: "append", ...base, index, logTerm, entries: list, commit };
    }
    case "append-response":
      return {
        type: "append-response", ...base, index: count(fields, "index"),
        reject: flag(fields, "reject"), rejectHint: count(fields, "rejectHint"),
        logTerm: count(fields, "logTerm"),
      };
    case "vote":
    case "pre-vote":
      return {
        type: type as "vote" | "pre-vote", ...base, lastLogIndex: count(fields, "lastLogIndex"),
        lastLogTerm: count(fields, "lastLogTerm"), force: flag(fields, "force"),
      };
    case "vote-response":
    case "pre-vote-response":
      return {
        type: type as "vote-response" | "pre-vote-response", ...base,
        reject: flag(fields, "reject"),
      };
    case "heartbeat":
      return {
        type: "heartbeat", ...base, commit: count(fields, "commit"), round: count(fields, "round"),
      };
    case "heartbeat-response":
      return { type: "heartbeat-response", ...base, round: count(fields, "round") };
    case "snapshot":
      return { type: "snapshot", ...base, snapshot: snapshot(fields.snapshot) };
    case "timeout-now":
      return { type: "timeout-now", ...base };
  }
  fail("unknown message type");
}

/** Encodes a membership change for a conf-change entry's data. */
export function encodeConfChange(change: ConfChange): string {
  return JSON.stringify({ type: change.type, nodeId: change.nodeId, context: change.context });
}

export function decodeConfChange(data: string): ConfChange | null {
  try {
    const fields = record(JSON.parse(data), "conf change");
    const type = fields.type;
    if (type !== "add-voter" && type !== "remove-voter") return null;
    return { type, nodeId: nodeId(fields, "nodeId"), context: text(fields, "context", 1 << 20) };
  } catch {
    return null;
  }
}

/** Validates a hard state read back from storage (pair assertion of style.md B6). */
export function isValidHardState(state: HardState): boolean {
  return [state.term, state.vote, state.commit].every((v) => Number.isSafeInteger(v) && v >= 0);
}
