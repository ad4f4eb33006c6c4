// The HTTP endpoints of real nodes: /health and /ready, /status against the cluster, /metrics as
// Prometheus text whose counters move with the requests made, and the read-only rules.
import { expect, test } from "bun:test";
import { placeKey, placeReplicas } from "../../../lib/placement.ts";
import type { NodeStatus } from "../../../lib/ops/index.ts";
import { waitFor } from "../../harness/cluster.ts";
import { getJson, getText, httpOf } from "../../harness/http.ts";
import { parsePrometheusText, sampleValue } from "../../harness/prometheus.ts";
import { scenarioTimeoutMs, startSyncedCluster } from "../cluster/workload.ts";

async function metricsOf(url: string) {
  const answer = await getText(`${url}/metrics`);
  expect(answer.status).toBe(200);
  return parsePrometheusText(answer.body);
}

test("health, ready, status and metrics on a 3-node cluster", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const nodes = [1, 2, 3].map((id) => cluster.node(id));
  const urls = nodes.map(httpOf);
  const heartbeat = await client.request({ op: "HEARTBEAT" });

  for (const url of urls) {
    expect(await getJson(`${url}/health`)).toEqual({ status: 200, body: { status: "ok" } });
    await waitFor(async () => (await getJson(`${url}/ready`)).status === 200,
      { what: `${url}/ready to answer 200` });
    expect((await getJson(`${url}/ready`)).body).toEqual({ ready: true });
  }

  // Every node's /status says what the cluster is: members (with the HTTP addresses they
  // advertise), the leader, the term, and each partition's placement, all in sync.
  const insync = heartbeat["insync"] as number[][];
  const insyncText = JSON.stringify(insync.map((ids) => [...ids].sort()));
  for (const [i, url] of urls.entries()) {
    // A follower applies the leader's last in-sync changes a moment after the leader does, and
    // counts a member alive once its heartbeats arrive (its subscription may still be connecting).
    await waitFor(async () => {
      const { body } = await getJson<NodeStatus>(`${url}/status`);
      return body.members.every((m) => m.http !== null && m.alive) &&
        JSON.stringify(body.partitions.map((p) => [...p.insync].sort())) === insyncText;
    }, { what: `${url}/status to show every member alive with its HTTP address, and the ` +
      "leader's in-sync sets" });
    const status = (await getJson<NodeStatus>(`${url}/status`)).body;
    expect(status.id).toBe(i + 1);
    expect(status.role).toBe(i === 0 ? "leader" : "follower");
    expect(status.leader).toEqual({ id: 1, endpoint: nodes[0]?.endpoint ?? "" });
    expect(status.term).toBe(heartbeat["term"] as number);
    expect(status.members).toEqual(nodes.map((n) => ({
      id: n.id, endpoint: n.endpoint, http: n.http, alive: true,
    })));
    expect(status.partitionCount).toBe(64);
    expect(status.laggingPartitions).toBe(0);
    expect(status.partitions.map((p) => p.replicas)).toEqual(
      Array.from({ length: 64 }, (_, p) => placeReplicas("balanced", p, 64, [1, 2, 3], 2)));
    expect(status.partitions.map((p) => [...p.insync].sort())).toEqual(
      insync.map((ids) => [...ids].sort()));
  }

  const before = await Promise.all(urls.map(metricsOf));
  const keys = Array.from({ length: 20 }, () => crypto.randomUUID());
  for (const key of keys) await client.set(key, `value of ${key}`);
  for (const key of keys.slice(0, 10)) expect(await client.get(key)).toMatchObject({ found: true });
  const after = await Promise.all(urls.map(metricsOf));

  const leaderBefore = before[0] ?? new Map();
  const leaderAfter = after[0] ?? new Map();
  const moved = (name: string, labels: Record<string, string> = {}, i = 0) =>
    sampleValue(after[i] ?? new Map(), name, labels) -
    sampleValue(before[i] ?? new Map(), name, labels);
  expect(moved("warehouse_requests_total", { op: "SET", outcome: "ok" })).toBe(20);
  expect(moved("warehouse_requests_total", { op: "GET", outcome: "ok" })).toBe(10);
  expect(moved("warehouse_request_duration_seconds_count", { op: "SET" })).toBe(20);
  expect(sampleValue(leaderAfter, "warehouse_is_leader")).toBe(1);
  expect(sampleValue(after[1] ?? new Map(), "warehouse_is_leader")).toBe(0);
  expect(sampleValue(leaderAfter, "warehouse_term")).toBe(heartbeat["term"] as number);
  expect(sampleValue(leaderAfter, "warehouse_members", { state: "alive" })).toBe(3);
  for (let p = 0; p < 64; p++) {
    expect(sampleValue(leaderAfter, "warehouse_partition_insync_replicas", { partition: `${p}` }))
      .toBe(2);
  }
  // Each key went to its two replicas: the rows each node committed are the keys it holds.
  for (const [i, node] of nodes.entries()) {
    const held = keys.filter((k) => placeKey("balanced", k, 64, [1, 2, 3], 2).includes(node.id));
    expect(moved("warehouse_storage_committed_rows_total", {}, i)).toBe(held.length);
    expect(moved("warehouse_storage_commits_total", {}, i)).toBeGreaterThan(0);
  }
  const replicatedTo = (peer: number) => {
    const labels = { peer: `${peer}`, outcome: "ok" };
    return sampleValue(leaderAfter, "warehouse_replicated_rows_total", labels) -
      sampleValue(leaderBefore, "warehouse_replicated_rows_total", labels);
  };
  for (const peer of [2, 3]) {
    const held = keys.filter((k) => placeKey("balanced", k, 64, [1, 2, 3], 2).includes(peer));
    expect(replicatedTo(peer)).toBe(held.length);
  }
  // The leader timed its replicate round trips to each replica that took a key.
  for (const peer of [2, 3]) {
    const labels = { peer: `${peer}`, op: "replicate" };
    const timed = sampleValue(leaderAfter, "warehouse_peer_request_duration_seconds_count", labels) -
      sampleValue(leaderBefore, "warehouse_peer_request_duration_seconds_count", labels);
    expect(timed).toBeGreaterThan(0);
    expect(moved("warehouse_peer_requests_total", { ...labels, outcome: "ok" })).toBe(timed);
  }
  expect(sampleValue(leaderAfter, "warehouse_connections", { socket: "request" }))
    .toBeGreaterThan(0);
  expect(sampleValue(leaderAfter, "process_resident_memory_bytes")).toBeGreaterThan(0);

  // Keys of partitions the leader does not hold: the first read of each goes to a replica
  // (a miss), later ones are answered from the leader's read cache; a write replaces the row.
  const elsewhere: string[] = [];
  while (elsewhere.length < 3) {
    const key = crypto.randomUUID();
    if (!placeKey("balanced", key, 64, [1, 2, 3], 2).includes(1)) elsewhere.push(key);
  }
  for (const key of elsewhere) await client.set(key, "first");
  const cacheBefore = await metricsOf(urls[0] ?? "");
  for (let round = 0; round < 2; round++) {
    for (const key of elsewhere) expect(await client.get(key)).toMatchObject({ value: "first" });
  }
  for (const key of elsewhere) await client.set(key, "second");
  for (const key of elsewhere) expect(await client.get(key)).toMatchObject({ value: "second" });
  const cacheAfter = await metricsOf(urls[0] ?? "");
  const cacheReads = (outcome: string) =>
    sampleValue(cacheAfter, "warehouse_read_cache_reads_total", { outcome }) -
    sampleValue(cacheBefore, "warehouse_read_cache_reads_total", { outcome });
  expect(cacheReads("miss")).toBe(3);
  expect(cacheReads("hit")).toBe(6);

  // Read-only: nothing but GET and HEAD; unknown paths are 404.
  const url = urls[0] ?? "";
  expect((await getText(`${url}/status`, { method: "POST" })).status).toBe(405);
  expect((await getText(`${url}/nothing-here`)).status).toBe(404);
}, scenarioTimeoutMs);

test("/ready is 503 while no leader is known, though /health is 200", async () => {
  await using env = await startSyncedCluster();
  const { cluster } = env;
  const handles = [await cluster.kill(1), await cluster.kill(2), await cluster.kill(3)];
  // Alone and restarted, node 2 waits for a leader (for a long boot grace here) before it
  // trusts its own data.
  const [, stopped2] = handles;
  if (stopped2 === undefined) throw new Error("node 2 was not running");
  const node2 = await cluster.restart(2, stopped2, { extraArgs: ["--suspect-ms", "3000"] });
  const url = httpOf(node2);
  expect(await getJson(`${url}/health`)).toEqual({ status: 200, body: { status: "ok" } });
  expect(await getJson(`${url}/ready`)).toEqual({
    status: 503, body: { ready: false, reason: "no leader known yet" },
  });
}, scenarioTimeoutMs);

test("/ready is 503 on a node catching up, and 200 once it has caught up", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const node3 = await cluster.kill(3);
  // Keys of partitions held by nodes 2 and 3 only: while 3 is down, 2 alone holds their writes.
  const keys: string[] = [];
  while (keys.length < 5) {
    const key = crypto.randomUUID();
    const replicas = placeKey("balanced", key, 64, [1, 2, 3], 2).sort();
    if (replicas.join() === "2,3") keys.push(key);
  }
  for (const key of keys) await client.set(key, "written while node 3 was down");

  // With node 2 paused there is no live source to copy those partitions from: node 3 stays
  // behind, knowing the leader, until node 2 resumes.
  const node2 = cluster.node(2);
  node2.process.kill("SIGSTOP");
  try {
    await waitFor(async () => {
      const hb = await client.request({ op: "HEARTBEAT" });
      const members = hb["members"] as { id: number; alive: boolean }[];
      return members.some((m) => m.id === 2 && !m.alive);
    }, { what: "the leader to see node 2 down" });
    const restarted = await cluster.restart(3, node3);
    const url = httpOf(restarted);
    const readyOf = () => getJson<{ ready: boolean; reason?: string }>(`${url}/ready`);
    await waitFor(async () => (await readyOf()).body.reason?.startsWith("catching up"),
      { what: "node 3's /ready to say it is catching up" });
    const waiting = await readyOf();
    expect(waiting.status).toBe(503);
    expect(waiting.body.reason).toMatch(/^catching up: /);
    const status = (await getJson<NodeStatus>(`${url}/status`)).body;
    expect(status.leader?.id).toBe(1);
    // Node 3 is still a member in the leader's cluster view, alive, with a status of its own.
    // (Its lag is not counted here: with node 2 paused while node 3 was down, the leader lost
    // its quorum and took over again, and it cannot take over partitions whose only in-sync
    // replica is node 2; their head is unknown until node 2 answers. lagOf is unit-tested.)
    await waitFor(async () => {
      const view = await getJson<{ nodes: { id: number; alive: boolean; status: unknown }[] }>(
        `${httpOf(cluster.node(1))}/cluster`);
      const three = view.body.nodes.find((n) => n.id === 3);
      return three?.alive === true && three.status !== null;
    }, { what: "the leader's /cluster to show node 3 alive with its status" });
  } finally {
    node2.process.kill("SIGCONT");
  }
  const url = httpOf(cluster.node(3));
  await waitFor(async () => (await getJson(`${url}/ready`)).status === 200,
    { what: "node 3 to be ready once node 2 is back" });
  expect((await getJson(`${url}/ready`)).body).toEqual({ ready: true });
  // Node 3 came back into the in-sync sets it had left; whoever led counted those catch-ups.
  const caughtUp = (await Promise.all([1, 2, 3].map((id) => metricsOf(httpOf(cluster.node(id))))))
    .reduce((sum, m) => sum + sampleValue(m, "warehouse_catch_ups_total", { outcome: "ok" }), 0);
  expect(caughtUp).toBeGreaterThanOrEqual(1);
}, scenarioTimeoutMs);
