// The README's lock recipe, run as a separate client process (the README shows the same code):
// acquire with SET IF 0 and a TTL, renew by SET IF <version>, release with DELETE IF <version>.
// The README waits for a release with WATCH; this process polls instead (retry after a pause).
//   bun lock-fixture.ts contend <endpoints> <lock key> <counter key> <rounds> <ttl ms>
//     takes the lock <rounds> times; inside, increments the counter with a plain GET and SET
//     (safe only under mutual exclusion) and renews once; prints {"rounds": n} at the end
//   bun lock-fixture.ts hold <endpoints> <lock key> <ttl ms>
//     takes the lock, prints {"acquired": true, "sentAt": <wall ms before the SET>}, and waits
//     to be killed
import { WarehouseClient } from "../../../lib/client/client.ts";
import { ConflictError } from "../../../lib/util/errors.ts";

const [mode = "", endpoints = "", lockKey = "", ...rest] = process.argv.slice(2);
const client = await WarehouseClient.connect({
  endpoints: endpoints.split(","), requestTimeoutMs: 1000, giveUpMs: 10_000,
});
const owner = crypto.randomUUID();

/** Takes the lock: returns the version that proves it is ours. */
async function acquire(ttlMs: number): Promise<number> {
  for (;;) {
    try {
      return (await client.set(lockKey, owner, { ifVersion: 0, ttlMs })).version;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      await Bun.sleep(10); // held: wait for its release (the README uses WATCH here)
    }
  }
}

/** Extends the lease; fails with ConflictError when it was lost. */
async function renew(version: number, ttlMs: number): Promise<number> {
  return (await client.set(lockKey, owner, { ifVersion: version, ttlMs })).version;
}

async function release(version: number): Promise<void> {
  await client.delete(lockKey, { ifVersion: version });
}

if (mode === "contend") {
  const [counterKey = "", roundsText = "0", ttlText = "0"] = rest;
  const ttlMs = Number(ttlText);
  for (let round = 0; round < Number(roundsText); round++) {
    let version = await acquire(ttlMs);
    const current = await client.get(counterKey);
    version = await renew(version, ttlMs);
    await client.set(counterKey, String(Number(current.value ?? "0") + 1));
    await release(version);
  }
  console.log(JSON.stringify({ rounds: Number(roundsText) }));
  await client.close();
} else if (mode === "hold") {
  const sentAt = Date.now();
  await acquire(Number(rest[0]));
  console.log(JSON.stringify({ acquired: true, sentAt }));
  await new Promise(() => undefined); // held until killed
}
