// A node joining a cluster that already holds data: the partitions placement now gives it are
// copied to it (copy, then catch up) while writes go on; once it is in sync the old holders drop
// their copies, so every key ends up on exactly the nodes placement names.
import { expect, test } from "bun:test";
import { partitionOf, placeKey } from "../../../lib/placement.ts";
import { SqliteReplicaStore } from "../../../lib/store/index.ts";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";
import { Ledger, connectClient, expectAllReadable, heartbeatVia, scenarioTimeoutMs } from "./workload.ts";

test("a joining node receives its partitions and the old holders let go", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(2, 2);
  await using c = await connectClient(cluster);
  const { client } = c;
  await waitForSynced(heartbeatVia(client), { members: 2, rf: 2, leaderId: 1 });
  const ledger = new Ledger();
  const before = Array.from({ length: 300 }, () => crypto.randomUUID());
  for (let i = 0; i < before.length; i += 25) {
    await Promise.all(before.slice(i, i + 25).map((k) => ledger.set(client, k, `before ${k}`)));
  }
  // Writes keep coming while node 3 joins and copies its partitions.
  const during: string[] = [];
  let isJoining = true;
  const writer = (async () => {
    while (isJoining) {
      const key = crypto.randomUUID();
      during.push(key);
      await ledger.set(client, key, `during ${key}`);
    }
  })();
  await cluster.start({ id: 3, join: [cluster.node(1).endpoint] });
  await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });
  isJoining = false;
  await writer;
  expect(ledger.failures).toEqual([]);
  await expectAllReadable(client, ledger);

  // Surplus copies are dropped once the leader's in-sync sets no longer list their holder.
  const dirs = [1, 2, 3].map((id) => cluster.node(id).dataDir);
  for (const id of [1, 2, 3]) expect(await cluster.stop(id)).toBe(0);
  const stores = dirs.map((dir) => new SqliteReplicaStore(`${dir}/warehouse.sqlite`));
  try {
    const misplaced: string[] = [];
    for (const key of [...before, ...during]) {
      const want = placeKey("balanced", key, 64, [1, 2, 3], 2).sort();
      const holders = [1, 2, 3].filter((id) => stores[id - 1]?.get(partitionOf(key, 64), key) !== undefined);
      if (holders.join() !== want.join()) misplaced.push(`${key}: on ${holders}, placed on ${want}`);
    }
    expect(misplaced).toEqual([]);
  } finally {
    for (const store of stores) store.close();
  }
}, scenarioTimeoutMs);
