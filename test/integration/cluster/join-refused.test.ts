// Scenario 4: joins the cluster must refuse, each with a non-zero exit and a message that says
// what differs: a different replication factor, an id a live member has, an endpoint a live
// member has. The cluster carries on untouched.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";
import { connectClient, heartbeatVia, scenarioTimeoutMs } from "./workload.ts";

// Node 3 is killed for the endpoint case and must still count as live when its endpoint is
// claimed, however slowly the claimant starts: suspicion takes far longer than a start.
const SUSPECT_MS = 20_000;

test("joins with a different RF, a taken id or a taken endpoint are refused", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2, ["--suspect-ms", String(SUSPECT_MS)]);
  const seed = cluster.node(1).endpoint;
  const node2 = cluster.node(2);
  await using c = await connectClient(cluster);
  const { client } = c;
  await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });

  const rf = await cluster.launch({ id: 4, rf: 3, join: [seed] });
  expect(rf.ok).toBe(false);
  if (!rf.ok) {
    expect(rf.exitCode).toBe(1);
    expect(rf.stderr)
      .toContain("replication factor 3 differs from the cluster's replication factor 2");
  }

  // --min-insync is checked against the cluster's RF once the join tells it.
  const insync = await cluster.launch({ id: 4, join: [seed], extraArgs: ["--min-insync", "3"] });
  expect(insync.ok).toBe(false);
  if (!insync.ok) {
    expect(insync.exitCode).toBe(1);
    expect(insync.stderr).toContain("--min-insync 3 is more than the cluster's replication factor 2");
  }

  const dup = await cluster.launch({
    id: 2, dataDir: join(cluster.root, "2-duplicate"), join: [seed],
  });
  expect(dup.ok).toBe(false);
  if (!dup.ok) {
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr)
      .toContain(`node id 2 is already taken by the live member at ${node2.endpoint}`);
  }

  // The refusals left the cluster working.
  const key = crypto.randomUUID();
  expect((await client.set(key, "still works")).status).toBe("created");
  expect(await client.get(key)).toMatchObject({ found: true, value: "still works" });

  // The same endpoint cannot be bound twice on one host, so the taken endpoint is that of a
  // member killed a moment ago, which the cluster still counts as live.
  const node3 = await cluster.kill(3);
  const taken = await cluster.launch({
    id: 4, dataDir: join(cluster.root, "4-taken-endpoint"), join: [seed],
    port: node3.port, pubPort: node3.pubPort,
  });
  expect(taken.ok).toBe(false);
  if (!taken.ok) {
    expect(taken.exitCode).toBe(1);
    expect(taken.stderr).toContain(`endpoint ${node3.endpoint} is already used by live node 3`);
  }

  // Nothing refused became a member, and node 2 keeps its endpoint. (Writes to node 3's
  // partitions would now wait out its suspicion, so none is made.)
  const hb = await client.heartbeat();
  expect(hb.members.map((m) => [m.id, m.endpoint])).toEqual([
    [1, seed], [2, node2.endpoint], [3, node3.endpoint],
  ]);
}, scenarioTimeoutMs);
