// Makes docs/status-page.png: a local 3-node cluster (temp dirs, free ports) under a steady load
// of SETs and GETs for about 40 s, node 3 killed at 20 s and restarted at 26 s, then a screenshot
// of node 1's status page in headless Chromium. Usage: bun scripts/status-page-screenshot.ts [out]
import { join } from "node:path";
import { WarehouseClient } from "../lib/client/client.ts";
import { Browser } from "../test/harness/browser.ts";
import { Cluster, repoRoot, waitForSynced } from "../test/harness/cluster.ts";

const out = process.argv[2] ?? join(repoRoot, "docs", "status-page.png");
const writers = 8;
await using cluster = new Cluster();
await cluster.startMany(3, 2);
const client = await WarehouseClient.connect({
  endpoints: cluster.endpoints(), requestTimeoutMs: 1000, giveUpMs: 5000,
});
await waitForSynced((body) => client.request(body), { members: 3, rf: 2, leaderId: 1 });
let isRunning = true;
const load = Array.from({ length: writers }, async () => {
  while (isRunning) {
    const key = crypto.randomUUID();
    await client.set(key, "x".repeat(256)).catch(() => undefined);
    await client.get(key).catch(() => undefined);
  }
});
const started = Date.now();
const at = (seconds: number) => Bun.sleep(Math.max(0, started + seconds * 1000 - Date.now()));
await at(20);
const node3 = await cluster.kill(3);
await at(26);
await cluster.restart(3, node3);
await at(40);
{
  await using browser = await Browser.launch();
  const page = await browser.newPage();
  await page.navigate(`${cluster.node(1).http ?? ""}/`);
  await Bun.sleep(1500);
  await page.screenshot(out);
  if (page.errors.length > 0) console.error(page.errors.join("\n"));
}
isRunning = false;
await Promise.all(load);
await client.close();
console.log(`wrote ${out}`);
