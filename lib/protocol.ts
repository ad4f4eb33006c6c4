// The client wire contract of docs/protocol.md: request, reply and heartbeat types, and their JSON
// encoding and validation. Node and client both use it. Pure: no I/O, no sockets; imports util
// only. Every decoder here takes untrusted bytes or values and never throws on them.
//
// Choices the contract leaves open:
// - Ops are matched case-sensitively, upper case only ("SET", not "set"), as docs/protocol.md
//   writes them; a lower-case op gets a BAD_REQUEST that names the right spelling.
// - Unknown request fields are ignored, so clients may add their own (e.g. tracing fields).
// - A value must be well-formed Unicode: a lone surrogate (possible through a "\ud800" escape) has
//   no UTF-8 form and could not be returned as stored, so it is refused with BAD_REQUEST.
// - A numeric id must be finite ("1e400" parses to Infinity, which JSON cannot echo back).
import { placementRuleOf, type PlacementRule } from "./placement.ts";
import { parseTcpEndpoint } from "./util/endpoint.ts";
import { assert, unreachable, type WireErrorCode } from "./util/errors.ts";
import { utf8ByteLength } from "./util/utf8.ts";
import { isCanonicalUuid4, isUuid4 } from "./util/uuid4.ts";

export type { WireErrorCode } from "./util/errors.ts";

/** All wire error codes of docs/protocol.md. */
export const wireErrorCodes: readonly WireErrorCode[] = Object.freeze([
  "NOT_LEADER",
  "INVALID_KEY",
  "BAD_REQUEST",
  "UNAVAILABLE",
  "TIMEOUT",
  "CONFLICT",
  "COMPACTED",
]);

export function isWireErrorCode(value: unknown): value is WireErrorCode {
  return typeof value === "string" && (wireErrorCodes as readonly string[]).includes(value);
}

// ---------------------------------------------------------------------------------------------
// Keys

/** A UUID version 4 key in canonical lower-case form, or null when `key` is not one. Upper case
 * is accepted. Nil and max UUIDs are not version 4 and are refused. */
export function normalizeKey(key: unknown): string | null {
  return isUuid4(key) ? key.toLowerCase() : null;
}

// ---------------------------------------------------------------------------------------------
// Requests

/** Chosen by the client and echoed in the reply. */
export type RequestId = string | number;

export const requestOps = Object.freeze(
  ["SET", "GET", "DELETE", "HEARTBEAT", "SCAN", "COUNT", "REMOVE", "WATCH"] as const,
);
const requestOpsText = "SET, GET, DELETE, HEARTBEAT, SCAN, COUNT, REMOVE or WATCH";
export type RequestOp = (typeof requestOps)[number];

/**
 * What lets a retried write report its first attempt's outcome: `writer` names the operation
 * (the same on every attempt, unique per client: e.g. "<client id>:<counter>"), `retry` says an
 * earlier attempt may have happened.
 */
export interface WriteIdentity {
  readonly writer?: string;
  readonly retry?: boolean;
}

/**
 * Compare-and-set: the write happens only if the key's current version equals `ifVersion`
 * (0: the key must not exist); otherwise the reply is CONFLICT with the current `version`.
 */
export interface WriteCondition {
  readonly ifVersion?: number;
}

export interface SetRequest extends WriteIdentity, WriteCondition {
  readonly id: RequestId;
  readonly op: "SET";
  /** Canonical (lower-case) UUID4. */
  readonly key: string;
  readonly value: string;
  /** The key is deleted this many ms after the write (a change of its own, with a version). */
  readonly ttlMs?: number;
}
export interface GetRequest {
  readonly id: RequestId;
  readonly op: "GET";
  readonly key: string;
}
export interface DeleteRequest extends WriteIdentity, WriteCondition {
  readonly id: RequestId;
  readonly op: "DELETE";
  readonly key: string;
}
export interface HeartbeatRequest {
  readonly id: RequestId;
  readonly op: "HEARTBEAT";
}
export interface ScanRequest {
  readonly id: RequestId;
  readonly op: "SCAN";
  readonly cursor: ScanCursor;
  readonly count: number;
  /** Items carry only their key (KEYS), not the value. */
  readonly keysOnly: boolean;
}
export interface CountRequest {
  readonly id: RequestId;
  readonly op: "COUNT";
}
/** Retire a dead member for good: its partitions are placed on the others. */
export interface RemoveRequest {
  readonly id: RequestId;
  readonly op: "REMOVE";
  readonly member: number;
}
/** A key's changes after version `since` (all of them still in the change log); without
 * `since`, none: only the version to watch from. */
export interface WatchRequest {
  readonly id: RequestId;
  readonly op: "WATCH";
  readonly key: string;
  readonly since?: number;
}
export type ClientRequest =
  | WatchRequest
  | SetRequest
  | GetRequest
  | DeleteRequest
  | HeartbeatRequest
  | ScanRequest
  | CountRequest
  | RemoveRequest;

// ---------------------------------------------------------------------------------------------
// SCAN cursors

/** Where a SCAN resumes: after key `afterKey` ("" = from the start) of `partition`. */
export interface ScanCursor {
  readonly partition: number;
  readonly afterKey: string;
}

/** The cursor that starts a scan, and the one a reply carries when the scan is complete. */
export const scanCursorDone = "0";
export const scanCountDefault = 10;
export const scanCountMax = 1000;

/** A cursor's wire form: "0" to start, else "<partition>:<last key returned>" (the key may be
 * empty: start of that partition). Null when `text` is not one. */
export function parseScanCursor(text: string): ScanCursor | null {
  if (text === scanCursorDone) return { partition: 0, afterKey: "" };
  const match = /^(\d{1,9}):(.*)$/.exec(text);
  if (match === null) return null;
  const afterKey = match[2] ?? "";
  if (afterKey !== "" && !isCanonicalUuid4(afterKey)) return null;
  return { partition: Number(match[1]), afterKey };
}

/** The wire form of a cursor; null (scan complete) is "0". */
export function formatScanCursor(cursor: ScanCursor | null): string {
  return cursor === null ? scanCursorDone : `${cursor.partition}:${cursor.afterKey}`;
}

export interface RequestLimits {
  /** Largest value accepted, in UTF-8 bytes. */
  readonly valueBytesMax: number;
}

export type ParseRequestResult =
  | { readonly ok: true; readonly request: ClientRequest }
  | {
      readonly ok: false;
      /** The request's id when it had a valid one, so the error reply can echo it. */
      readonly id: RequestId | null;
      readonly code: WireErrorCode;
      readonly message: string;
    };

type JsonObject = { readonly [field: string]: unknown };

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for a valid request id: a string, or a finite number. */
export function isRequestId(value: unknown): value is RequestId {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}

// Parses UTF-8 JSON (a leading BOM is tolerated); an error text when it is not valid UTF-8 JSON.
function decodeJson(frame: Uint8Array): { value: unknown } | { error: string } {
  let text: string;
  try {
    text = utf8Decoder.decode(frame);
  } catch {
    return { error: "request is not valid UTF-8" };
  }
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { error: "request is not valid JSON" };
  }
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

function badRequest(id: RequestId | null, message: string): ParseRequestResult {
  return { ok: false, id, code: "BAD_REQUEST", message };
}

function parseOp(id: RequestId, op: unknown): RequestOp | ParseRequestResult {
  if (op === undefined) {
    return badRequest(id, `request has no "op" (${requestOpsText})`);
  }
  if (typeof op !== "string") {
    return badRequest(id, `"op" must be a string, got ${describeType(op)}`);
  }
  const known = requestOps.find((candidate) => candidate === op);
  if (known !== undefined) return known;
  const shown = JSON.stringify(op.length > 40 ? `${op.slice(0, 40)}...` : op);
  const upper = requestOps.find((candidate) => candidate === op.toUpperCase());
  const hint = upper !== undefined ? ` (ops are upper case: use "${upper}")` : "";
  return badRequest(id, `unknown op ${shown}${hint}; expected ${requestOpsText}`);
}

// A required string field, or BAD_REQUEST naming it when it is missing or not a string.
function requireString(
  id: RequestId,
  request: JsonObject,
  field: string,
): string | ParseRequestResult {
  const value = request[field];
  if (value === undefined) return badRequest(id, `request has no "${field}"`);
  if (typeof value !== "string") {
    return badRequest(id, `"${field}" must be a string, got ${describeType(value)}`);
  }
  return value;
}

function checkValue(
  id: RequestId,
  value: string,
  limits: RequestLimits,
): ParseRequestResult | null {
  const valueBytes = utf8ByteLength(value);
  if (valueBytes === null) {
    return badRequest(id, '"value" is not well-formed Unicode (it holds a lone surrogate)');
  }
  if (valueBytes > limits.valueBytesMax) {
    return badRequest(
      id,
      `"value" is too large: ${valueBytes} bytes, the limit is ${limits.valueBytesMax} bytes`,
    );
  }
  return null;
}

// The fields of an op with a known id: shape first (BAD_REQUEST: every field present, of the
// right type, within limits), then meaning (INVALID_KEY), so a client learns about the
// malformed request before the bad key.
function parseFields(
  id: RequestId,
  op: RequestOp,
  request: JsonObject,
  limits: RequestLimits,
): ParseRequestResult {
  if (op === "HEARTBEAT" || op === "COUNT") return { ok: true, request: { id, op } };
  if (op === "SCAN") return parseScanFields(id, request);
  if (op === "REMOVE") {
    const member = request["member"];
    if (!Number.isSafeInteger(member) || (member as number) < 1) {
      return badRequest(id, `"member" must be a node id (a positive integer)`);
    }
    return { ok: true, request: { id, op, member: member as number } };
  }
  const rawKey = requireString(id, request, "key");
  if (typeof rawKey !== "string") return rawKey;
  let value = "";
  if (op === "SET") {
    const rawValue = requireString(id, request, "value");
    if (typeof rawValue !== "string") return rawValue;
    const sizeProblem = checkValue(id, rawValue, limits);
    if (sizeProblem !== null) return sizeProblem;
    value = rawValue;
  }
  const key = normalizeKey(rawKey);
  if (key === null) {
    return { ok: false, id, code: "INVALID_KEY", message: "key is not a valid UUID4" };
  }
  if (op === "WATCH") return parseWatchFields(id, key, request);
  if (op === "GET") return { ok: true, request: { id, op, key } };
  const identity = parseWriteIdentity(id, request);
  if ("ok" in identity) return identity;
  const condition = parseCondition(id, request);
  if ("ok" in condition) return condition;
  switch (op) {
    case "SET": {
      const ttl = parseTtl(id, request);
      if (typeof ttl !== "number" && ttl !== null) return ttl;
      const ttlField = ttl === null ? {} : { ttlMs: ttl };
      return { ok: true, request: { id, op, key, value, ...identity, ...condition, ...ttlField } };
    }
    case "DELETE":
      return { ok: true, request: { id, op, key, ...identity, ...condition } };
    default:
      return unreachable(op);
  }
}

/** Longest TTL accepted: 30 days, in ms. */
export const ttlMsMax = 30 * 24 * 3600 * 1000;

// A write's optional `ifVersion`: a version (a non-negative safe integer; 0 = absent).
function parseCondition(id: RequestId, request: JsonObject): WriteCondition | ParseRequestResult {
  const ifVersion = request["ifVersion"];
  if (ifVersion === undefined || ifVersion === null) return {};
  if (!Number.isSafeInteger(ifVersion) || (ifVersion as number) < 0) {
    return badRequest(id, `"ifVersion" must be a version (an integer >= 0; 0: the key is absent)`);
  }
  return { ifVersion: ifVersion as number };
}

// SET's optional `ttlMs`: 1 ms to 30 days.
function parseTtl(id: RequestId, request: JsonObject): number | null | ParseRequestResult {
  const ttl = request["ttlMs"];
  if (ttl === undefined || ttl === null) return null;
  if (!Number.isSafeInteger(ttl) || (ttl as number) < 1 || (ttl as number) > ttlMsMax) {
    return badRequest(id, `"ttlMs" must be an integer from 1 to ${ttlMsMax} (30 days)`);
  }
  return ttl as number;
}

// WATCH's optional `since`: a version (a non-negative integer).
function parseWatchFields(id: RequestId, key: string, request: JsonObject): ParseRequestResult {
  const since = request["since"] ?? null;
  if (since === null) return { ok: true, request: { id, op: "WATCH", key } };
  if (!Number.isSafeInteger(since) || (since as number) < 0) {
    return badRequest(id, `"since" must be a version (a non-negative integer)`);
  }
  return { ok: true, request: { id, op: "WATCH", key, since: since as number } };
}

/** Longest `writer` accepted, in characters. */
export const writerCharsMax = 128;

// A write's optional `writer` (a short printable string) and `retry` (a boolean).
function parseWriteIdentity(
  id: RequestId,
  request: JsonObject,
): WriteIdentity | ParseRequestResult {
  const writer = request["writer"] ?? null;
  if (writer !== null && (typeof writer !== "string" || !/^[\x21-\x7e]{1,128}$/.test(writer))) {
    return badRequest(id, `"writer" must be 1 to ${writerCharsMax} printable ASCII characters`);
  }
  const retry = request["retry"] ?? false;
  if (typeof retry !== "boolean") {
    return badRequest(id, `"retry" must be a boolean, got ${describeType(retry)}`);
  }
  return { ...(writer === null ? {} : { writer }), ...(retry ? { retry } : {}) };
}

// SCAN's optional cursor (default "0") and count (default 10, at most scanCountMax).
function parseScanFields(id: RequestId, request: JsonObject): ParseRequestResult {
  const rawCursor = request["cursor"] ?? scanCursorDone;
  if (typeof rawCursor !== "string") {
    return badRequest(id, `"cursor" must be a string, got ${describeType(rawCursor)}`);
  }
  const cursor = parseScanCursor(rawCursor);
  if (cursor === null) {
    return badRequest(id, `"cursor" ${JSON.stringify(rawCursor.slice(0, 60))} is not a cursor ` +
      'a SCAN reply gave ("0" starts a scan)');
  }
  const count = request["count"] ?? scanCountDefault;
  if (!Number.isSafeInteger(count) || (count as number) < 1 || (count as number) > scanCountMax) {
    return badRequest(id, `"count" must be an integer from 1 to ${scanCountMax}`);
  }
  const keysOnly = request["keysOnly"] ?? false;
  if (typeof keysOnly !== "boolean") {
    return badRequest(id, `"keysOnly" must be a boolean, got ${describeType(keysOnly)}`);
  }
  return { ok: true, request: { id, op: "SCAN", cursor, count: count as number, keysOnly } };
}

/**
 * Decodes and validates one request frame (the JSON frame after any envelope). Never throws:
 * every problem comes back as BAD_REQUEST or INVALID_KEY with a message naming the field, and
 * with the request's id when it had a valid one.
 */
export function parseRequest(frame: Uint8Array, limits: RequestLimits): ParseRequestResult {
  const decoded = decodeJson(frame);
  if ("error" in decoded) return badRequest(null, decoded.error);
  const request = decoded.value;
  if (!isJsonObject(request)) {
    return badRequest(null, `request must be a JSON object, got ${describeType(request)}`);
  }
  const id = request["id"];
  if (id === undefined) return badRequest(null, 'request has no "id" (a string or a number)');
  if (!isRequestId(id)) {
    return badRequest(null, `"id" must be a string or a finite number, got ${describeType(id)}`);
  }
  const op = parseOp(id, request["op"]);
  if (typeof op !== "string") return op;
  return parseFields(id, op, request, limits);
}

/** The request as its JSON frame (client side). */
export function encodeRequest(request: ClientRequest): Uint8Array {
  // A parsed SCAN holds its cursor as an object; the wire carries the cursor's text form.
  if (request.op === "SCAN") {
    return encodeJson({ ...request, cursor: formatScanCursor(request.cursor) });
  }
  return encodeJson(request);
}

// ---------------------------------------------------------------------------------------------
// Replies

export interface OkReply {
  readonly id: RequestId | null;
  readonly ok: true;
  readonly [field: string]: unknown;
}

export interface ReplyError {
  readonly code: WireErrorCode;
  readonly message: string;
  readonly [field: string]: unknown;
}

export interface ErrorReply {
  readonly id: RequestId | null;
  readonly ok: false;
  readonly error: ReplyError;
}

export type Reply = OkReply | ErrorReply;

/** A node's address in a NOT_LEADER hint or a heartbeat's `leader`. */
export interface LeaderInfo {
  readonly id: number;
  readonly endpoint: string;
}

/** Ok-reply fields of each op (docs/protocol.md "Client requests"). */
export interface SetResult {
  readonly status: "created" | "updated";
  /** How many replicas acknowledged the write. */
  readonly replicas: number;
}
export type GetResult =
  | { readonly found: true; readonly value: string }
  | { readonly found: false };
export interface DeleteResult {
  readonly status: "deleted" | "not_found";
  readonly replicas: number;
}

const reservedReplyFields = ["id", "ok", "error"] as const;

/** A success reply: `{id, ok: true, ...fields}`, e.g. fields a SetResult or a HeartbeatInfo.
 * `fields` must not use id, ok or error (a programmer error). */
export function okReply(id: RequestId | null, fields: object): OkReply {
  for (const reserved of reservedReplyFields) {
    assert(!Object.hasOwn(fields, reserved), `okReply: field "${reserved}" is reserved`);
  }
  return { id, ok: true, ...fields };
}

/** A failure reply: `{id, ok: false, error: {code, message, ...extra}}`, e.g. extra
 * `{leader: {id, endpoint}}` for NOT_LEADER. */
export function errorReply(
  id: RequestId | null,
  code: WireErrorCode,
  message: string,
  extra: object = {},
): ErrorReply {
  return { id, ok: false, error: { ...extra, code, message } };
}

/** UTF-8 JSON bytes of a reply, request or heartbeat. Lone surrogates are escaped by
 * JSON.stringify, so the output is always valid UTF-8. */
export function encodeJson(value: unknown): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(value));
}

/** Decodes and validates a reply frame (client side). Null when it is not a well-formed reply:
 * not JSON, no valid id (null is allowed), no boolean ok, or an error without a known code or
 * a string message. */
export function parseReply(frame: Uint8Array): Reply | null {
  const decoded = decodeJson(frame);
  if ("error" in decoded) return null;
  const reply = decoded.value;
  if (!isJsonObject(reply)) return null;
  const id = reply["id"];
  if (id !== null && !isRequestId(id)) return null;
  if (reply["ok"] === true) return { ...reply, id, ok: true };
  if (reply["ok"] !== false) return null;
  const error = reply["error"];
  if (!isJsonObject(error)) return null;
  const code = error["code"];
  const message = error["message"];
  if (!isWireErrorCode(code) || typeof message !== "string") return null;
  return { id, ok: false, error: { ...error, code, message } };
}

function isNonNegativeCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** The fields of an ok reply to SET, or null when they are malformed. */
export function parseSetResult(reply: OkReply): SetResult | null {
  const status = reply["status"];
  const replicas = reply["replicas"];
  if (status !== "created" && status !== "updated") return null;
  if (!isNonNegativeCount(replicas)) return null;
  return { status, replicas };
}

/** The fields of an ok reply to GET, or null when they are malformed. */
export function parseGetResult(reply: OkReply): GetResult | null {
  const found = reply["found"];
  const value = reply["value"];
  if (found === false) return { found };
  if (found !== true || typeof value !== "string") return null;
  return { found, value };
}

/** The fields of an ok reply to DELETE, or null when they are malformed. */
export function parseDeleteResult(reply: OkReply): DeleteResult | null {
  const status = reply["status"];
  const replicas = reply["replicas"];
  if (status !== "deleted" && status !== "not_found") return null;
  if (!isNonNegativeCount(replicas)) return null;
  return { status, replicas };
}

function isNodeId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

function isConnectEndpoint(value: unknown): value is string {
  return typeof value === "string" && parseTcpEndpoint(value) !== null;
}

/** A `{id, endpoint}` object from untrusted input, or null. */
export function parseLeaderInfo(value: unknown): LeaderInfo | null {
  if (!isJsonObject(value)) return null;
  const id = value["id"];
  const endpoint = value["endpoint"];
  if (!isNodeId(id) || !isConnectEndpoint(endpoint)) return null;
  return { id, endpoint };
}

/** The leader hint of a NOT_LEADER reply, or null when there is none or it is malformed. */
export function leaderHintOf(reply: ErrorReply): LeaderInfo | null {
  if (reply.error.code !== "NOT_LEADER") return null;
  return parseLeaderInfo(reply.error["leader"]);
}

// ---------------------------------------------------------------------------------------------
// Heartbeats

/** The PUB/SUB topic of heartbeats: the first frame of each heartbeat message. */
export const HEARTBEAT_TOPIC = "hb";

export const nodeRoles = Object.freeze(["leader", "follower", "candidate", "joining"] as const);
export type NodeRole = (typeof nodeRoles)[number];

export interface MemberInfo {
  readonly id: number;
  /** Request endpoint (ROUTER), "tcp://host:port". */
  readonly endpoint: string;
  /** Publish endpoint (PUB), "tcp://host:port". */
  readonly pub: string;
  /** Whether the sending node currently sees this member as alive. */
  readonly alive: boolean;
}

/** The heartbeat object of docs/protocol.md; also the ok-reply fields of HEARTBEAT. */
export interface HeartbeatInfo {
  readonly node: { readonly id: number; readonly endpoint: string; readonly pub: string };
  readonly role: NodeRole;
  readonly term: number;
  readonly leader: LeaderInfo | null;
  readonly rf: number;
  readonly partitions: number;
  /**
   * How the cluster places partitions (docs/protocol.md, Placement); null when the node names a
   * rule this client does not know. Nodes before the field existed place by rendezvous.
   */
  readonly placement: PlacementRule | null;
  readonly members: readonly MemberInfo[];
}

function parseMemberInfo(value: unknown): MemberInfo | null {
  if (!isJsonObject(value)) return null;
  const { id, endpoint, pub, alive } = value;
  if (!isNodeId(id) || !isConnectEndpoint(endpoint) || !isConnectEndpoint(pub)) return null;
  if (typeof alive !== "boolean") return null;
  return { id, endpoint, pub, alive };
}

function parseMembers(value: unknown): MemberInfo[] | null {
  if (!Array.isArray(value)) return null;
  const members: MemberInfo[] = [];
  const ids = new Set<number>();
  for (const item of value) {
    const member = parseMemberInfo(item);
    // Duplicate ids would make placement ambiguous, so such a list is refused whole.
    if (member === null || ids.has(member.id)) return null;
    ids.add(member.id);
    members.push(member);
  }
  return members;
}

function isRole(value: unknown): value is NodeRole {
  return typeof value === "string" && (nodeRoles as readonly string[]).includes(value);
}

/**
 * Validates a heartbeat object from untrusted input (a heartbeat message or a HEARTBEAT reply)
 * and returns a fresh copy holding only the known fields, or null when anything is malformed.
 * Extra fields are allowed and dropped. Never throws.
 */
export function parseHeartbeat(value: unknown): HeartbeatInfo | null {
  if (!isJsonObject(value)) return null;
  const { node, role, term, leader, rf, partitions, placement, members } = value;
  if (!isJsonObject(node)) return null;
  const { id, endpoint, pub } = node;
  if (!isNodeId(id) || !isConnectEndpoint(endpoint) || !isConnectEndpoint(pub)) return null;
  if (!isRole(role) || !isNonNegativeCount(term)) return null;
  const leaderInfo = leader === null ? null : parseLeaderInfo(leader);
  if (leader !== null && leaderInfo === null) return null;
  if (!isNodeId(rf) || !isNodeId(partitions)) return null;
  const memberList = parseMembers(members);
  if (memberList === null) return null;
  return {
    node: { id, endpoint, pub },
    role,
    term,
    leader: leaderInfo,
    rf,
    partitions,
    placement: placementRuleOf(placement),
    members: memberList,
  };
}

/** A heartbeat as its two PUB frames: the topic and the JSON object. */
export function encodeHeartbeat(info: HeartbeatInfo): [Uint8Array, Uint8Array] {
  return [utf8Encoder.encode(HEARTBEAT_TOPIC), encodeJson(info)];
}

/** Decodes a heartbeat message received on SUB, or null when it is not one or is malformed. */
export function decodeHeartbeat(frames: readonly Uint8Array[]): HeartbeatInfo | null {
  if (frames.length !== 2) return null;
  const [topic, body] = frames;
  if (topic === undefined || body === undefined) return null;
  if (topic.length !== 2 || topic[0] !== 0x68 || topic[1] !== 0x62) return null;
  const decoded = decodeJson(body);
  if ("error" in decoded) return null;
  return parseHeartbeat(decoded.value);
}

// ---------------------------------------------------------------------------------------------
// WATCH feed

/** Topic prefix of the change feed: `w/<key>` carries one key's changes, `w/` all of them. */
export const WATCH_TOPIC_PREFIX = "w/";

/** The feed topic of one key (canonical, lower case). */
export function watchTopic(key: string): string {
  return `${WATCH_TOPIC_PREFIX}${key}`;
}

/** Topic prefix of the per-partition feed. */
export const PARTITION_WATCH_TOPIC_PREFIX = "p/";

/** The feed topic of a partition's changes: `p/<partition>/<key>`; subscribe to its prefix. */
export function partitionWatchTopic(partition: number, key: string): string {
  return `${PARTITION_WATCH_TOPIC_PREFIX}${partition}/${key}`;
}

/** One committed change, as the feed publishes it and WATCH answers it. */
export type WatchChange =
  | { readonly key: string; readonly op: "SET"; readonly value: string; readonly version: number }
  | { readonly key: string; readonly op: "DELETE"; readonly version: number };

/** The feed object of a change: `value` null is a delete. */
export function watchChange(key: string, value: string | null, version: number): WatchChange {
  return value === null ? { key, op: "DELETE", version } : { key, op: "SET", value, version };
}

/** A change object from untrusted input, or null when it is malformed. Never throws. */
export function parseWatchChange(value: unknown): WatchChange | null {
  if (!isJsonObject(value)) return null;
  const { key, op, version } = value;
  if (typeof key !== "string" || normalizeKey(key) !== key) return null;
  if (!Number.isSafeInteger(version) || (version as number) < 1) return null;
  if (op === "DELETE") return { key, op, version: version as number };
  if (op !== "SET" || typeof value["value"] !== "string") return null;
  return { key, op, value: value["value"], version: version as number };
}

/** A feed message received on SUB (topic, object), or null when it is not one. */
export function decodeWatchMessage(frames: readonly Uint8Array[]): WatchChange | null {
  if (frames.length !== 2) return null;
  const [topic, body] = frames;
  if (topic === undefined || body === undefined) return null;
  if (topic[0] !== 0x77 && topic[0] !== 0x70) return null; // "w/..." or "p/..."
  const decoded = decodeJson(body);
  return "error" in decoded ? null : parseWatchChange(decoded.value);
}
