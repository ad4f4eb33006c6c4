// A replica that missed more changes than a partition's log keeps comes back by a full copy,
// made page by page while writes go on. The partition is one the leader does not hold, so the
// copy's source is another node, and it holds 69 MiB of values plus the 11,500 writes made while
// the replica was down: more than one peer message can carry (64 MiB), so only a paged copy
// brings the replica back. Then the source's node dies and every key must read back from the
// copied replica alone.
import { expect, test } from "bun:test";
import { placeReplicas } from "../../../lib/placement.ts";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";
import {
  Ledger, Writer, connectClient, expectAllReadable, heartbeatVia, keyInPartition,
} from "./workload.ts";

// 84 values of a million characters; 12 of them are made small or deleted while the replica is
// down, which leaves 72 MB (69 MiB) to copy.
const BIG_KEYS = 84;
const BIG_VALUE_CHARS = 1_000_000;
/** More than the log keeps (10,000 changes, trimmed once 1,000 past that). */
const WRITES_WHILE_DOWN = 11_500;
const PARTITIONS = 3;

/**
 * Requests one client keeps in flight: within what a node reads from one connection at once
 * (32), so a request's time waiting to be read never eats its 1 s timeout.
 */
const WIDTH = 16;

/** Runs `work` over `items`, WIDTH at a time. */
async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<void>) {
  let next = 0;
  let failed: unknown = null;
  const lane = async () => {
    // The first failure ends the run: a cluster that stopped answering fails the test at once.
    while (next < items.length && failed === null) {
      await work(items[next++] as T).catch((error: unknown) => {
        failed = error;
      });
    }
  };
  await Promise.all(Array.from({ length: WIDTH }, lane));
  if (failed !== null) throw failed;
}

test("a replica behind by more than the log returns by a paged copy as writes go on", async () => {
  await using cluster = new Cluster();
  const partitions = ["--partitions", `${PARTITIONS}`];
  const first = await cluster.start({ id: 1, rf: 2, extraArgs: partitions });
  for (const id of [2, 3]) await cluster.start({ id, join: [first.endpoint] });
  // Every key below is in a partition node 1 (the leader) does not hold: nodes `target` and
  // `source` hold it.
  const all = Array.from({ length: PARTITIONS }, (_, p) => p);
  const placed = (p: number) => placeReplicas("balanced", p, PARTITIONS, [1, 2, 3], 2);
  const partition = all.find((p) => !placed(p).includes(1)) as number;
  const [target, source] = placed(partition) as [number, number];
  const newKey = () => keyInPartition(partition, PARTITIONS);
  await using env = await connectClient(cluster);
  const { client } = env;
  await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });

  const ledger = new Ledger();
  const big = Array.from({ length: BIG_KEYS }, newKey);
  const noFailure = () => {
    if (ledger.failures.length > 0) throw new Error(ledger.failures[0]);
  };
  await inParallel(big, async (key) => {
    await ledger.set(client, key, `${key} `.padEnd(BIG_VALUE_CHARS, "v"));
    noFailure();
  });

  const down = await cluster.kill(target);
  // Small writes while it is down: new keys, and updates and deletes of some big ones.
  const writes = Array.from({ length: WRITES_WHILE_DOWN }, (_, i) => i);
  await inParallel(writes, async (i) => {
    if (i < 8) await ledger.set(client, big[i] as string, `updated ${i}`);
    else if (i < 12) await ledger.delete(client, big[i] as string);
    else await ledger.set(client, newKey(), `small ${i}`);
    noFailure();
  });
  expect(ledger.failures).toEqual([]);

  const writer = new Writer(client, ledger, "during-copy");
  const upMs = performance.now();
  await cluster.restart(target, down);
  await waitForSynced(heartbeatVia(client), { members: 3, rf: 2, leaderId: 1 });
  await writer.waitForAcks(20, upMs, "writes while the replica is copied");
  await writer.stop();

  await cluster.kill(source);
  expect(ledger.failures).toEqual([]);
  await expectAllReadable(client, ledger);
  const live = [...ledger.acked.values()].filter((v) => v !== null).length;
  expect((await client.count()).count).toBe(live);
}, 180_000);
