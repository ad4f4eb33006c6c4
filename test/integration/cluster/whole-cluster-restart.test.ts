// Scenario 6: every node is killed with SIGKILL and all restart on their data directories (no
// --join). With nobody left to catch up from, they must trust their own data, elect node 1, and
// serve every acknowledged write; the cluster then takes new writes. In the second case node 1
// was down while node 2 led, so node 1's own data is the oldest: it must catch up, not lead on it.
import { expect, test } from "bun:test";
import { waitForSynced } from "../../harness/cluster.ts";
import {
  Ledger, Writer, startSyncedCluster, expectAllReadable, heartbeatVia, scenarioTimeoutMs,
} from "./workload.ts";

test("after a whole-cluster kill and restart node 1 leads; every write is readable", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const ledger = new Ledger();
  const keys = Array.from({ length: 60 }, () => crypto.randomUUID());
  await Promise.all(keys.map((key) => ledger.set(client, key, `v1 ${key}`)));
  await Promise.all(keys.slice(0, 20).map((key) => ledger.set(client, key, `v2 ${key}`)));
  await Promise.all(keys.slice(20, 30).map((key) => ledger.delete(client, key)));
  expect(ledger.failures).toEqual([]);

  // The writer keeps going while the cluster dies and comes back: the write in flight at the
  // kill either fails (its outcome unknown) or lands once the cluster is back.
  const writer = new Writer(client, ledger, "load");
  await writer.waitForAcks(20, 0, "writes under load");
  const handles = await Promise.all([1, 2, 3].map((id) => cluster.kill(id)));
  await Promise.all(handles.map((handle) => cluster.restart(handle.id, handle)));
  await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });
  const backMs = performance.now();
  await writer.waitForAcks(10, backMs, "writes after the restart");
  await writer.stop();

  await expectAllReadable(client, ledger);
  const key = crypto.randomUUID();
  const written = await client.set(key, "after restart");
  expect(written).toMatchObject({ status: "created", replicas: 2 });
  expect(await client.get(key)).toEqual({
    found: true,
    value: "after restart",
    version: written.version,
  });
}, scenarioTimeoutMs);

test("a whole-cluster restart after node 1 was down: nothing node 2 took is lost", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const ledger = new Ledger();
  const keys = Array.from({ length: 40 }, () => crypto.randomUUID());
  await Promise.all(keys.map((key) => ledger.set(client, key, `v1 ${key}`)));

  // Node 1 dies first; node 2 leads and takes updates node 1 never sees.
  const node1 = await cluster.kill(1);
  await Promise.all(keys.map((key) => ledger.set(client, key, `v2 ${key}`)));
  await Promise.all(keys.slice(0, 10).map((key) => ledger.delete(client, key)));
  expect(ledger.failures).toEqual([]);
  const others = await Promise.all([2, 3].map((id) => cluster.kill(id)));

  // Node 1 comes back first, with the oldest data: it must not lead on it.
  await cluster.restart(1, node1);
  await Promise.all(others.map((handle) => cluster.restart(handle.id, handle)));
  await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });
  await expectAllReadable(client, ledger);
}, scenarioTimeoutMs);
