// Answers client requests (docs/protocol.md): validates them, serves HEARTBEAT anywhere, sends
// followers' callers to the leader, and runs SET/GET/DELETE through the leader's coordinator.
// Every error a client can cause becomes a reply with a docs/protocol.md code, never an exception.
import { KvError } from "../util/errors.ts";
import {
  type ErrorReply,
  type OkReply,
  type ClientRequest,
  type RequestId,
  errorReply,
  isRequestId,
  isWireErrorCode,
  okReply,
  parseRequest,
} from "../protocol.ts";
import { bytesToString } from "../zmtp/index.ts";
import type { WarehouseNode } from "./node.ts";

export async function handleClientRequest(node: WarehouseNode, body: Uint8Array): Promise<unknown> {
  const started = performance.now();
  const parsed = parseRequest(body, { valueBytesMax: node.settings.valueBytesMax });
  if (!parsed.ok) {
    node.recorder.request("invalid", parsed.code, (performance.now() - started) / 1000);
    return errorReply(parsed.id, parsed.code, parsed.message);
  }
  const reply = await answer(node, parsed.request);
  const outcome = reply.ok ? "ok" : reply.error.code;
  node.recorder.request(parsed.request.op, outcome, (performance.now() - started) / 1000);
  return reply;
}

async function answer(node: WarehouseNode, request: ClientRequest): Promise<OkReply | ErrorReply> {
  if (request.op === "HEARTBEAT") return okReply(request.id, { ...node.heartbeatInfo() });
  const coordinator = node.coordinator;
  if (coordinator === null) {
    const leaderId = node.membership.leaderId;
    const leader = leaderId === null ? undefined : node.membership.member(leaderId);
    if (leader === undefined) {
      const message = "no leader is elected at the moment; retry shortly";
      return errorReply(request.id, "UNAVAILABLE", message);
    }
    const message = `node ${node.settings.id} is not the leader; node ${leader.id} is`;
    return errorReply(request.id, "NOT_LEADER", message, {
      leader: { id: leader.id, endpoint: leader.endpoint },
    });
  }
  try {
    switch (request.op) {
      case "SET": {
        const { existed, replicas } = await coordinator.write(request.key, request.value);
        return okReply(request.id, { status: existed ? "updated" : "created", replicas });
      }
      case "DELETE": {
        const row = await coordinator.read(request.key);
        if (row === undefined || row.value === null) {
          return okReply(request.id, { status: "not_found", replicas: 0 });
        }
        const { existed, replicas } = await coordinator.write(request.key, null);
        return okReply(request.id, { status: existed ? "deleted" : "not_found", replicas });
      }
      case "GET": {
        const row = await coordinator.read(request.key);
        return row === undefined || row.value === null
          ? okReply(request.id, { found: false })
          : okReply(request.id, { found: true, value: row.value });
      }
    }
  } catch (error) {
    if (error instanceof KvError && isWireErrorCode(error.code)) {
      return errorReply(request.id, error.code, error.message);
    }
    node.log.error("request_error", { error: String(error) });
    return errorReply(request.id, "UNAVAILABLE", "internal error; the operation did not complete");
  }
}

/** The id of a request that could not be handled, when its body has a usable one. */
export function requestIdOf(body: Uint8Array): RequestId | null {
  try {
    const id: unknown = (JSON.parse(bytesToString(body)) as { id?: unknown } | null)?.id;
    return isRequestId(id) ? id : null;
  } catch {
    return null;
  }
}
