// Answers client requests (protocol.md): validates them, serves HEARTBEAT on any node, and hands
// SET/GET/DELETE to the node core, which answers NOT_LEADER on a follower. Every error a client
// can cause becomes a reply with a protocol.md code, never an exception. The context is narrow:
// what a client handler needs of a node, nothing more.

import {
  errorReply,
  okReply,
  parseRequest,
  type ClientRequest,
  type Reply,
  type RequestId,
} from "../protocol.ts";
import type { OpsRecorder } from "../ops/index.ts";
import type { ClientOp, ClientResult } from "./node-core.ts";

export interface ClientContext {
  readonly valueBytesMax: number;
  /** Where each answered request is counted and timed (metrics). */
  readonly recorder: OpsRecorder;
  heartbeat(): object;
  /** Runs an operation through the node core; `done` runs exactly once. */
  run(op: ClientOp, done: (result: ClientResult) => void): void;
  /** Whether this node hears member `id`'s heartbeats. */
  isAlive(id: number): boolean;
}

/** Handles one request frame; `reply` runs exactly once with the answer. */
export function handleClientRequest(
  context: ClientContext,
  body: Uint8Array,
  answer: (reply: Reply) => void,
): void {
  const started = performance.now();
  const parsed = parseRequest(body, { valueBytesMax: context.valueBytesMax });
  const op = parsed.ok ? parsed.request.op : "invalid";
  const reply = (r: Reply): void => {
    const outcome = r.ok ? "ok" : r.error.code;
    context.recorder.request(op, outcome, (performance.now() - started) / 1000);
    answer(r);
  };
  if (!parsed.ok) return reply(errorReply(parsed.id, parsed.code, parsed.message));
  const request = parsed.request;
  if (request.op === "HEARTBEAT") return reply(okReply(request.id, context.heartbeat()));
  const coreOp: ClientOp =
    request.op === "REMOVE"
      ? { op: "REMOVE", member: request.member, isAlive: context.isAlive(request.member) }
      : clientOp(request);
  context.run(coreOp, (result) => {
    if (result.ok) return reply(okReply(request.id, result.fields));
    const extra =
      result.leader !== undefined
        ? { leader: { id: result.leader.id, endpoint: result.leader.endpoint } }
        : result.version !== undefined
          ? { version: result.version }
          : result.oldest !== undefined
            ? { oldest: result.oldest }
            : undefined;
    reply(errorReply(request.id, result.code, result.message, extra));
  });
}

function clientOp(request: Exclude<ClientRequest, { op: "HEARTBEAT" | "REMOVE" }>): ClientOp {
  switch (request.op) {
    case "SET":
      return {
        op: "SET",
        key: request.key,
        value: request.value,
        writer: request.writer ?? null,
        isRetry: request.retry === true,
        ...(request.ifVersion === undefined ? {} : { ifVersion: request.ifVersion }),
        ...(request.ttlMs === undefined ? {} : { ttlMs: request.ttlMs }),
      };
    case "DELETE":
      return {
        op: "DELETE",
        key: request.key,
        writer: request.writer ?? null,
        isRetry: request.retry === true,
        ...(request.ifVersion === undefined ? {} : { ifVersion: request.ifVersion }),
      };
    case "GET":
      return { op: "GET", key: request.key };
    case "SCAN":
      return { op: "SCAN", cursor: request.cursor, count: request.count, keysOnly: request.keysOnly };
    case "COUNT":
      return { op: "COUNT" };
    case "WATCH":
      return { op: "WATCH", key: request.key, since: request.since ?? null };
  }
}

/**
 * Answers a request that was over the message limit and read past without being kept:
 * BAD_REQUEST naming both sizes. The id is looked for in the excerpt kept of the request (its
 * first and last KiB), where a client's encoder puts it; without it the reply's id is null.
 */
export function answerOversized(
  context: Pick<ClientContext, "recorder" | "valueBytesMax">,
  excerpt: Uint8Array,
  size: { bytes: number; limit: number },
  answer: (reply: Reply) => void,
): void {
  const message =
    `request of ${size.bytes} bytes is over the limit of ${size.limit} bytes ` +
    `(values up to ${context.valueBytesMax} bytes fit)`;
  context.recorder.request("invalid", "BAD_REQUEST", 0);
  answer(errorReply(requestIdIn(excerpt), "BAD_REQUEST", message));
}

const excerptDecoder = new TextDecoder();
/**
 * `"id": <number or string>` as a member of an object: preceded by `{` or `,`. Inside a JSON
 * string every quote is escaped, so a value cannot fake this.
 */
const ID_MEMBER = /[{,]\s*"id"\s*:\s*(-?\d[\d.eE+-]*|"(?:[^"\\]|\\.)*")/;

/** The request id found in an excerpt of a request's JSON, or null. */
export function requestIdIn(excerpt: Uint8Array): RequestId | null {
  const match = ID_MEMBER.exec(excerptDecoder.decode(excerpt));
  if (match === null) return null;
  try {
    const id: unknown = JSON.parse(match[1] as string);
    if (typeof id === "string") return id;
    if (typeof id === "number" && Number.isFinite(id)) return id;
  } catch {
    // Cut at the excerpt's edge: no usable id.
  }
  return null;
}
