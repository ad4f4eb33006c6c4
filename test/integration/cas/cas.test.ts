// Versions and compare-and-set against real node processes (3 nodes, RF 2): a loser learns the
// winner's version, DELETE IF guards a delete, and several client processes incrementing one
// counter by CAS retry loops lose no increment.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { ConflictError } from "../../../lib/util/errors.ts";
import { bunPath } from "../../harness/cluster.ts";
import { runToEnd } from "../../harness/run.ts";
import { scenarioTimeoutMs, startSyncedCluster } from "../cluster/workload.ts";

const FIXTURE = join(import.meta.dir, "counter-fixture.ts");
const PROCESSES = 4;
const INCREMENTS = 20;

async function conflictOf(write: Promise<unknown>): Promise<ConflictError> {
  try {
    await write;
  } catch (error) {
    if (error instanceof ConflictError) return error;
    throw error;
  }
  throw new Error("the write was not refused");
}

test("a loser gets CONFLICT with the winner's version; DELETE IF only at it", async () => {
  await using env = await startSyncedCluster();
  const { client } = env;
  const key = crypto.randomUUID();
  const created = await client.set(key, "first", { ifVersion: 0 });
  expect(created.status).toBe("created");
  const again = await conflictOf(client.set(key, "second", { ifVersion: 0 }));
  expect(again.version).toBe(created.version);
  // A reads, B writes in between, A's write at the version it read loses to B's.
  const seen = await client.get(key);
  expect(seen.version).toBe(created.version);
  const winner = await client.set(key, "winner", { ifVersion: created.version });
  const loser = await conflictOf(client.set(key, "loser", { ifVersion: created.version }));
  expect(loser.code).toBe("CONFLICT");
  expect(loser.version).toBe(winner.version);
  expect(await client.get(key)).toEqual({ found: true, value: "winner", version: winner.version });
  expect((await conflictOf(client.delete(key, { ifVersion: created.version }))).version)
    .toBe(winner.version);
  const deleted = await client.delete(key, { ifVersion: winner.version });
  expect(deleted.status).toBe("deleted");
  // Absent again: a CAS on any version reports 0; ifVersion 0 creates it with a newer version.
  expect((await conflictOf(client.set(key, "x", { ifVersion: winner.version }))).version).toBe(0);
  const recreated = await client.set(key, "again", { ifVersion: 0 });
  expect(recreated.version).toBeGreaterThan(deleted.version);
}, scenarioTimeoutMs);

test(`${PROCESSES} processes x ${INCREMENTS} CAS increments end at exactly the sum`, async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const key = crypto.randomUUID();
  const endpoints = cluster.endpoints().join(",");
  const runs = await Promise.all(Array.from({ length: PROCESSES }, () =>
    runToEnd([bunPath, FIXTURE, endpoints, key, String(INCREMENTS)], { deadlineMs: 60_000 })));
  type Report = {
    wins: { value: number; version: number }[];
    conflicts: { ifVersion: number; version: number }[];
  };
  const reports = runs.map((run) => {
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as Report;
  });
  const final = await client.get(key);
  expect(final.value).toBe(String(PROCESSES * INCREMENTS));
  const wins = reports.flatMap((r) => r.wins).sort((a, b) => a.version - b.version);
  // Each value 1..N*M was written exactly once, in version order: no increment was lost.
  expect(wins.map((w) => w.value)).toEqual(
    Array.from({ length: PROCESSES * INCREMENTS }, (_, i) => i + 1));
  expect(final.version).toBe(wins.at(-1)?.version);
  const winVersions = new Set(wins.map((w) => w.version));
  for (const conflict of reports.flatMap((r) => r.conflicts)) {
    expect(winVersions.has(conflict.version)).toBe(true);
    expect(conflict.version).toBeGreaterThan(conflict.ifVersion);
  }
}, 90_000);
