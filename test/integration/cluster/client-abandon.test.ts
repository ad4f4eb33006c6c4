// One request timing out must not cost the other requests in flight on the same connection.
// A replica of one partition is paused, so a write there waits (past the client's per-attempt
// deadline) until the leader takes that replica out of the partition's in-sync set; meanwhile
// 16 readers keep reading keys of a partition the paused node does not hold, through the same
// client and connection. When the write's first attempt times out, the client abandons it; the
// reads in flight on that connection must still get their answers, each within its deadline.
import { expect, test } from "bun:test";
import { WarehouseClient } from "../../../lib/client/client.ts";
import { placeReplicas } from "../../../lib/placement.ts";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";
import { heartbeatVia, keyInPartition } from "./workload.ts";

const PARTITIONS = 3;
const ATTEMPT_MS = 500;
const READERS = 16;

test("a timed-out request leaves the others on its connection in flight", async () => {
  await using cluster = new Cluster();
  const first = await cluster.start({ id: 1, rf: 2, extraArgs: ["--partitions", `${PARTITIONS}`] });
  for (const id of [2, 3]) await cluster.start({ id, join: [first.endpoint] });
  const holders = (p: number) => placeReplicas("balanced", p, PARTITIONS, [1, 2, 3], 2);
  const all = Array.from({ length: PARTITIONS }, (_, p) => p);
  // Writes to `stalled` wait for the paused node; reads of `free` never involve it.
  const paused = 3;
  const stalled = all.find((p) => holders(p).includes(paused)) as number;
  const free = all.find((p) => !holders(p).includes(paused)) as number;
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(),
    requestTimeoutMs: ATTEMPT_MS,
    giveUpMs: 10_000,
  });
  try {
    await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });
    const keys = Array.from({ length: READERS }, () => keyInPartition(free, PARTITIONS));
    for (const key of keys) await client.set(key, `v ${key}`);

    let isReading = true;
    let slowest = 0;
    let reads = 0;
    const reader = async (key: string) => {
      while (isReading) {
        const started = performance.now();
        const got = await client.get(key);
        slowest = Math.max(slowest, performance.now() - started);
        reads++;
        expect(got).toMatchObject({ found: true, value: `v ${key}` });
      }
    };
    const readers = keys.map(reader);

    cluster.node(paused).process.kill("SIGSTOP");
    const started = performance.now();
    await client.set(keyInPartition(stalled, PARTITIONS), "waited for the paused replica to be taken out");
    const writeMs = performance.now() - started;
    isReading = false;
    await Promise.all(readers);
    cluster.node(paused).process.kill("SIGCONT");

    // The write did time out at least once (the case under test), and no read ever did.
    expect(writeMs).toBeGreaterThan(ATTEMPT_MS);
    expect(reads).toBeGreaterThan(READERS);
    expect(slowest).toBeLessThan(ATTEMPT_MS);
  } finally {
    await client.close();
  }
}, 60_000);
