// The ops area's public API: the HTTP server, metrics and the interfaces the node implements.
export { OpsServer, type OpsServerOptions, type ClusterNodeView } from "./http-server.ts";
export { NodeMetrics, latencyBoundsSeconds } from "./node-metrics.ts";
export { type OpsRecorder, nullRecorder } from "./recorder.ts";
export {
  type MemberStatus,
  type NodeGauges,
  type NodeRole,
  type NodeStatus,
  type NodeStatusSource,
  type PartitionStatus,
  type Position,
  type Readiness,
  readinessOf,
} from "./status.ts";
export {
  type InterfaceAddress,
  checkAdvertised,
  chooseAdvertise,
  machineInterfaces,
} from "./host-addresses.ts";
