// The heartbeat object (protocol.md) as this node sees the cluster: who it is, its role and
// term, the leader, RF and partitions, every member with its liveness and whether it is in sync
// for every partition placement gives it, and, on the leader, each partition's in-sync set.
// Pure: built from NodeCore's status and ClusterState.

import type { PlacementRule } from "../placement.ts";
import type { RaftStatus } from "../raft/index.ts";
import type { ClusterState, MemberRecord } from "./state.ts";

export interface HeartbeatMember extends MemberRecord {
  readonly alive: boolean;
  /** In the in-sync set of every partition placement gives it. */
  readonly synced: boolean;
}

export interface HeartbeatObject {
  readonly node: MemberRecord;
  readonly role: "leader" | "follower" | "candidate" | "joining";
  readonly term: number;
  readonly leader: { readonly id: number; readonly endpoint: string } | null;
  readonly rf: number;
  readonly partitions: number;
  readonly placement: PlacementRule;
  readonly members: readonly HeartbeatMember[];
  readonly insync?: readonly (readonly number[])[];
}

export function heartbeatObject(
  self: MemberRecord,
  status: RaftStatus,
  state: ClusterState,
  isAlive: (id: number) => boolean,
): HeartbeatObject {
  const leader = status.leaderId === 0 ? undefined : state.member(status.leaderId);
  const role = !state.isBootstrapped
    ? "joining"
    : status.role === "leader"
      ? "leader"
      : status.role === "follower"
        ? "follower"
        : "candidate";
  const members = state.members().map((m) => ({
    ...m,
    alive: m.id === self.id || isAlive(m.id),
    synced: isSynced(state, m.id),
  }));
  const base: HeartbeatObject = {
    node: self,
    role,
    term: status.term,
    leader: leader === undefined ? null : { id: leader.id, endpoint: leader.endpoint },
    rf: Math.max(state.rf, 1),
    partitions: Math.max(state.partitions, 1),
    placement: state.placementRule,
    members,
  };
  if (role !== "leader") return base;
  const insync = Array.from({ length: state.partitions }, (_, p) => state.insync(p));
  return { ...base, insync };
}

function isSynced(state: ClusterState, id: number): boolean {
  for (let p = 0; p < state.partitions; p++) {
    if (state.placement(p).includes(id) && !state.insync(p).includes(id)) return false;
  }
  return true;
}
