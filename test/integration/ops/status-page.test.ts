// The status page in a real browser (headless Chromium over the DevTools protocol): it loads
// with no console errors, shows three nodes and the leader, draws the charts, and shows a killed
// leader as down, and the new leader, within two seconds. Screenshots go to .tmp/.
import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { WarehouseClient } from "../../../lib/client/client.ts";
import { placeReplicas } from "../../../lib/placement.ts";
import { Browser, type Page } from "../../harness/browser.ts";
import { repoRoot, waitFor } from "../../harness/cluster.ts";
import { httpOf } from "../../harness/http.ts";
import { scenarioTimeoutMs, startSyncedCluster } from "../cluster/workload.ts";

const outputDir = join(repoRoot, ".tmp");

interface NodeCard {
  id: string;
  state: string;
  role: string;
}

const cardsOf = (page: Page) => page.evaluate<NodeCard[]>(`[...document.querySelectorAll(".node")]
  .map((n) => ({ id: n.dataset.nodeId, state: n.dataset.state, role: n.dataset.role }))`);
const leaderOf = (page: Page) =>
  page.evaluate<string | null>(`document.querySelector("#summary")?.dataset.leader ?? null`);
/** Points drawn in a chart's first line (a path "M x,y L x,y ..."). */
const pointsDrawn = (page: Page, chart: string) => page.evaluate<number>(
  `(document.querySelector("#${chart} path.line")?.getAttribute("d") ?? "")
     .split(/[ML]/).filter(Boolean).length`);

/** SETs and GETs in a loop until stopped, so the charts have something to draw. */
function startLoad(client: WarehouseClient): { stop: () => Promise<void> } {
  let isRunning = true;
  const done = (async () => {
    while (isRunning) {
      const key = crypto.randomUUID();
      // Failures during the failover are expected; the page is what this test checks.
      await client.set(key, "chart load").catch(() => undefined);
      await client.get(key).catch(() => undefined);
    }
  })();
  return { stop: async () => { isRunning = false; await done; } };
}

test("the status page shows the cluster, draws its charts, and follows a failover", async () => {
  mkdirSync(outputDir, { recursive: true });
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const load = startLoad(client);
  try {
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    // Served by a follower: the page must show the whole cluster from any node.
    await page.navigate(`${httpOf(cluster.node(2))}/`);

    await waitFor(async () => (await cardsOf(page)).length === 3 && (await leaderOf(page)) === "1",
      { what: "the page to show three nodes and node 1 leading" });
    expect(await cardsOf(page)).toEqual([
      { id: "1", state: "alive", role: "leader" },
      { id: "2", state: "alive", role: "follower" },
      { id: "3", state: "alive", role: "follower" },
    ]);
    const gridCells =
      await page.evaluate<number>(`document.querySelectorAll("#grid .cell").length`);
    expect(gridCells).toBe(3 * 64);
    const insyncCells = await page.evaluate<number>(
      `document.querySelectorAll("#grid .cell.insync").length`);
    expect(insyncCells).toBe(2 * 64);

    // A line needs two one-second points with requests in them.
    await waitFor(async () => (await pointsDrawn(page, "throughput")) >= 2 &&
      (await pointsDrawn(page, "latency")) >= 2, { what: "both charts to draw a line" });
    await page.screenshot(join(outputDir, "status-page.png"));

    await cluster.kill(1);
    const killedMs = performance.now();
    await waitFor(async () => {
      const cards = await cardsOf(page);
      const node1 = cards.find((c) => c.id === "1");
      return node1?.state === "down" && (await leaderOf(page)) === "2";
    }, { what: "the page to show node 1 down and node 2 leading" });
    const shownAfterMs = performance.now() - killedMs;
    expect(shownAfterMs).toBeLessThan(2000);
    // Node 1's copies show as on a down node; every one of them, nothing else.
    const downCells = await page.evaluate<number>(
      `document.querySelectorAll('#grid .row[data-node-id="1"] .cell.down').length`);
    const node1Partitions = Array.from({ length: 64 },
      (_, p) => placeReplicas("balanced", p, 64, [1, 2, 3], 2)).filter((ids) => ids.includes(1))
      .length;
    expect(downCells).toBe(node1Partitions);
    // The event follows once node 1's heartbeats have been missing for the suspicion time
    // (500 ms), which can be after the new leader is elected (about 300 ms).
    const eventsShown = () => page.evaluate<string[]>(
      `[...document.querySelectorAll("#events li")].map((li) => li.textContent)`);
    await waitFor(async () => (await eventsShown()).some((text) => text.includes("node 1 is down")),
      { what: "the events to say node 1 is down" });
    expect(performance.now() - killedMs).toBeLessThan(2000);
    const events = await eventsShown();
    expect(events.some((text) => text.includes("node 2 leads"))).toBe(true);
    await page.screenshot(join(outputDir, "status-page-failover.png"));
    expect(page.errors).toEqual([]);
  } finally {
    await load.stop();
  }
}, scenarioTimeoutMs);
