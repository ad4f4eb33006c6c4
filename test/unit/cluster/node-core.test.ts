// Whole nodes (NodeCore) in the deterministic world of test/sim/node-world.ts: a cluster forms
// by bootstrap and joins, replicas catch up to placement, writes and reads work through the
// leader, and after the leader crashes the next one serves every acknowledged write.

import { describe, expect, test } from "bun:test";
import { NodeWorld } from "../../sim/node-world.ts";
import { keyOf } from "../store/rows.ts";

function formCluster(seed: number, size = 3): NodeWorld {
  const world = new NodeWorld({ seed });
  world.bootstrap(1).campaign();
  world.run(100);
  for (let id = 2; id <= size; id++) {
    world.addNode(id);
    world.start(id);
    const joined: boolean[] = [];
    world.core(1).join(world.member(id), "add", (ok) => joined.push(ok));
    world.drain(1);
    expect(world.runUntil(() => joined.length > 0, 5000)).toBe(true);
    expect(joined).toEqual([true]);
  }
  return world;
}

function inSyncEverywhere(world: NodeWorld, leader: number): boolean {
  const state = world.core(leader).state;
  for (let p = 0; p < state.partitions; p++) {
    if (state.insync(p).length < Math.min(state.rf, state.memberIds().length)) return false;
  }
  return true;
}

describe("NodeCore", () => {
  test("a cluster forms, catches replicas up to placement, and serves writes and reads", () => {
    const world = formCluster(1);
    expect(world.leaderId()).toBe(1);
    expect(world.core(3).state.memberIds()).toEqual([1, 2, 3]);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    const set = world.request(1, { op: "SET", key: keyOf(1), value: "one", writer: null });
    world.runUntil(() => set.length > 0, 1000);
    expect(set).toEqual([{ ok: true, fields: { status: "created", replicas: 2, version: 1 } }]);
    const get = world.request(1, { op: "GET", key: keyOf(1) });
    world.runUntil(() => get.length > 0, 1000);
    expect(get).toEqual([{ ok: true, fields: { found: true, value: "one", version: 1 } }]);
    const follower = world.request(2, { op: "GET", key: keyOf(1) });
    expect(follower).toEqual([
      expect.objectContaining({ ok: false, code: "NOT_LEADER", leader: world.member(1) }),
    ]);
  });

  test("after the leader crashes the next leader serves every acknowledged write", () => {
    const world = formCluster(2);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    const acked: { key: string; value: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const key = keyOf(1000 + i);
      const value = `v${i}`;
      const r = world.request(1, { op: "SET", key, value, writer: null });
      world.runUntil(() => r.length > 0, 1000);
      if (r[0]?.ok) acked.push({ key, value });
    }
    expect(acked.length).toBe(40);
    world.crash(1);
    expect(world.runUntil(() => world.leaderId() !== null && world.leaderId() !== 1, 5000)).toBe(
      true,
    );
    const leader = world.leaderId() as number;
    expect(leader).toBe(2);
    for (const { key, value } of acked) {
      const get = world.request(leader, { op: "GET", key });
      expect(world.runUntil(() => get.length > 0, 2000)).toBe(true);
      expect(get[0]).toEqual({ ok: true, fields: expect.objectContaining({ found: true, value }) });
    }
  });
});

describe("NodeCore leadership", () => {
  test("a lower-ordered member that returns and catches up gets the lead handed back", () => {
    const world = formCluster(3);
    expect(world.runUntil(() => inSyncEverywhere(world, 1), 5000)).toBe(true);
    world.crash(1);
    expect(world.runUntil(() => world.leaderId() === 2, 5000)).toBe(true);
    world.start(1);
    expect(world.runUntil(() => world.leaderId() === 1, 10_000)).toBe(true);
    const set = world.request(1, { op: "SET", key: keyOf(7), value: "back", writer: null });
    expect(world.runUntil(() => set.length > 0, 2000)).toBe(true);
    expect(set[0]?.ok).toBe(true);
  });
});
