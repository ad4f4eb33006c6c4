// One client process of the CAS race: increments a counter key `increments` times with the
// client library's compare-and-set (GET the version, SET with ifVersion, retry on CONFLICT),
// then prints one JSON line: the versions its writes got and every conflict it met.
//   bun counter-fixture.ts <endpoints> <key> <increments>
import { WarehouseClient } from "../../../lib/client/client.ts";
import { ConflictError } from "../../../lib/util/errors.ts";

const [endpoints = "", key = "", incrementsText = "0"] = process.argv.slice(2);
const client = await WarehouseClient.connect({
  endpoints: endpoints.split(","), requestTimeoutMs: 1000, giveUpMs: 10_000,
});
const wins: { value: number; version: number }[] = [];
const conflicts: { ifVersion: number; version: number }[] = [];
try {
  while (wins.length < Number(incrementsText)) {
    const current = await client.get(key);
    const count = current.found ? Number(current.value) : 0;
    const ifVersion = current.version ?? 0;
    try {
      const written = await client.set(key, String(count + 1), { ifVersion });
      wins.push({ value: count + 1, version: written.version });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      conflicts.push({ ifVersion, version: error.version });
    }
  }
  console.log(JSON.stringify({ wins, conflicts }));
} finally {
  await client.close();
}
