// The README's lock recipe (lock-fixture.ts) against real node processes: several client
// processes taking the lock in turn never overlap (a counter they increment without CAS inside
// the lock loses no increment), and a holder killed with kill -9 loses the lock once its TTL has
// run out, not before.
import { expect, test } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ConflictError } from "../../../lib/util/errors.ts";
import { bunPath } from "../../harness/cluster.ts";
import { runToEnd } from "../../harness/run.ts";
import { readUntil, timeouts } from "../../harness/wait.ts";
import { startSyncedCluster } from "../cluster/workload.ts";

const FIXTURE = join(import.meta.dir, "lock-fixture.ts");
const PROCESSES = 4;
const ROUNDS = 10;
/** How late an expiry may be seen on this shared machine. */
const LATE_MS_MAX = 1000;

test(`${PROCESSES} processes x ${ROUNDS} rounds under the lock never overlap`, async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const lockKey = crypto.randomUUID();
  const counterKey = crypto.randomUUID();
  const endpoints = cluster.endpoints().join(",");
  const runs = await Promise.all(Array.from({ length: PROCESSES }, () =>
    runToEnd([bunPath, FIXTURE, "contend", endpoints, lockKey, counterKey, String(ROUNDS), "5000"],
      { deadlineMs: 60_000 })));
  for (const run of runs) {
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({ rounds: ROUNDS });
  }
  // A plain read-modify-write inside the lock: any overlap would have lost an increment.
  expect((await client.get(counterKey)).value).toBe(String(PROCESSES * ROUNDS));
  // Every holder released it.
  expect(await client.get(lockKey)).toEqual({ found: false });
}, 90_000);

test("a holder killed with kill -9 loses the lock when its TTL runs out", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const lockKey = crypto.randomUUID();
  const ttlMs = 2000;
  let holder: Subprocess<"ignore", "pipe", "pipe"> | null = null;
  try {
    holder = Bun.spawn(
      [bunPath, FIXTURE, "hold", cluster.endpoints().join(","), lockKey, String(ttlMs)],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    type Held = { acquired: boolean; sentAt: number };
    const { found } = await readUntil(holder.stdout, timeouts.conditionMs, (text) =>
      text.includes("\n") ? (JSON.parse(text) as Held) : undefined);
    expect(found?.acquired).toBe(true);
    const sentAt = (found as { sentAt: number }).sentAt;
    holder.kill("SIGKILL");
    await holder.exited;
    // Another client tries at once and keeps trying: refused until the TTL has run out.
    let refusals = 0;
    let acquiredAt = 0;
    while (acquiredAt === 0 && Date.now() < sentAt + ttlMs + 10_000) {
      try {
        await client.set(lockKey, "next owner", { ifVersion: 0, ttlMs });
        acquiredAt = Date.now();
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        expect(error.version).toBeGreaterThan(0);
        refusals++;
        await Bun.sleep(10); // the recipe's polling pause, not a wait for a condition
      }
    }
    expect(refusals).toBeGreaterThan(0);
    expect(acquiredAt).toBeGreaterThanOrEqual(sentAt + ttlMs);
    expect(acquiredAt).toBeLessThanOrEqual(sentAt + ttlMs + LATE_MS_MAX);
  } finally {
    holder?.kill("SIGKILL");
  }
}, 30_000);
