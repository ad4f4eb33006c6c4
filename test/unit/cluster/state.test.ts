// ClusterState (lib/cluster/state.ts): the control state every node derives from the Raft log.
// Commands come from peers, so parsing refuses anything malformed; applying refuses anything
// that would break an invariant (an empty in-sync set, a removed member coming back).

import { describe, expect, test } from "bun:test";
import {
  ClusterState,
  encodeCommand,
  encodeMember,
  parseCommand,
  parseMember,
  type MemberRecord,
} from "../../../lib/cluster/state.ts";
import { balancedReplicas, replicasOf } from "../../../lib/placement.ts";

const member = (id: number): MemberRecord => ({
  id,
  endpoint: `tcp://127.0.0.1:${7000 + id}`,
  pub: `tcp://127.0.0.1:${7100 + id}`,
  peer: `tcp://127.0.0.1:${7300 + id}`,
});

function threeMembers(): ClusterState {
  const state = ClusterState.initial(2, 4, member(1));
  state.applyMemberChange({ type: "add", member: member(2) });
  state.applyMemberChange({ type: "add", member: member(3) });
  return state;
}

describe("ClusterState", () => {
  test("placement follows every member change, also after it was asked before", () => {
    const state = ClusterState.initial(2, 4, member(1));
    expect(state.placementRule).toBe("balanced");
    const expected = (ids: number[]) => balancedReplicas(4, ids, 2).map((replicas) => [...replicas]);
    const placements = () => [0, 1, 2, 3].map((p) => [...state.placement(p)]);
    expect(placements()).toEqual(expected([1]));
    state.applyMemberChange({ type: "add", member: member(2) });
    state.applyMemberChange({ type: "add", member: member(3) });
    expect(placements()).toEqual(expected([1, 2, 3]));
    state.applyMemberChange({ type: "add", member: member(4) });
    expect(placements()).toEqual(expected([1, 2, 3, 4]));
    state.applyMemberChange({ type: "remove", id: 2 });
    expect(placements()).toEqual(expected([1, 3, 4]));
    expect(ClusterState.restore(state.snapshot())?.placement(1)).toEqual(expected([1, 3, 4])[1]);
  });

  test("a cluster keeps the placement rule it was created with, also through a snapshot", () => {
    const ids = [1, 2, 3];
    const legacy = ClusterState.initial(2, 64, member(1), "rendezvous");
    const balanced = ClusterState.initial(2, 64, member(1));
    for (const state of [legacy, balanced]) {
      state.applyMemberChange({ type: "add", member: member(2) });
      state.applyMemberChange({ type: "add", member: member(3) });
    }
    const all = (state: ClusterState) =>
      Array.from({ length: 64 }, (_, p) => [...state.placement(p)]);
    expect(all(legacy)).toEqual(Array.from({ length: 64 }, (_, p) => replicasOf(p, ids, 2)));
    expect(all(balanced)).toEqual(balancedReplicas(64, ids, 2).map((r) => [...r]));
    expect(all(balanced)).not.toEqual(all(legacy));
    expect(ClusterState.restore(legacy.snapshot())?.placementRule).toBe("rendezvous");
    expect(ClusterState.restore(balanced.snapshot())?.placementRule).toBe("balanced");
    // A snapshot written before the field existed is a rendezvous cluster's.
    const old = JSON.parse(legacy.snapshot()) as Record<string, unknown>;
    delete old["placement"];
    expect(ClusterState.restore(JSON.stringify(old))?.placementRule).toBe("rendezvous");
    expect(ClusterState.restore(JSON.stringify({ ...old, placement: "ring" }))).toBeNull();
  });

  test("a new cluster has its one member in sync for every partition", () => {
    const state = ClusterState.initial(2, 4, member(1));
    expect(state.isBootstrapped).toBe(true);
    expect([0, 1, 2, 3].map((p) => state.insync(p))).toEqual([[1], [1], [1], [1]]);
    expect(state.members()).toEqual([member(1)]);
  });

  test("in-sync changes add and remove members, sorted, but never empty a set", () => {
    const state = threeMembers();
    const add = (id: number) =>
      state.applyCommand({ type: "insync-add", partition: 2, id, term: 3 });
    expect(add(3)).toEqual({ type: "insync-changed", partition: 2, ids: [1, 3] });
    expect(add(3).type).toBe("ignored");
    expect(add(9).type).toBe("ignored");
    const remove = (id: number) =>
      state.applyCommand({ type: "insync-remove", partition: 2, id, term: 3 });
    expect(remove(1)).toEqual({ type: "insync-changed", partition: 2, ids: [3] });
    expect(remove(3)).toEqual({ type: "ignored", reason: "member 3 is the last in-sync replica" });
    expect(state.insync(2)).toEqual([3]);
    expect(state.applyCommand({ type: "insync-add", partition: 4, id: 2, term: 3 }).type).toBe(
      "ignored",
    );
  });

  test("removing a member takes it out of every set and it can never come back", () => {
    const state = threeMembers();
    state.applyCommand({ type: "insync-add", partition: 0, id: 2, term: 2 });
    state.applyCommand({ type: "insync-add", partition: 1, id: 2, term: 2 });
    state.applyCommand({ type: "insync-remove", partition: 1, id: 1, term: 2 });
    expect(state.removalBlockers(2)).toEqual([1]);
    expect(state.applyMemberChange({ type: "remove", id: 2 })).toEqual({
      type: "member-removed",
      id: 2,
    });
    expect(state.insync(0)).toEqual([1]);
    expect(state.isRemoved(2)).toBe(true);
    expect(state.applyMemberChange({ type: "add", member: member(2) }).type).toBe("ignored");
    expect(state.memberIds()).toEqual([1, 3]);
  });

  test("a member added again with new endpoints is updated, not duplicated", () => {
    const state = threeMembers();
    const moved = { ...member(3), endpoint: "tcp://127.0.0.1:9003" };
    expect(state.applyMemberChange({ type: "add", member: moved }).type).toBe("member-updated");
    expect(state.member(3)).toEqual(moved);
  });

  test("a snapshot restores the same state; a corrupt one is refused", () => {
    const state = threeMembers();
    state.applyCommand({ type: "insync-add", partition: 3, id: 3, term: 2 });
    state.applyMemberChange({ type: "remove", id: 2 });
    const restored = ClusterState.restore(state.snapshot());
    expect(restored?.snapshot()).toBe(state.snapshot());
    expect(restored?.isRemoved(2)).toBe(true);
    for (const bad of ["", "[]", "{}", '{"rf":2,"partitions":1,"members":[],"removed":[],"insync":[]}']) {
      expect(ClusterState.restore(bad)).toBeNull();
    }
  });

  test("commands and members from the log are parsed strictly", () => {
    const command = { type: "insync-add", partition: 5, id: 2, term: 9 } as const;
    expect(parseCommand(encodeCommand(command))).toEqual({ ok: true, value: command });
    for (const bad of [
      "nope",
      "null",
      '{"type":"drop-table"}',
      '{"type":"insync-add","partition":-1,"id":2,"term":1}',
      '{"type":"insync-add","partition":4096,"id":2,"term":1}',
      '{"type":"insync-remove","partition":1,"id":0,"term":1}',
      '{"type":"insync-remove","partition":1,"id":2,"term":1.5}',
    ]) {
      expect(parseCommand(bad).ok).toBe(false);
    }
    expect(parseMember(encodeMember(member(4)))).toEqual({ ok: true, value: member(4) });
    expect(parseMember({ ...member(4), endpoint: "http://x" }).ok).toBe(false);
    expect(parseMember({ ...member(4), peer: undefined }).ok).toBe(false);
    expect(parseMember({ ...member(4), endpoint: `tcp://${"x".repeat(300)}` }).ok).toBe(false);
  });
});
