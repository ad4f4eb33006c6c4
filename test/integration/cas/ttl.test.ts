// Expiring keys against real node processes (3 nodes, RF 2): a key set with a TTL disappears
// once its time has run out and never before, as a delete with a version of its own; a
// compare-and-set that renews the TTL keeps it alive; and after kill -9 of the leader the new
// leader expires it on time, late by at most a clock commit interval plus the failover.
import { expect, test } from "bun:test";
import type { WarehouseClient } from "../../../lib/client/client.ts";
import { CLOCK_COMMIT_INTERVAL_MS } from "../../../lib/cluster/cluster-clock.ts";
import { ConflictError } from "../../../lib/util/errors.ts";
import { scenarioTimeoutMs, startSyncedCluster } from "../cluster/workload.ts";

/** How late an expiry may be seen on this shared machine: ticks, the delete, the read. */
const LATE_MS_MAX = 1000;
/** Failover (kill -9 to a new leader serving), README: well under a second; doubled for load. */
const FAILOVER_MS_MAX = 2000;

interface Seen {
  readonly call: number;
  readonly ret: number;
  readonly found: boolean;
}

/**
 * Reads `key` back to back until it is gone or `deadline` passes; every read with its times.
 * Time passing is what these tests are about, so they poll the key itself rather than wait.
 */
async function watchUntilGone(client: WarehouseClient, key: string, deadline: number) {
  const seen: Seen[] = [];
  while (performance.now() < deadline) {
    const call = performance.now();
    const { found } = await client.get(key);
    seen.push({ call, ret: performance.now(), found });
    if (!found) break;
  }
  return seen;
}

/** Lets `ms` of time pass: the subject of a TTL test, not a wait for a condition. */
function elapse(ms: number): Promise<void> {
  return Bun.sleep(ms);
}

function expectGoneBetween(seen: Seen[], earliest: number, latest: number): void {
  const gone = seen.find((s) => !s.found);
  expect(gone).toBeDefined();
  // Never early: a read that saw it gone answered after its deadline...
  expect((gone as Seen).ret).toBeGreaterThanOrEqual(earliest);
  // ...and every read that began after the deadline plus the allowance saw it gone.
  expect((gone as Seen).call).toBeLessThanOrEqual(latest);
}

test("a key expires once its TTL has run out, never before, as a versioned delete", async () => {
  await using env = await startSyncedCluster();
  const { client } = env;
  const key = crypto.randomUUID();
  const ttlMs = 1500;
  const sentAt = performance.now();
  const written = await client.set(key, "short-lived", { ttlMs });
  const seen = await watchUntilGone(client, key, sentAt + ttlMs + 10_000);
  expectGoneBetween(seen, sentAt + ttlMs, sentAt + ttlMs + LATE_MS_MAX);
  expect(seen.filter((s) => s.found).length).toBeGreaterThan(0);
  // Gone means version 0 for compare-and-set; the expiry itself took a version.
  const conflict = await client.set(key, "late", { ifVersion: written.version })
    .then(() => null, (error: unknown) => error);
  expect(conflict).toBeInstanceOf(ConflictError);
  expect((conflict as ConflictError).version).toBe(0);
  const recreated = await client.set(key, "again", { ifVersion: 0 });
  expect(recreated.version).toBeGreaterThanOrEqual(written.version + 2);
  const again = await client.get(key);
  expect(again).toEqual({ found: true, value: "again", version: recreated.version });
}, scenarioTimeoutMs);

test("renewing the TTL by compare-and-set keeps the key; stopping lets it expire", async () => {
  await using env = await startSyncedCluster();
  const { client } = env;
  const key = crypto.randomUUID();
  const ttlMs = 1000;
  let version = (await client.set(key, "held", { ttlMs, ifVersion: 0 })).version;
  const until = performance.now() + 3 * ttlMs;
  let renewedAt = 0;
  while (performance.now() < until) {
    await elapse(ttlMs / 4);
    renewedAt = performance.now();
    version = (await client.set(key, "held", { ttlMs, ifVersion: version })).version;
    expect(await client.get(key)).toEqual({ found: true, value: "held", version });
  }
  const seen = await watchUntilGone(client, key, renewedAt + ttlMs + 10_000);
  expectGoneBetween(seen, renewedAt + ttlMs, performance.now() + ttlMs + LATE_MS_MAX);
}, scenarioTimeoutMs);

test("after kill -9 of the leader, the new leader expires the key on time", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const key = crypto.randomUUID();
  const ttlMs = 4000;
  const sentAt = performance.now();
  await client.set(key, "outlives its leader", { ttlMs });
  await elapse(1000);
  await cluster.kill(1);
  const seen = await watchUntilGone(client, key, sentAt + ttlMs + 15_000);
  expect((await client.heartbeat()).leader?.id).toBe(2);
  // The new leader resumes the clock from the last reading committed through Raft, so the key
  // lives on by at most one commit interval and the failover.
  const lateMax = CLOCK_COMMIT_INTERVAL_MS + FAILOVER_MS_MAX + LATE_MS_MAX;
  expectGoneBetween(seen, sentAt + ttlMs, sentAt + ttlMs + lateMax);
  // It was there after the failover: the read after the kill found it.
  expect(seen.some((s) => s.found && s.call > sentAt + 2500)).toBe(true);
}, scenarioTimeoutMs);
