// The typed protocol nodes speak to each other (stage 2): one envelope for Raft messages, the
// data plane's requests and replies, and joins and removals, with the one encoder and the one
// parser of them. Nothing may act on a peer frame before parsePeerMessage has checked it and
// plausibleSender has accepted its sender. Pure: no I/O, no clock.
//
// Wire form: one ZMTP frame of UTF-8 JSON,
//   {"v":1,"from":<nodeId>,"to":<nodeId>,"kind":<kind>,"body":<body>}
// with exactly these fields. `to` is 0 only on join and remove, which are sent to an endpoint
// whose node id the sender may not know yet. Bodies:
//   raft          a Raft message, checked by the Raft codec (PeerLimits.decodeRaft); its own
//                 from/to must equal the envelope's
//   data-request  DataRequest (data-messages.ts), data-reply DataReply
//   join          {rid, member, rf, minInsync}  → join-reply   MembershipReply
//   remove        {rid, id}                     → remove-reply MembershipReply
// Joins and removals carry a request id like the data messages, so that a reply to an attempt
// that timed out is never taken for the answer to its retry.

import { parseTcpEndpoint } from "../util/endpoint.ts";
import { assert } from "../util/errors.ts";
import type { DataReply, DataRequest } from "./data-messages.ts";
import { parseDataReply, parseDataRequest, type DataLimits } from "./peer-data-parse.ts";
import {
  PeerInvalid,
  anyObject,
  boolean,
  describe,
  exactObject,
  integer,
  invalid,
  jsonDepthExceeds,
  list,
  oneOf,
  text,
} from "./peer-fields.ts";
import { PARTITIONS_MAX, RF_MAX, parseMember, type MemberRecord } from "./state.ts";

export { WRITER_CHARS_MAX, type DataLimits } from "./peer-data-parse.ts";
export { replyProblem } from "./peer-data-match.ts";

export const PEER_PROTOCOL_VERSION = 1;

/** The fields of a Raft message the envelope checks; everything else is the Raft codec's. */
export interface RaftAddressed {
  readonly from: number;
  readonly to: number;
}

export type RaftDecodeResult<R> = { ok: true; message: R } | { ok: false; error: string };

export interface PeerLimits<R extends RaftAddressed = RaftAddressed> extends DataLimits {
  /** Frames longer than this are refused before they are decoded. */
  readonly frameBytesMax: number;
  /** Members in one join or remove reply. */
  readonly membersMax: number;
  /**
   * Validates an already parsed Raft message, copying it; never throws on bad input. This is
   * lib/raft's validateMessage once the Raft core is on main.
   */
  readonly decodeRaft: (raw: unknown) => RaftDecodeResult<R>;
}

/** Defaults for every PeerLimits field that does not depend on the node's configuration. */
export const peerLimitDefaults = Object.freeze({
  // The ZMTP layer's message limit (socketDefaults.maxMessageBytes).
  frameBytesMax: 64 * 1024 * 1024,
  partitionsMax: PARTITIONS_MAX,
  changesMax: 10_000,
  // A copy page holds up to 1,000 current rows plus the keys changed since the copy's base
  // (bounded by the retained log); the bound is loose on purpose, the byte limit is the real one.
  rowsMax: 1_000_000,
  epochStartsMax: 100_000,
  membersMax: 1_000,
});

/** Deepest nesting of a valid frame is 6 (a Raft snapshot's voters); anything deeper is junk. */
export const JSON_DEPTH_MAX = 16;
/** Longest refusal message of a join or remove reply, in UTF-16 units. */
export const REPLY_MESSAGE_CHARS_MAX = 1024;
const ENDPOINT_CHARS_MAX = 256;

export interface JoinRequest {
  readonly rid: number;
  /** The joining node; must be the envelope's `from`. */
  readonly member: MemberRecord;
  /** The joiner's --rf, or null when it takes the cluster's. */
  readonly rf: number | null;
  readonly minInsync: number;
  /** The node has Raft state already: it restarted (maybe on new ports), it is not new. */
  readonly isRestart: boolean;
}

export interface RemoveRequest {
  readonly rid: number;
  /** The member to retire. */
  readonly id: number;
}

export interface LeaderHint {
  readonly id: number;
  readonly endpoint: string;
}

/** NOT_LEADER: ask the leader; BUSY: another membership change is under way, ask again. */
export type MembershipRefusal = "NOT_LEADER" | "BUSY" | "REFUSED";

/** The answer to a join or a removal. */
export type MembershipReply =
  | {
      readonly rid: number;
      readonly ok: true;
      readonly leaderId: number;
      /** All members, ascending by id. */
      readonly members: readonly MemberRecord[];
      readonly rf: number;
      readonly partitions: number;
    }
  | {
      readonly rid: number;
      readonly ok: false;
      readonly code: MembershipRefusal;
      readonly message: string;
      /** Where to ask instead; only with NOT_LEADER, and only when the leader is known. */
      readonly leader?: LeaderHint;
    };

interface Envelope<K extends string, B> {
  readonly from: number;
  readonly to: number;
  readonly kind: K;
  readonly body: B;
}

export type PeerMessage<R extends RaftAddressed = RaftAddressed> =
  | Envelope<"raft", R>
  | Envelope<"data-request", DataRequest>
  | Envelope<"data-reply", DataReply>
  | Envelope<"join", JoinRequest>
  | Envelope<"join-reply", MembershipReply>
  | Envelope<"remove", RemoveRequest>
  | Envelope<"remove-reply", MembershipReply>;

export type PeerKind = PeerMessage["kind"];

export const peerKinds: readonly PeerKind[] = Object.freeze([
  "raft",
  "data-request",
  "data-reply",
  "join",
  "join-reply",
  "remove",
  "remove-reply",
]);

export type PeerParseResult<R extends RaftAddressed = RaftAddressed> =
  | { readonly ok: true; readonly message: PeerMessage<R> }
  | { readonly ok: false; readonly error: string };

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/**
 * The frame of a message. The sender keeps batches within the receiver's frameBytesMax (a
 * value's JSON form can take up to 6 bytes per byte).
 */
export function encodePeerMessage<R extends RaftAddressed>(message: PeerMessage<R>): Uint8Array {
  const { from, to, kind, body } = message;
  return utf8Encoder.encode(JSON.stringify({ v: PEER_PROTOCOL_VERSION, from, to, kind, body }));
}

/**
 * Decodes and validates one frame from a peer. Never throws on any input: not UTF-8, not JSON,
 * too large, too deep, wrong shapes, out-of-range numbers and unexpected fields all come back
 * as an error naming the problem, for the node to log before it drops the frame.
 */
export function parsePeerMessage<R extends RaftAddressed>(
  frame: Uint8Array,
  limits: PeerLimits<R>,
): PeerParseResult<R> {
  checkLimits(limits);
  if (frame.length > limits.frameBytesMax) {
    return refuse(`frame of ${frame.length} bytes is over the limit of ${limits.frameBytesMax}`);
  }
  if (jsonDepthExceeds(frame, JSON_DEPTH_MAX)) {
    return refuse(`frame nests deeper than ${JSON_DEPTH_MAX} levels`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(utf8Decoder.decode(frame));
  } catch {
    return refuse("frame is not UTF-8 JSON");
  }
  try {
    return { ok: true, message: envelope(raw, limits) };
  } catch (error) {
    if (error instanceof PeerInvalid) return refuse(error.message);
    throw error;
  }
}

function refuse(error: string): { ok: false; error: string } {
  return { ok: false, error };
}

// Limits are the node's own configuration: a bad one is a programmer error, not bad input.
function checkLimits(limits: PeerLimits<RaftAddressed>): void {
  const { partitionsMax, partitions } = limits;
  assert(Number.isSafeInteger(partitionsMax), "partitionsMax must be an integer");
  assert(partitionsMax >= 1 && partitionsMax <= PARTITIONS_MAX, "partitionsMax out of range");
  assert(
    partitions === null ||
      (Number.isSafeInteger(partitions) && partitions >= 1 && partitions <= partitionsMax),
    "partitions must be null or between 1 and partitionsMax",
  );
  for (const name of ["frameBytesMax", "valueBytesMax", "changesMax", "rowsMax"] as const) {
    assert(Number.isSafeInteger(limits[name]) && limits[name] >= 1, `${name} must be positive`);
  }
  assert(Number.isSafeInteger(limits.epochStartsMax), "epochStartsMax must be an integer");
  assert(Number.isSafeInteger(limits.membersMax) && limits.membersMax >= 1, "membersMax");
}

function envelope<R extends RaftAddressed>(raw: unknown, limits: PeerLimits<R>): PeerMessage<R> {
  const fields = exactObject(raw, "message", ["v", "from", "to", "kind", "body"]);
  if (fields.v !== PEER_PROTOCOL_VERSION) {
    invalid(`message.v must be ${PEER_PROTOCOL_VERSION}, got ${describe(fields.v)}`);
  }
  const kind = oneOf(fields.kind, "message.kind", peerKinds);
  const from = integer(fields.from, "message.from", 1);
  const isToAnyone = kind === "join" || kind === "remove";
  const to = integer(fields.to, "message.to", isToAnyone ? 0 : 1);
  if (from === to) invalid(`message.from and message.to are both ${from}`);
  const { body } = fields;
  switch (kind) {
    case "raft":
      return { from, to, kind, body: raftBody(body, from, to, limits) };
    case "data-request":
      return { from, to, kind, body: parseDataRequest(body, limits) };
    case "data-reply":
      return { from, to, kind, body: parseDataReply(body, limits) };
    case "join":
      return { from, to, kind, body: joinBody(body, from) };
    case "remove": {
      const request = exactObject(body, "body", ["rid", "id"]);
      return {
        from,
        to,
        kind,
        body: { rid: integer(request.rid, "body.rid", 1), id: integer(request.id, "body.id", 1) },
      };
    }
    case "join-reply":
    case "remove-reply":
      return { from, to, kind, body: membershipReply(body, limits) };
  }
}

function raftBody<R extends RaftAddressed>(
  body: unknown,
  from: number,
  to: number,
  limits: PeerLimits<R>,
): R {
  const decoded = limits.decodeRaft(anyObject(body, "body"));
  if (!decoded.ok) invalid(`body: ${decoded.error}`);
  const { message } = decoded;
  // A Raft message speaks for its sender: one relayed under another node's name is refused.
  if (message.from !== from || message.to !== to) {
    const inner = `${message.from}/${message.to}`;
    invalid(`body.from/to (${inner}) differ from the envelope's (${from}/${to})`);
  }
  return message;
}

/** A member record with endpoints a client can dial (they are published in heartbeats). */
function member(value: unknown, path: string): MemberRecord {
  exactObject(value, path, ["id", "endpoint", "pub", "peer"]);
  const parsed = parseMember(value);
  if (!parsed.ok) invalid(`${path}: ${parsed.error}`);
  const record = parsed.value;
  if (parseTcpEndpoint(record.endpoint) === null) {
    invalid(`${path}.endpoint is not tcp://host:port`);
  }
  if (parseTcpEndpoint(record.pub) === null) invalid(`${path}.pub is not tcp://host:port`);
  if (parseTcpEndpoint(record.peer) === null) invalid(`${path}.peer is not tcp://host:port`);
  return record;
}

function joinBody(body: unknown, from: number): JoinRequest {
  const fields = exactObject(body, "body", ["rid", "member", "rf", "minInsync", "isRestart"]);
  const rid = integer(fields.rid, "body.rid", 1);
  const joining = member(fields.member, "body.member");
  if (joining.id !== from) invalid(`body.member.id ${joining.id} is not the sender ${from}`);
  const rf = fields.rf === null ? null : integer(fields.rf, "body.rf", 1, RF_MAX);
  const minInsync = integer(fields.minInsync, "body.minInsync", 1, rf ?? RF_MAX);
  const isRestart = boolean(fields.isRestart, "body.isRestart");
  return { rid, member: joining, rf, minInsync, isRestart };
}

function membershipReply(body: unknown, limits: PeerLimits<RaftAddressed>): MembershipReply {
  const shape = anyObject(body, "body");
  if (!Object.hasOwn(shape, "ok") || shape.ok !== true) return membershipRefusal(body);
  const names = ["rid", "ok", "leaderId", "members", "rf", "partitions"];
  const fields = exactObject(body, "body", names);
  const rid = integer(fields.rid, "body.rid", 1);
  const leaderId = integer(fields.leaderId, "body.leaderId", 1);
  const items = list(fields.members, "body.members", limits.membersMax);
  const members: MemberRecord[] = [];
  items.forEach((item, i) => {
    const record = member(item, `body.members[${i}]`);
    const before = members[i - 1];
    if (before !== undefined && record.id <= before.id) {
      invalid(`body.members[${i}].id must be above ${before.id} (members ascending by id)`);
    }
    const clash = members.find((m) => m.endpoint === record.endpoint || m.pub === record.pub);
    if (clash !== undefined) invalid(`body.members[${i}] shares an endpoint with ${clash.id}`);
    members.push(record);
  });
  if (!members.some((m) => m.id === leaderId)) invalid(`body.leaderId ${leaderId} is not a member`);
  const rf = integer(fields.rf, "body.rf", 1, RF_MAX);
  const partitions = integer(fields.partitions, "body.partitions", 1, limits.partitionsMax);
  return { rid, ok: true, leaderId, members, rf, partitions };
}

function membershipRefusal(body: unknown): MembershipReply {
  const fields = exactObject(body, "body", ["rid", "ok", "code", "message"], ["leader"]);
  if (fields.ok !== false) invalid("body.ok must be a boolean");
  const rid = integer(fields.rid, "body.rid", 1);
  const code = oneOf(fields.code, "body.code", ["NOT_LEADER", "BUSY", "REFUSED"] as const);
  const message = text(fields.message, "body.message", REPLY_MESSAGE_CHARS_MAX);
  if (!Object.hasOwn(fields, "leader")) return { rid, ok: false, code, message };
  if (code !== "NOT_LEADER") invalid("body.leader is only sent with NOT_LEADER");
  const hint = exactObject(fields.leader, "body.leader", ["id", "endpoint"]);
  const id = integer(hint.id, "body.leader.id", 1);
  const endpoint = text(hint.endpoint, "body.leader.endpoint", ENDPOINT_CHARS_MAX);
  if (parseTcpEndpoint(endpoint) === null) invalid("body.leader.endpoint is not tcp://host:port");
  return { rid, ok: false, code, message, leader: { id, endpoint } };
}

// ---- senders -----------------------------------------------------------------------------

/**
 * Whether a parsed message may be acted on here: it must be addressed to this node (or, for a
 * join or removal, to whoever listens), and come from a member this node knows (its
 * ClusterState's members; while joining, those of the join reply). Two kinds are exempt from
 * the member rule: a join, since the joiner is not a member yet and the leader's join rules
 * decide; and a join reply, since the joiner knows no members yet and matches the reply to its
 * own request by rid. A removed member is no longer known, so nothing it sends is acted on.
 */
export function plausibleSender<R extends RaftAddressed>(
  message: PeerMessage<R>,
  selfId: number,
  memberIds: Pick<ReadonlySet<number>, "has">,
): { ok: true } | { ok: false; error: string } {
  const isToAnyone = message.kind === "join" || message.kind === "remove";
  if (message.to !== selfId && !(isToAnyone && message.to === 0)) {
    const { kind, from, to } = message;
    return refuse(`${kind} from ${from} is addressed to ${to}, not ${selfId}`);
  }
  if (message.kind === "join" || message.kind === "join-reply") return { ok: true };
  if (!memberIds.has(message.from)) {
    return refuse(`${message.kind} from ${message.from}, which is not a member`);
  }
  return { ok: true };
}
