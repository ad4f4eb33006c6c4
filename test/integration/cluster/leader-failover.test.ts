// Scenario 2: kill -9 the leader (node 1) while a client keeps writing. Node 2 must lead and
// acknowledge writes within 1 s of the kill, and nothing acknowledged may be lost. Node 1 then
// restarts on its data directory, catches up, leads again, and every write is readable,
// including those made while it was down and during the hand-back.
import { expect, test } from "bun:test";
import { waitForSynced } from "../../harness/cluster.ts";
import {
  Ledger, Writer, startSyncedCluster, expectAllReadable, heartbeatVia, scenarioTimeoutMs,
} from "./workload.ts";

const FAILOVER_MS_MAX = 1000;

test("leader killed: node 2 takes writes within 1 s; node 1 returns and leads", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;

  const ledger = new Ledger();
  for (let i = 0; i < 50; i++) await ledger.set(client, crypto.randomUUID(), `before-${i}`);
  const writer = new Writer(client, ledger, "load");
  await writer.waitForAcks(20, 0, "writes acknowledged under load before the kill");

  const killedMs = performance.now();
  const node1 = await cluster.kill(1);
  const afterKillMs = performance.now();
  // Writes started once node 1 was gone can only have been acknowledged by the new leader.
  await writer.waitForAcks(1, afterKillMs, "a write acknowledged after the kill");
  const firstAck = writer.records.find((r) => r.startedMs >= afterKillMs && r.ackedMs !== null);
  const failoverMs = (firstAck?.ackedMs ?? Infinity) - killedMs;
  console.log(`failover: first write acknowledged ${failoverMs.toFixed(0)} ms after the kill`);
  expect(failoverMs).toBeLessThan(FAILOVER_MS_MAX);
  const hb = await client.heartbeat();
  expect(hb.leader?.id).toBe(2);

  // Keep writing while node 1 is down, then while it catches up and takes leadership back.
  await writer.waitForAcks(20, afterKillMs, "writes acknowledged by node 2");
  await cluster.restart(1, node1);
  await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });
  const backMs = performance.now();
  await writer.waitForAcks(20, backMs, "writes acknowledged by node 1 after its return");
  await writer.stop();

  expect(ledger.failures).toEqual([]);
  expect((await client.heartbeat()).leader?.id).toBe(1);
  await expectAllReadable(client, ledger);
}, scenarioTimeoutMs);
