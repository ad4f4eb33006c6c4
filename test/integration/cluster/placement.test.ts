// Scenario 1: 3 nodes, RF 2. Many keys go through SET, GET, update and DELETE with the client
// library; then the nodes stop and each node's database must hold every live key exactly on the
// nodes placement names (balanced, as a new cluster's heartbeat says), and no row of it anywhere
// else.
import { expect, test } from "bun:test";
import type { WarehouseClient } from "../../../lib/client/client.ts";
import { partitionOf, placeKey } from "../../../lib/placement.ts";
import { SqliteReplicaStore } from "../../../lib/store/index.ts";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";
import { connectClient, heartbeatVia, scenarioTimeoutMs } from "./workload.ts";

const KEY_COUNT = 200;
const PARALLEL = 16;
const PARTITIONS = 64;

/** Runs `operation` over `keys`, PARALLEL at a time; returns what it reported as wrong. */
async function eachKey(
  keys: readonly string[],
  operation: (key: string) => Promise<string | null>,
): Promise<string[]> {
  const wrong: string[] = [];
  for (let i = 0; i < keys.length; i += PARALLEL) {
    const problems = await Promise.all(keys.slice(i, i + PARALLEL).map(operation));
    for (const problem of problems) if (problem !== null) wrong.push(problem);
  }
  return wrong;
}

/** Creates every key, updates every second one, deletes every fourth and the one after it. */
async function writeAll(
  client: WarehouseClient,
  keys: string[],
  expected: Map<string, string | null>,
): Promise<string[]> {
  const unexpected = (key: string, reply: object): string => `${key}: ${JSON.stringify(reply)}`;
  const created = await eachKey(keys, async (key) => {
    const reply = await client.set(key, `first ${key}`);
    expected.set(key, `first ${key}`);
    return reply.status === "created" && reply.replicas === 2 ? null : unexpected(key, reply);
  });
  const updated = await eachKey(keys.filter((_, i) => i % 2 === 0), async (key) => {
    const reply = await client.set(key, `second ${key}`);
    expected.set(key, `second ${key}`);
    return reply.status === "updated" && reply.replicas === 2 ? null : unexpected(key, reply);
  });
  const deleted = await eachKey(keys.filter((_, i) => i % 4 < 2), async (key) => {
    const reply = await client.delete(key);
    expected.set(key, null);
    return reply.status === "deleted" && reply.replicas === 2 ? null : unexpected(key, reply);
  });
  return [...created, ...updated, ...deleted];
}

test("every live key is stored on exactly the nodes placement names", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const dataDirs = [1, 2, 3].map((id) => cluster.node(id).dataDir);
  const expected = new Map<string, string | null>();
  const keys = Array.from({ length: KEY_COUNT }, () => crypto.randomUUID());
  {
    await using c = await connectClient(cluster);
    const { client } = c;
    await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });
    // A new cluster places by quota: the three nodes share the partitions evenly.
    expect((await client.heartbeat()).placement).toBe("balanced");
    expect(await writeAll(client, keys, expected)).toEqual([]);
    const misread = await eachKey(keys, async (key) => {
      const got = await client.get(key);
      const want = expected.get(key) ?? null;
      const value = got.found ? (got.value ?? null) : null;
      return value === want ? null : `${key}: got ${JSON.stringify(value)}, want ${want}`;
    });
    expect(misread).toEqual([]);
    // Deleting a deleted key finds nothing; the delete is still ordered on both replicas.
    expect(await client.delete(keys[0] as string)).toMatchObject({
      status: "not_found",
      replicas: 2,
    });
  }

  // A graceful stop flushes and closes each store; exit code 0 says it stopped cleanly.
  for (const id of [1, 2, 3]) expect(await cluster.stop(id)).toBe(0);

  const misplaced: string[] = [];
  const stores = dataDirs.map((dir) => new SqliteReplicaStore(`${dir}/warehouse.sqlite`));
  try {
    for (const key of keys) {
      const placed = placeKey("balanced", key, PARTITIONS, [1, 2, 3], 2);
      expect(placed.length).toBe(2);
      const want = expected.get(key) ?? null;
      stores.forEach((store, index) => {
        const id = index + 1;
        const row = store.get(partitionOf(key, PARTITIONS), key);
        if (!placed.includes(id)) {
          if (row !== undefined) misplaced.push(`${key} has a row on node ${id}, not in ${placed}`);
          return;
        }
        const value = row === undefined ? null : row.value;
        if (value !== want) misplaced.push(`${key} on node ${id}: ${value}, want ${want}`);
      });
    }
    // No node holds live keys beyond the ones this test wrote, each on two nodes.
    const live = [...expected.values()].filter((v) => v !== null).length;
    expect(live).toBe(KEY_COUNT / 2);
    const rows = (store: SqliteReplicaStore) =>
      Array.from({ length: PARTITIONS }, (_, p) => store.countRows(p)).reduce((a, b) => a + b, 0);
    expect(stores.reduce((sum, store) => sum + rows(store), 0)).toBe(live * 2);
  } finally {
    for (const store of stores) store.close();
  }
  expect(misplaced).toEqual([]);
}, scenarioTimeoutMs);
