// Answers client requests (protocol.md): validates them, serves HEARTBEAT on any node, and hands
// SET/GET/DELETE to the node core, which answers NOT_LEADER on a follower. Every error a client
// can cause becomes a reply with a protocol.md code, never an exception. The context is narrow:
// what a client handler needs of a node, nothing more.

import { errorReply, okReply, parseRequest, type Reply } from "../protocol.ts";
import type { ClientOp, ClientResult } from "./node-core.ts";

export interface ClientContext {
  readonly valueBytesMax: number;
  heartbeat(): object;
  /** Runs an operation through the node core; `done` runs exactly once. */
  run(op: ClientOp, done: (result: ClientResult) => void): void;
}

/** Handles one request frame; `reply` runs exactly once with the answer. */
export function handleClientRequest(
  context: ClientContext,
  body: Uint8Array,
  reply: (answer: Reply) => void,
): void {
  const parsed = parseRequest(body, { valueBytesMax: context.valueBytesMax });
  if (!parsed.ok) return reply(errorReply(parsed.id, parsed.code, parsed.message));
  const request = parsed.request;
  if (request.op === "HEARTBEAT") return reply(okReply(request.id, context.heartbeat()));
  const writer = null;
  const op: ClientOp =
    request.op === "SET"
      ? { op: "SET", key: request.key, value: request.value, writer }
      : request.op === "DELETE"
        ? { op: "DELETE", key: request.key, writer }
        : { op: "GET", key: request.key };
  context.run(op, (result) => {
    if (result.ok) return reply(okReply(request.id, result.fields));
    const extra =
      result.leader === undefined
        ? undefined
        : { leader: { id: result.leader.id, endpoint: result.leader.endpoint } };
    reply(errorReply(request.id, result.code, result.message, extra));
  });
}
