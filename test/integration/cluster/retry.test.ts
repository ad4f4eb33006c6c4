// A retried write reports its first attempt's outcome, through real nodes on sqlite: looked up in
// the change log of the leader's own replica or of another node's, and again after the leader
// that made the write is killed (the log travels with the data).
import { expect, test } from "bun:test";
import { WarehouseClient } from "../../../lib/client/client.ts";
import { partitionOf } from "../../../lib/placement.ts";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";

test("a retry reports its first attempt's outcome, from any replica and after a failover", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(), requestTimeoutMs: 1000, giveUpMs: 10_000,
  });
  try {
    await waitForSynced((b) => client.request(b), { members: 3, rf: 2, leaderId: 1 });
    const beat = await client.request({ op: "HEARTBEAT" });
    const insync = beat["insync"] as number[][];
    const partitions = beat["partitions"] as number;
    // A key node 1 (the leader) holds a replica of, and one it does not: the second's lookup is
    // answered by another node's change log.
    const keyWhere = (wanted: (partition: number) => boolean): string => {
      for (;;) {
        const key = crypto.randomUUID();
        if (wanted(partitionOf(key, partitions))) return key;
      }
    };
    const leaderHolds = (p: number) => (insync[p] ?? []).includes(1);
    const keys = [keyWhere(leaderHolds), keyWhere((p) => !leaderHolds(p))];
    const writer = crypto.randomUUID();
    const outcome = (reply: Record<string, unknown>) =>
      ({ ok: reply["ok"], status: reply["status"], version: reply["version"] });

    const writes: { body: Record<string, unknown>; first: ReturnType<typeof outcome> }[] = [];
    for (const [i, key] of keys.entries()) {
      const set = { op: "SET", key, value: `v${i}`, writer: `${writer}/${2 * i}` };
      const first = outcome(await client.request(set));
      expect(first).toMatchObject({ ok: true, status: "created" });
      // Written again by another client, then the first SET retried: its own outcome, not
      // "updated", and no new version.
      const other = await client.set(key, "overwritten");
      expect(other.version).toBeGreaterThan(first.version as number);
      expect(outcome(await client.request({ ...set, retry: true }))).toEqual(first);
      const del = { op: "DELETE", key, writer: `${writer}/${2 * i + 1}` };
      const deleted = outcome(await client.request(del));
      expect(deleted).toMatchObject({ ok: true, status: "deleted" });
      // Retried: still "deleted", not "not_found", and the key stays deleted.
      expect(outcome(await client.request({ ...del, retry: true }))).toEqual(deleted);
      expect(await client.get(key)).toEqual({ found: false });
      writes.push({ body: set, first }, { body: del, first: deleted });
    }
    // A retry whose first attempt never arrived is carried out.
    const fresh = keyWhere((p) => !leaderHolds(p));
    const never = { op: "SET", key: fresh, value: "new", writer: `${writer}/never`, retry: true };
    expect(outcome(await client.request(never))).toMatchObject({ ok: true, status: "created" });
    // A writer reused on another key of the same partition names another request: carried out.
    const firstSet = writes[0]!.body;
    const sibling = keyWhere((p) => p === partitionOf(firstSet["key"] as string, partitions));
    const reused = { ...firstSet, key: sibling, retry: true };
    expect(outcome(await client.request(reused))).toMatchObject({ ok: true, status: "created" });

    // The leader that made every write is killed; node 2 answers the retries from its logs.
    await cluster.kill(1);
    for (const { body, first } of writes) {
      expect(outcome(await client.request({ ...body, retry: true }))).toEqual(first);
    }
    expect(await client.get(keys[0]!)).toEqual({ found: false });
  } finally {
    await client.close();
  }
});
