// Test fixtures for lib/cluster/peer-protocol.ts: small limits, a Raft decoder standing in for
// lib/raft's validateMessage (not on main yet: the protocol takes it as a parameter), and one
// valid message of every kind and body type. No I/O.

import type { DataReply, DataRequest } from "../../../lib/cluster/data-messages.ts";
import {
  peerLimitDefaults,
  type MembershipReply,
  type PeerLimits,
  type PeerMessage,
  type RaftDecodeResult,
} from "../../../lib/cluster/peer-protocol.ts";
import { keyOf } from "../store/rows.ts";

export const PARTITIONS = 8;
/** keyOf(n) is in partition n % PARTITIONS. */
export const P = 3;
export const keyIn = (n: number): string => keyOf(n * PARTITIONS + P);
export const LEADER = 1;
export const REPLICA = 2;

/** The Raft messages of these tests: a heartbeat with the fields the envelope relies on. */
export interface TestRaft {
  readonly type: "heartbeat";
  readonly from: number;
  readonly to: number;
  readonly term: number;
  readonly commit: number;
}

const raftFields = ["type", "from", "to", "term", "commit"];

/** Strict like the Raft codec: exact fields, positive ids, non-negative safe integers. */
export function decodeTestRaft(raw: unknown): RaftDecodeResult<TestRaft> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, error: "message must be an object" };
  }
  const keys = Object.keys(raw);
  if (keys.length !== raftFields.length || !keys.every((k) => raftFields.includes(k))) {
    return { ok: false, error: "message has the wrong fields" };
  }
  const { type, from, to, term, commit } = raw as Record<string, unknown>;
  if (type !== "heartbeat") return { ok: false, error: "unknown message type" };
  const counts = [from, to, term, commit];
  if (!counts.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) {
    return { ok: false, error: "from, to, term and commit must be non-negative safe integers" };
  }
  if (from === 0 || to === 0) return { ok: false, error: "node ids must be positive" };
  const message = { type, from, to, term, commit } as TestRaft;
  return { ok: true, message };
}

export const limits: PeerLimits<TestRaft> = {
  ...peerLimitDefaults,
  frameBytesMax: 64 * 1024,
  partitions: PARTITIONS,
  valueBytesMax: 64,
  changesMax: 16,
  rowsMax: 16,
  epochStartsMax: 8,
  membersMax: 8,
  decodeRaft: decodeTestRaft,
};

export type TestMessage = PeerMessage<TestRaft>;

const member = (id: number) => ({
  id,
  endpoint: `tcp://127.0.0.1:${7000 + id}`,
  pub: `tcp://127.0.0.1:${7100 + id}`,
  peer: `tcp://127.0.0.1:${7300 + id}`,
});

export const members = [member(1), member(2), member(3)];

const change = (seq: number, epoch: number, n: number, value: string | null) => ({
  seq,
  epoch,
  key: keyIn(n),
  value,
  writer: value === null ? null : `c${n}:${seq}`,
});
const row = (n: number, seq: number, epoch: number) => ({
  key: keyIn(n),
  partition: P,
  seq,
  epoch,
  value: `v${n}`,
  writer: null,
});
const common = { partition: P, epoch: 7 };

/** One of each request type, valid under `limits`. */
export const sampleRequests: DataRequest[] = [
  { type: "fence", rid: 1, ...common },
  {
    type: "replicate",
    rid: 2,
    ...common,
    prev: { epoch: 5, seq: 10 },
    changes: [change(11, 5, 1, "a"), change(12, 7, 2, null), change(13, 7, 1, "é✓😀")],
  },
  { type: "read", rid: 3, ...common, key: keyIn(4) },
  {
    type: "truncate",
    rid: 4,
    ...common,
    source: {
      base: { epoch: 2, seq: 4 },
      last: { epoch: 6, seq: 9 },
      epochs: [
        { epoch: 2, seq: 5 },
        { epoch: 6, seq: 8 },
      ],
    },
    expect: { epoch: 4, seq: 7 },
  },
  { type: "fetch", rid: 5, ...common, afterSeq: 3, limit: 16 },
  { type: "snapshot", rid: 6, ...common, base: null, afterKey: "" },
  { type: "snapshot", rid: 6, ...common, base: { epoch: 6, seq: 9 }, afterKey: keyIn(2) },
  {
    type: "install",
    rid: 7,
    ...common,
    base: { epoch: 6, seq: 9 },
    rows: [row(9, 9, 6), row(2, 3, 2)],
    expect: { epoch: 0, seq: 0 },
    first: true,
    last: false,
  },
  { type: "rows", rid: 8, ...common, afterKey: "", limit: 16 },
  { type: "rows", rid: 9, ...common, afterKey: keyIn(2), limit: 1 },
  { type: "writer", rid: 10, ...common, key: keyIn(4), writer: "client-7:42" },
  { type: "drop", rid: 11, ...common },
  { type: "key-changes", rid: 12, ...common, key: keyIn(1), afterSeq: 3, limit: 16 },
];

/** One of each reply type, valid under `limits`. */
export const sampleReplies: DataReply[] = [
  { type: "refused", rid: 1, reason: "stale-epoch", fenced: 9, last: { epoch: 0, seq: 0 } },
  {
    type: "fenced",
    rid: 2,
    summary: {
      base: { epoch: 0, seq: 0 },
      last: { epoch: 3, seq: 2 },
      epochs: [
        { epoch: 1, seq: 1 },
        { epoch: 3, seq: 2 },
      ],
      isCopying: false,
    },
  },
  { type: "replicated", rid: 3, last: { epoch: 7, seq: 13 }, statuses: ["created", "deleted"] },
  { type: "row", rid: 4, row: row(4, 12, 7), asOf: 12 },
  { type: "row", rid: 5, row: null, asOf: 0 },
  { type: "truncated", rid: 6, last: { epoch: 5, seq: 11 } },
  {
    type: "changes",
    rid: 7,
    changes: [
      { ...change(4, 2, 1, "x"), status: "created" },
      { ...change(5, 2, 1, null), status: "deleted" },
      { ...change(6, 3, 5, null), status: "not_found" },
    ],
    last: { epoch: 3, seq: 8 },
  },
  {
    type: "snapshot-rows",
    rid: 8,
    base: { epoch: 6, seq: 9 },
    rows: [row(2, 3, 2), row(9, 9, 6)],
    next: null,
  },
  {
    type: "snapshot-rows",
    rid: 8,
    base: { epoch: 6, seq: 9 },
    rows: [row(2, 3, 2)],
    next: keyIn(5),
  },
  { type: "installed", rid: 9, last: { epoch: 6, seq: 9 } },
  { type: "rows-page", rid: 10, rows: [row(1, 1, 1), row(2, 2, 1)] },
  { type: "rows-page", rid: 10, rows: [row(1, 1, 1)], more: true },
  { type: "writer-change", rid: 11, change: { ...change(8, 4, 6, "w"), status: "updated" } },
  { type: "writer-change", rid: 12, change: null },
  { type: "dropped", rid: 13 },
  {
    type: "key-changes",
    rid: 14,
    changes: [
      { ...change(4, 2, 1, "x"), status: "created" },
      { ...change(7, 3, 1, null), status: "deleted" },
    ],
    asOf: 9,
    base: 2,
    more: false,
    compacted: false,
  },
  { type: "key-changes", rid: 15, changes: [], asOf: 30, base: 20, more: false, compacted: true },
];

export const sampleMembershipReplies: MembershipReply[] = [
  { rid: 1, ok: true, leaderId: 1, members, rf: 2, partitions: PARTITIONS },
  {
    rid: 2,
    ok: false,
    code: "NOT_LEADER",
    message: "ask the leader",
    leader: { id: 1, endpoint: "tcp://127.0.0.1:7001" },
  },
  { rid: 3, ok: false, code: "NOT_LEADER", message: "no leader yet" },
  { rid: 4, ok: false, code: "REFUSED", message: "replication factor 3 differs from 2" },
];

/** A valid message of every kind, and of every body type within a kind. */
export function sampleMessages(): TestMessage[] {
  const from = LEADER;
  const to = REPLICA;
  return [
    { from, to, kind: "raft", body: { type: "heartbeat", from, to, term: 4, commit: 17 } },
    ...sampleRequests.map((body): TestMessage => ({ from, to, kind: "data-request", body })),
    ...sampleReplies.map((body): TestMessage => ({ from: to, to: from, kind: "data-reply", body })),
    {
      from: 4,
      to: 0,
      kind: "join",
      body: { rid: 1, member: member(4), rf: null, minInsync: 1, isRestart: false },
    },
    { from: 4, to: 1, kind: "join", body: { rid: 2, member: member(4), rf: 2, minInsync: 2, isRestart: true } },
    ...sampleMembershipReplies.map(
      (body): TestMessage => ({ from, to: 4, kind: "join-reply", body }),
    ),
    { from: 2, to: 0, kind: "remove", body: { rid: 3, id: 3 } },
    ...sampleMembershipReplies.map(
      (body): TestMessage => ({ from, to: 2, kind: "remove-reply", body }),
    ),
  ];
}

/** A message as its JSON value, to be changed by a test and encoded again. */
export function rawOf(message: TestMessage): Record<string, unknown> {
  const { from, to, kind, body } = message;
  return JSON.parse(JSON.stringify({ v: 1, from, to, kind, body })) as Record<string, unknown>;
}

const encoder = new TextEncoder();

export function frameOf(raw: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(raw));
}
