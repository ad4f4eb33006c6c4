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
    expect(await client.set(key, "v1")).toEqual({ status: "created", replicas: 2 });
    expect(await client.get(key)).toEqual({ found: true, value: "v1" });
    expect(await client.set(key, "v2")).toEqual({ status: "updated", replicas: 2 });
    expect(await client.delete(key)).toEqual({ status: "deleted", replicas: 2 });
    expect(await client.get(key)).toEqual({ found: false });
    // A delete of a missing key is still ordered and confirmed by every in-sync replica.
    expect(await client.delete(key)).toEqual({ status: "not_found", replicas: 2 });
  } finally {
    await client.close();
  }
});
