// What the leader does with a join: admit a new member, update a member that restarted on new
// endpoints, answer at once for a member that asks again, or refuse with a sentence that says
// exactly what differs. Pure: decided from the ClusterState and who is alive.

import type { JoinRequest } from "./peer-protocol.ts";
import type { ClusterState } from "./state.ts";

export type JoinDecision =
  | { readonly kind: "already-member" }
  | { readonly kind: "add" }
  | { readonly kind: "update" }
  | { readonly kind: "refuse"; readonly message: string };

export function decideJoin(
  state: ClusterState,
  request: JoinRequest,
  isAlive: (id: number) => boolean,
): JoinDecision {
  const { member } = request;
  if (request.rf !== null && request.rf !== state.rf) {
    return refuse(
      `replication factor ${request.rf} differs from the cluster's replication factor ${state.rf}`,
    );
  }
  if (request.minInsync > state.rf) {
    return refuse(
      `--min-insync ${request.minInsync} is more than the cluster's replication factor ` +
        `${state.rf}: no write could ever be acknowledged`,
    );
  }
  if (state.isRemoved(member.id)) {
    return refuse(
      `node id ${member.id} was removed from the cluster and ids are never reused: ` +
        "start the node with a new --id and an empty data directory",
    );
  }
  for (const other of state.members()) {
    if (other.id === member.id || !isAlive(other.id)) continue;
    const shared = [member.endpoint, member.pub, member.peer].find((e) =>
      [other.endpoint, other.pub, other.peer].includes(e),
    );
    if (shared !== undefined) {
      return refuse(`endpoint ${shared} is already used by live node ${other.id}`);
    }
  }
  const known = state.member(member.id);
  if (known === undefined) return { kind: "add" };
  const isSame =
    known.endpoint === member.endpoint && known.pub === member.pub && known.peer === member.peer;
  // Alive on the very endpoints it asks with: that is the asker itself, admitted while its
  // earlier attempt waited (no other process can hold those ports).
  if (isSame && isAlive(member.id)) return { kind: "already-member" };
  // A node that restarted on its own data directory keeps its id, maybe on new endpoints. A
  // new node (no Raft state) claiming a member's id is a mistake: the member is alive elsewhere,
  // or its data is gone, and counting an empty node as that in-sync replica would lose data.
  if (!request.isRestart) {
    if (isAlive(member.id)) {
      return refuse(`node id ${member.id} is already taken by the live member at ${known.endpoint}`);
    }
    return refuse(
      `node id ${member.id} is a member whose data directory is not this one: start it on its ` +
        "own data directory, or join this node with a new --id",
    );
  }
  return isSame ? { kind: "already-member" } : { kind: "update" };
}

function refuse(message: string): JoinDecision {
  return { kind: "refuse", message };
}
