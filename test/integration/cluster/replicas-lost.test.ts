// When every replica of a key's partition is down, the client gets UNAVAILABLE naming the
// partition from the live leader, not a timeout from a dead node, and keys whose replicas live
// are still served.
import { expect, test } from "bun:test";
import { partitionOf, placeKey } from "../../../lib/placement.ts";
import { KvError } from "../../../lib/util/errors.ts";
import { waitFor } from "../../harness/cluster.ts";
import { scenarioTimeoutMs, startSyncedCluster } from "./workload.ts";

/** A fresh key whose replicas (3 nodes, RF 1, 64 partitions) are exactly `ids`. */
function keyOn(ids: number[]): string {
  while (true) {
    const key = crypto.randomUUID();
    const replicas = placeKey("balanced", key, 64, [1, 2, 3], 1).sort();
    if (replicas.join() === ids.join()) return key;
  }
}

// RF 1, so that one node down takes every replica of some partitions while the other two still
// make a Raft majority and keep a leader.
test("a key whose replicas are all down is UNAVAILABLE; others are still served", async () => {
  await using env = await startSyncedCluster(1);
  const { cluster, client } = env;
  const lost = keyOn([3]);
  const kept = keyOn([2]);
  await client.set(lost, "gone for now");
  await client.set(kept, "still here");
  await cluster.kill(3);
  await waitFor(async () => {
    const hb = await client.request({ op: "HEARTBEAT" });
    return hb["role"] === "leader" && (hb["node"] as { id: number }).id === 1;
  }, { what: "node 1 still leading" });
  expect(await client.get(kept)).toMatchObject({ found: true, value: "still here" });
  const error = await client.get(lost).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(KvError);
  expect((error as KvError).code).toBe("UNAVAILABLE");
  expect((error as KvError).message).toContain(`partition ${partitionOf(lost, 64)}`);
}, scenarioTimeoutMs);
