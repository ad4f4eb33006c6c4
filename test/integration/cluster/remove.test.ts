// REMOVE retires a dead member for good: the leader refuses a live one, the removed member's
// partitions are copied to the members placement now names (so every key is on two live nodes
// again), every acknowledged write stays readable, and a node started with the removed id is
// refused.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { KvError } from "../../../lib/util/errors.ts";
import { waitFor, waitForSynced } from "../../harness/cluster.ts";
import {
  Ledger, startSyncedCluster, expectAllReadable, heartbeatVia, scenarioTimeoutMs,
} from "./workload.ts";

test("REMOVE retires a dead member; its partitions move; its id is refused", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const ledger = new Ledger();
  const keys = Array.from({ length: 60 }, () => crypto.randomUUID());
  await Promise.all(keys.map((key) => ledger.set(client, key, `v ${key}`)));
  expect(ledger.failures).toEqual([]);

  const live = await client.remove(3).then(() => null, (e: unknown) => e);
  expect(live).toBeInstanceOf(KvError);
  expect((live as KvError).message).toContain("node 3 is alive");

  await cluster.kill(3);
  await waitFor(async () => {
    const members = (await client.request({ op: "HEARTBEAT" }))["members"] as
      { id: number; alive: boolean }[];
    return members.some((m) => m.id === 3 && !m.alive);
  }, { what: "the leader to see node 3 down" });
  // Dead but still a member: placement still names it until it is removed.
  expect((await client.heartbeat()).members.map((m) => m.id)).toEqual([1, 2, 3]);
  expect(await client.remove(3)).toEqual({ removed: 3 });
  expect((await client.heartbeat()).members.map((m) => m.id)).toEqual([1, 2]);
  // Every partition is back on two in-sync replicas, both alive.
  await waitForSynced(heartbeatVia(client), { members: 2, rf: 2, leaderId: 1 });
  await expectAllReadable(client, ledger);

  const again = await cluster.launch({ id: 3, dataDir: join(cluster.root, "3-again"),
    join: [cluster.node(1).endpoint] });
  expect(again.ok).toBe(false);
  if (!again.ok) {
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain("node id 3 was removed from the cluster");
  }
  const twice = await client.remove(3).then(() => null, (e: unknown) => e);
  expect((twice as KvError).message).toContain("node 3 was removed already");
}, scenarioTimeoutMs);
