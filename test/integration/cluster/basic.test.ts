import { expect, test } from "bun:test";
import { WarehouseClient } from "../../../lib/client/client.ts";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";

test("3 nodes, RF 2: SET, GET, DELETE through the client library", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const client = await WarehouseClient.connect({ endpoints: cluster.endpoints(), requestTimeoutMs: 1000, giveUpMs: 5000 });
  try {
    await waitForSynced((b) => client.request(b), { members: 3, rf: 2, leaderId: 1 });
    const key = crypto.randomUUID();
    const v1 = await client.set(key, "v1");
    expect(v1).toMatchObject({ status: "created", replicas: 2 });
    expect(await client.get(key)).toEqual({ found: true, value: "v1", version: v1.version });
    const v2 = await client.set(key, "v2");
    expect(v2).toMatchObject({ status: "updated", replicas: 2 });
    const deleted = await client.delete(key);
    expect(deleted).toMatchObject({ status: "deleted", replicas: 2 });
    expect(await client.get(key)).toEqual({ found: false });
    // A delete of a missing key is still ordered and confirmed by every in-sync replica.
    const again = await client.delete(key);
    expect(again).toMatchObject({ status: "not_found", replicas: 2 });
    // Versions grow with every change, deletes included, and a re-created key continues them.
    const recreated = await client.set(key, "v3");
    expect(recreated.status).toBe("created");
    const versions = [v1, v2, deleted, again, recreated].map((r) => r.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    expect(await client.get(key)).toEqual({ found: true, value: "v3", version: recreated.version });
  } finally {
    await client.close();
  }
});
