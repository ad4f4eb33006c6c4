// Runs inside the clients' network namespace of the multi-host test: talks to the cluster over
// the test network only, and prints one JSON line of what it saw. Usage:
//   bun probe-fixture.ts write <endpoints> <http urls>      wait until synced, write, read back
//   bun probe-fixture.ts read <endpoints> <leader id> <keys>  wait for that leader, read back
import { WarehouseClient } from "../../../lib/client/client.ts";
import { waitFor, waitForSynced } from "../../harness/cluster.ts";

const [mode = "", endpointList = "", third = "", fourth = ""] = process.argv.slice(2);
const client = await WarehouseClient.connect({
  endpoints: endpointList.split(","), requestTimeoutMs: 1000, giveUpMs: 5000,
});
try {
  if (mode === "write") {
    await waitForSynced((body) => client.request(body), { members: 3, rf: 2 });
    const keys = Array.from({ length: 10 }, () => crypto.randomUUID());
    for (const key of keys) await client.set(key, `value ${key}`);
    const values = await Promise.all(keys.map(async (key) => (await client.get(key)).value));
    const urls = third.split(",");
    const statuses = await Promise.all(urls.map(async (url) => {
      await waitFor(async () => (await fetch(`${url}/ready`)).status === 200,
        { what: `${url}/ready` });
      return (await fetch(`${url}/status`)).json();
    }));
    const cluster = (await (await fetch(`${urls[1]}/cluster`)).json()) as {
      nodes: { id: number; status: unknown }[];
    };
    const answered = cluster.nodes.filter((n) => n.status !== null).map((n) => n.id);
    console.log(JSON.stringify({ keys, values, statuses, clusterViewAnswered: answered }));
  } else if (mode === "read") {
    const leaderId = Number(third);
    await waitFor(async () => (await client.heartbeat()).leader?.id === leaderId,
      { what: `node ${leaderId} to lead` });
    const keys = fourth.split(",");
    const values = [];
    for (const key of keys) values.push((await client.get(key)).value);
    console.log(JSON.stringify({ values }));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await client.close();
}
