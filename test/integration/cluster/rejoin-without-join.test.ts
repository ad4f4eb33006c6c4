// Scenario 5: a node killed with SIGKILL and restarted on its data directory with no --join (it
// first joined with one) finds the cluster from what it stored, rejoins, and has its data: the
// keys it held are on its disk after the kill, and once node 1 is gone every key placement gives
// it, written before, during and after its absence, is served.
import { expect, test } from "bun:test";
import type { WarehouseClient } from "../../../lib/client/client.ts";
import { partitionOf, placeKey } from "../../../lib/placement.ts";
import { SqliteReplicaStore } from "../../../lib/store/index.ts";
import { waitFor, waitForSynced } from "../../harness/cluster.ts";
import {
  Ledger, askNode, startSyncedCluster, expectAllReadable, heartbeatVia, scenarioTimeoutMs,
} from "./workload.ts";

function onNode3(key: string): boolean {
  return placeKey("balanced", key, 64, [1, 2, 3], 2).includes(3);
}

async function writeKeys(client: WarehouseClient, ledger: Ledger, tag: string): Promise<string[]> {
  const keys = Array.from({ length: 30 }, () => crypto.randomUUID());
  await Promise.all(keys.map((key) => ledger.set(client, key, `${tag} ${key}`)));
  return keys;
}

test("a node restarted with no --join rejoins from its stored state and has its data", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const ledger = new Ledger();

  const before = await writeKeys(client, ledger, "before");
  const node3 = await cluster.kill(3);
  // What node 3 acknowledged is on its disk, SIGKILL notwithstanding.
  const store = new SqliteReplicaStore(`${node3.dataDir}/warehouse.sqlite`);
  try {
    const missing = before.filter(onNode3)
      .filter((key) => store.get(partitionOf(key, 64), key)?.value !== `before ${key}`);
    expect(missing).toEqual([]);
  } finally {
    store.close();
  }

  const during = await writeKeys(client, ledger, "during");
  const back = await cluster.restart(3, node3);
  expect(back.endpoint).toBe(node3.endpoint);
  await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });
  // Node 3's own view: a follower of node 1 in a 3-member cluster with RF 2.
  await waitFor(async () => {
    const own = await askNode(back.endpoint, { op: "HEARTBEAT" });
    const members = own["members"] as { id: number; alive: boolean }[];
    return own["role"] === "follower" && (own["leader"] as { id: number } | null)?.id === 1
      && own["rf"] === 2 && members.filter((m) => m.alive).length === 3;
  }, { what: "node 3 following node 1 with all three members live" });
  const after = await writeKeys(client, ledger, "after");
  expect(ledger.failures).toEqual([]);

  // With node 1 gone, nodes 2 and 3 still make a quorum; every key placed on node 3 (for many
  // of them now its only live replica) is served.
  await cluster.kill(1);
  await waitFor(async () => (await client.heartbeat()).leader?.id === 2, {
    what: "node 2 leading after node 1 is gone",
  });
  const mine = [...before, ...during, ...after].filter(onNode3);
  expect(mine.length).toBeGreaterThan(0);
  await expectAllReadable(client, ledger, mine);
}, scenarioTimeoutMs);
