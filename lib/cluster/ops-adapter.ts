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
import type { WarehouseNode } from "./node.ts";

export function opsSourceOf(node: WarehouseNode, version: string): NodeStatusSource {
  return {
    status: () => statusOf(node, version),
    gauges: (): NodeGauges => {
      const counts = node.queueAndConnectionCounts();
      return {
        commitQueueRows: counts.commitQueueRows,
        peerPendingRequests: counts.peerPending,
        requestConnections: counts.request,
        publishConnections: counts.publish,
        clientRequestsInFlight: counts.clientRequestsInFlight,
        clientBufferBytes: counts.clientBufferBytes,
      };
    },
  };
}

function statusOf(node: WarehouseNode, version: string): NodeStatus {
  const view = node.opsView();
  const { state, heartbeat } = view;
  const id = node.settings.id;
  const members: MemberStatus[] = heartbeat.members.map((m) => ({
    id: m.id,
    endpoint: m.endpoint,
    http: m.id === id ? node.settings.http : (node.peerHttp.get(m.id) ?? null),
    alive: m.id === id || m.alive,
  }));
  const partitions: PartitionStatus[] = [];
  let lagging = 0;
  for (let p = 0; p < state.partitions; p++) {
    const replicas = [...state.placement(p)];
    const insync = [...state.insync(p)];
    if (replicas.includes(id) && !insync.includes(id)) lagging++;
    const last = view.position(p);
    partitions.push({
      partition: p,
      replicas,
      insync,
      position: last === null ? null : { term: last.epoch, seq: last.seq },
      head: view.head(p),
    });
  }
  return {
    id,
    version,
    endpoint: node.endpoint,
    pub: node.pub,
    http: node.settings.http,
    role: heartbeat.role,
    term: heartbeat.term,
    leader: heartbeat.leader,
    caughtUp: state.isBootstrapped,
    rf: heartbeat.rf,
    partitionCount: heartbeat.partitions,
    members,
    partitions,
    laggingPartitions: lagging,
  };
}
