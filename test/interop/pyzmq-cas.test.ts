// Compare-and-set from a real libzmq client: two Debian python3-zmq DEALERs (libzmq 4.3.4)
// increment one counter concurrently with GET and SET ifVersion against a 3-node cluster, as
// the README's Protocol section describes. Every increment must count exactly once, and every
// CONFLICT must carry the version of the write that won.
import { expect, test } from "bun:test";
import { WarehouseClient } from "../../lib/client/client.ts";
import { Cluster, waitForSynced } from "../harness/cluster.ts";
import { runToEnd } from "../harness/run.ts";

const FIXTURE = new URL("./pyzmq-cas-fixture.py", import.meta.url).pathname;
const INCREMENTS = 15;

type Json = Record<string, unknown>;

async function incrementer(endpoint: string, key: string): Promise<Json[]> {
  const run = await runToEnd(["/usr/bin/python3", FIXTURE, endpoint, key, String(INCREMENTS)], {
    deadlineMs: 30_000,
  });
  const lines = run.stdout.split("\n").filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Json);
  if (run.code !== 0 || lines.at(-1)?.["done"] !== true) {
    throw new Error(`python fixture failed (exit ${run.code}): ${run.stdout}${run.stderr}`);
  }
  return lines.slice(0, -1);
}

test("two python3-zmq clients count to 2 x 15 by compare-and-set", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(), requestTimeoutMs: 1000, giveUpMs: 5000,
  });
  try {
    await waitForSynced((b) => client.request(b), { members: 3, rf: 2, leaderId: 1 });
    const key = crypto.randomUUID();
    const leader = cluster.node(1).endpoint;
    const exchanges = (await Promise.all([incrementer(leader, key), incrementer(leader, key)]))
      .flat();
    const final = await client.get(key);
    expect(final.value).toBe(String(2 * INCREMENTS));
    const sets = exchanges.filter((e) => (e["request"] as Json)["op"] === "SET");
    const wins = sets.filter((e) => (e["reply"] as Json)["ok"] === true);
    expect(wins).toHaveLength(2 * INCREMENTS);
    const winVersions = new Set(wins.map((e) => (e["reply"] as Json)["version"]));
    expect(final.version !== undefined && winVersions.has(final.version)).toBe(true);
    for (const e of sets) {
      const reply = e["reply"] as Json;
      if (reply["ok"] === true) continue;
      const error = reply["error"] as Json;
      expect(error["code"]).toBe("CONFLICT");
      // The loser learns the version of a write that won, newer than the one it compared with.
      expect(winVersions.has(error["version"])).toBe(true);
      const compared = (e["request"] as Json)["ifVersion"] as number;
      expect(error["version"] as number).toBeGreaterThan(compared);
    }
  } finally {
    await client.close();
  }
}, 60_000);
