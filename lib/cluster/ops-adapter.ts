// The node as the ops area sees it (NodeStatusSource): members, leader, term, role, partitions
// with replicas, in-sync sets and positions. The one place that reads node internals for /status,
// /ready, /metrics and the page; when the node's internals change, only this file follows.
import type {
  MemberStatus,
  NodeGauges,
  NodeStatus,
  NodeStatusSource,
  PartitionStatus,
} from "../ops/index.ts";
import { replicasOf } from "../placement.ts";
import type { WarehouseNode } from "./node.ts";

export function opsSourceOf(node: WarehouseNode, version: string): NodeStatusSource {
  return {
    status: () => statusOf(node, version),
    gauges: (): NodeGauges => {
      const counts = node.queueAndConnectionCounts();
      return {
        commitQueueRows: counts.commitQueueRows,
        peerPendingRequests: node.peers.pendingCounts(),
        requestConnections: counts.request,
        publishConnections: counts.publish,
      };
    },
  };
}

function statusOf(node: WarehouseNode, version: string): NodeStatus {
  const info = node.heartbeatInfo();
  const id = node.settings.id;
  const members: MemberStatus[] = info.members.map((m) => ({
    id: m.id,
    endpoint: m.endpoint,
    http: m.id === id ? node.settings.http : (node.peerHttp.get(m.id) ?? null),
    alive: m.id === id || m.alive,
  }));
  const ids = node.membership.memberIds();
  const positions = node.store.positions();
  const coordinator = node.coordinator;
  const partitions: PartitionStatus[] = [];
  for (let p = 0; p < node.state.partitions; p++) {
    const position = positions.get(p);
    partitions.push({
      partition: p,
      replicas: replicasOf(p, ids, node.state.rf),
      insync: [...(node.knownInsync[p] ?? [])],
      position: position === undefined ? null : { term: position.term, seq: position.seq },
      head: coordinator === null ? null : coordinator.headSeq(p),
    });
  }
  return {
    id,
    version,
    endpoint: node.endpoint,
    pub: node.pub,
    http: node.settings.http,
    role: info.role,
    term: info.term,
    leader: info.leader,
    caughtUp: info.caughtUp,
    rf: info.rf,
    partitionCount: info.partitions,
    members,
    partitions,
    laggingPartitions: node.lagging().length,
  };
}
