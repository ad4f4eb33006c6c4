// Answers the node-to-node requests that arrive on the ROUTER next to client requests. Every
// field is checked here: a peer is still the network.
import type { WarehouseNode } from "./node.ts";
import { parseRow } from "./replica.ts";
import { answerPeerCount, answerPeerScan } from "./scan.ts";
import type { StoredRow } from "../store/index.ts";
import { parseTcpEndpoint } from "../util/endpoint.ts";

export type PeerOp =
  | "PEER_JOIN"
  | "PEER_REPLICATE"
  | "PEER_READ"
  | "PEER_PAGE"
  | "PEER_CATCHUP"
  | "PEER_SCAN"
  | "PEER_COUNT";
const peerOps: readonly string[] = [
  "PEER_JOIN",
  "PEER_REPLICATE",
  "PEER_READ",
  "PEER_PAGE",
  "PEER_CATCHUP",
  "PEER_SCAN",
  "PEER_COUNT",
];

export interface PeerRequest {
  id: unknown;
  op: PeerOp;
  [field: string]: unknown;
}

export function isPeerOp(value: unknown): value is PeerRequest {
  return (
    typeof value === "object" &&
    value !== null &&
    peerOps.includes(String((value as { op?: unknown }).op))
  );
}

const PAGE_ROWS_MAX = 4096;

function ok(id: unknown, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, ok: true, ...fields };
}

function refuse(id: unknown, code: string, message: string): Record<string, unknown> {
  return { id, ok: false, error: { code, message } };
}

export async function handlePeerRequest(
  node: WarehouseNode,
  req: PeerRequest,
): Promise<Record<string, unknown>> {
  const partitions = node.state.partitions;
  switch (req.op) {
    case "PEER_JOIN":
      return join(node, req);
    case "PEER_REPLICATE": {
      const term = req["term"];
      const rows = req["rows"];
      if (!Number.isSafeInteger(term) || !Array.isArray(rows) || rows.length === 0) {
        return refuse(req.id, "BAD_REQUEST", "PEER_REPLICATE needs term and rows");
      }
      // Terms only grow: a write stamped by a deposed leader is refused.
      if ((term as number) < node.membership.term) {
        return refuse(req.id, "STALE_TERM", `term ${term} is older than ${node.membership.term}`);
      }
      node.observeTerm(term as number);
      const parsed = rows.map((r) => parseRow(r, partitions));
      if (parsed.some((r) => r === null)) return refuse(req.id, "BAD_REQUEST", "malformed row");
      const results = await node.replica.apply(parsed as StoredRow[]);
      return ok(req.id, { results });
    }
    case "PEER_READ": {
      const key = req["key"];
      if (typeof key !== "string") return refuse(req.id, "BAD_REQUEST", "PEER_READ needs key");
      return ok(req.id, { row: node.replica.read(key) ?? null });
    }
    case "PEER_PAGE": {
      const { partition, after, limit } = req;
      const a = after as { term?: unknown; seq?: unknown } | null;
      if (
        !Number.isSafeInteger(partition) ||
        (partition as number) < 0 ||
        (partition as number) >= partitions ||
        typeof a !== "object" ||
        a === null ||
        !Number.isSafeInteger(a.term) ||
        !Number.isSafeInteger(a.seq) ||
        !Number.isSafeInteger(limit) ||
        (limit as number) < 1
      ) {
        return refuse(req.id, "BAD_REQUEST", "PEER_PAGE needs partition, after and limit");
      }
      const rows = node.replica.page(
        partition as number,
        { term: a.term as number, seq: a.seq as number },
        Math.min(limit as number, PAGE_ROWS_MAX),
      );
      return ok(req.id, { rows });
    }
    case "PEER_SCAN":
    case "PEER_COUNT": {
      const answer = (req.op === "PEER_SCAN" ? answerPeerScan : answerPeerCount)(
        node.replica,
        partitions,
        req,
      );
      return answer.ok ? ok(req.id, answer.fields) : refuse(req.id, "BAD_REQUEST", answer.message);
    }
    case "PEER_CATCHUP": {
      const { node: nodeId, partition } = req;
      if (!Number.isSafeInteger(nodeId) || !Number.isSafeInteger(partition)) {
        return refuse(req.id, "BAD_REQUEST", "PEER_CATCHUP needs node and partition");
      }
      const coordinator = node.coordinator;
      if (coordinator === null) return refuse(req.id, "NOT_LEADER", "not the leader");
      try {
        await coordinator.catchUp(nodeId as number, partition as number);
        return ok(req.id);
      } catch (error) {
        return refuse(req.id, "UNAVAILABLE", String(error));
      }
    }
  }
}

/**
 * Admits a node unless its RF differs, or its id or endpoint belongs to another live member.
 * A restarted node (same id) is welcome back, on its old endpoint or a new one.
 */
function join(node: WarehouseNode, req: PeerRequest): Record<string, unknown> {
  const n = req["node"] as { id?: unknown; endpoint?: unknown; pub?: unknown } | null;
  // A malformed endpoint admitted here would be persisted and published in every heartbeat,
  // where clients reject it: the cluster would become unusable through one bad request.
  if (
    typeof n !== "object" ||
    n === null ||
    !Number.isSafeInteger(n.id) ||
    (n.id as number) < 1 ||
    typeof n.endpoint !== "string" ||
    parseTcpEndpoint(n.endpoint) === null ||
    typeof n.pub !== "string" ||
    parseTcpEndpoint(n.pub) === null
  ) {
    return refuse(req.id, "BAD_REQUEST", "PEER_JOIN needs node {id, endpoint, pub}");
  }
  const id = n.id as number;
  const rf = req["rf"];
  if (rf !== null && rf !== undefined && rf !== node.state.rf) {
    return refuse(
      req.id,
      "RF_MISMATCH",
      `replication factor ${String(rf)} differs from ` +
        `the cluster's replication factor ${node.state.rf}`,
    );
  }
  // Checked here, before admitting: the joining node cannot know the RF until we answer.
  const minInsync = req["minInsync"];
  if (typeof minInsync === "number" && minInsync > node.state.rf) {
    return refuse(
      req.id,
      "MIN_INSYNC_ABOVE_RF",
      `--min-insync ${minInsync} is more than the ` +
        `cluster's replication factor ${node.state.rf}: no write could ever be acknowledged`,
    );
  }
  if (id === node.settings.id) {
    return refuse(
      req.id,
      "DUPLICATE_ID",
      `node id ${id} is already taken by the live member at ${node.endpoint}`,
    );
  }
  for (const m of node.membership.members()) {
    if (!node.membership.isAlive(m.id)) continue;
    if (m.id === id && m.endpoint !== n.endpoint) {
      return refuse(
        req.id,
        "DUPLICATE_ID",
        `node id ${id} is already taken by the live member at ${m.endpoint}`,
      );
    }
    if (m.id !== id && (m.endpoint === n.endpoint || m.pub === n.pub)) {
      return refuse(
        req.id,
        "DUPLICATE_ENDPOINT",
        `endpoint ${n.endpoint} is already used by live node ${m.id}`,
      );
    }
  }
  const member = { id, endpoint: n.endpoint, pub: n.pub };
  node.admit(member);
  return ok(req.id, {
    rf: node.state.rf,
    partitions: node.state.partitions,
    term: node.membership.term,
    members: node.membership.members(),
  });
}
