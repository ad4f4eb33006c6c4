// What the HTTP endpoints and the status page need to know about a node, as an interface the
// node implements with a small adapter, so the cluster's internals can change behind it. Also
// the readiness rule and the recent-events ring. Pure: no I/O, no clock (times are passed in).

export type NodeRole = "leader" | "follower" | "candidate" | "joining";

export interface MemberStatus {
  readonly id: number;
  readonly endpoint: string;
  /** Its HTTP base URL as it advertised it, or null when unknown or served nowhere. */
  readonly http: string | null;
  readonly alive: boolean;
}

/** This node's copy of a partition: the newest version it holds. */
export interface Position {
  readonly term: number;
  readonly seq: number;
}

export interface PartitionStatus {
  readonly partition: number;
  /** The nodes placement puts it on, best first. */
  readonly replicas: readonly number[];
  /** The nodes known to hold every acknowledged write of it. */
  readonly insync: readonly number[];
  /** This node's position, or null when it holds no copy. */
  readonly position: Position | null;
  /** The leader's last sequence number for it (only on the leader). */
  readonly head: number | null;
}

export interface NodeStatus {
  readonly id: number;
  readonly version: string;
  readonly endpoint: string;
  readonly pub: string;
  readonly http: string | null;
  readonly role: NodeRole;
  readonly term: number;
  readonly leader: { readonly id: number; readonly endpoint: string } | null;
  readonly caughtUp: boolean;
  readonly rf: number;
  readonly partitionCount: number;
  readonly members: readonly MemberStatus[];
  readonly partitions: readonly PartitionStatus[];
  /** Partitions placed on this node that it does not hold in sync yet. */
  readonly laggingPartitions: number;
}

/** Numbers read rather than counted: queues and connections, at the moment of asking. */
export interface NodeGauges {
  /** Writes waiting for the next group commit. */
  readonly commitQueueRows: number;
  /** Requests sent to each peer and not answered yet. */
  readonly peerPendingRequests: ReadonlyMap<number, number>;
  /** Open connections on the request socket (clients and peers). */
  readonly requestConnections: number;
  /** Heartbeat subscribers connected to this node. */
  readonly publishConnections: number;
  /** Client requests read and not yet answered. */
  readonly clientRequestsInFlight: number;
  /** Bytes held for clients: requests in flight, replies queued or not yet written. */
  readonly clientBufferBytes: number;
}

/** Implemented by the node (an adapter over its internals); read on every request. */
export interface NodeStatusSource {
  status(): NodeStatus;
  gauges(): NodeGauges;
}

export type Readiness =
  | { readonly ready: true }
  | { readonly ready: false; readonly reason: string };

/**
 * Ready means a client sent here is served or redirected correctly and this node holds what it
 * should: a leader is known and this node is caught up on every partition placed on it.
 */
export function readinessOf(status: NodeStatus | null): Readiness {
  if (status === null) return { ready: false, reason: "starting: not yet a member of a cluster" };
  if (status.leader === null) return { ready: false, reason: "no leader known yet" };
  if (!status.caughtUp) {
    return { ready: false, reason: "catching up: joining the cluster, copying its partitions" };
  }
  if (status.laggingPartitions > 0) {
    return {
      ready: false,
      reason: `catching up: ${status.laggingPartitions} partitions not yet in sync on this node`,
    };
  }
  return { ready: true };
}

/**
 * How many writes `node` is behind the leader, summed over the partitions placement gives it:
 * the leader's head minus the node's position, per partition. Null when the leader's view is
 * not at hand. Sequence numbers grow across terms, so the difference counts writes.
 */
export function lagOf(node: NodeStatus, leader: NodeStatus | null): number | null {
  if (leader === null || leader.role !== "leader") return null;
  let lag = 0;
  for (const head of leader.partitions) {
    const mine = node.partitions[head.partition];
    if (head.head === null || mine === undefined || !mine.replicas.includes(node.id)) continue;
    lag += Math.max(0, head.head - (mine.position?.seq ?? 0));
  }
  return lag;
}

export type ClusterEventKind =
  | "started"
  | "leader_changed"
  | "member_added"
  | "member_up"
  | "member_down";

export interface ClusterEvent {
  /** Wall-clock time in milliseconds since the epoch. */
  readonly ts: number;
  readonly kind: ClusterEventKind;
  readonly text: string;
}

/** The newest events, oldest dropped first. */
export class EventLog {
  private readonly events: ClusterEvent[] = [];
  constructor(private readonly eventsMax: number) {}

  add(event: ClusterEvent): void {
    this.events.push(event);
    if (this.events.length > this.eventsMax) this.events.shift();
  }

  /** Newest first. */
  recent(): ClusterEvent[] {
    return [...this.events].reverse();
  }
}
