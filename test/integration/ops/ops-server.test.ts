// The HTTP server on its own, over a real socket, with a NodeStatusSource made up by the test:
// answers before the node is attached, readiness from the source, and a /cluster view that
// survives other nodes answering garbage or not at all.
import { expect, test } from "bun:test";
import { NodeMetrics, type NodeStatus, OpsServer } from "../../../lib/ops/index.ts";
import { nullLogger } from "../../../lib/util/log.ts";
import { useCleanups } from "../../harness/cleanup.ts";
import { getJson } from "../../harness/http.ts";

const cleanups = useCleanups();

function startServer(metrics = new NodeMetrics("1.2.3")): OpsServer {
  const server = OpsServer.start({
    host: "127.0.0.1", port: 0, advertise: "127.0.0.1", metrics, log: nullLogger,
  });
  cleanups.defer(() => server.stop());
  return server;
}

function statusWith(overrides: Partial<NodeStatus>): NodeStatus {
  return {
    id: 1, version: "1.2.3", endpoint: "tcp://127.0.0.1:1", pub: "tcp://127.0.0.1:2", http: null,
    role: "leader", term: 4, leader: { id: 1, endpoint: "tcp://127.0.0.1:1" }, caughtUp: true,
    rf: 2, partitionCount: 1, members: [],
    partitions: [{ partition: 0, replicas: [1, 2], insync: [1], position: null, head: 0 }],
    laggingPartitions: 0, ...overrides,
  };
}

const gauges = () => ({
  commitQueueRows: 0, peerPendingRequests: new Map<number, number>(),
  requestConnections: 0, publishConnections: 0, clientRequestsInFlight: 0, clientBufferBytes: 0,
});

test("before the node is attached: healthy, not ready, no status yet", async () => {
  const server = startServer();
  expect(await getJson(`${server.url}/health`)).toEqual({ status: 200, body: { status: "ok" } });
  expect(await getJson(`${server.url}/ready`)).toEqual({
    status: 503, body: { ready: false, reason: "starting: not yet a member of a cluster" },
  });
  expect((await getJson(`${server.url}/status`)).status).toBe(503);
});

test("readiness follows the source", async () => {
  const server = startServer();
  let status = statusWith({ leader: null });
  server.attach({ status: () => status, gauges });
  expect(await getJson(`${server.url}/ready`)).toEqual({
    status: 503, body: { ready: false, reason: "no leader known yet" },
  });
  status = statusWith({});
  expect(await getJson(`${server.url}/ready`)).toEqual({ status: 200, body: { ready: true } });
  expect((await getJson<NodeStatus>(`${server.url}/status`)).body).toEqual(status);
});

test("/cluster: a peer answering garbage or nothing is reported, not fatal", async () => {
  // Node 2 answers its status with text and its history with malformed points; node 4 with JSON
  // that is not a status.
  const garbage = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    fetch: (request) => new URL(request.url).pathname === "/history"
      ? Response.json({ points: [{ t: "x" }, { t: 5, count: 1, errors: 0, buckets: [1] }] })
      : new Response("not json"),
  });
  const wrongShape = Bun.serve({
    hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ id: 4, role: 7 }),
  });
  cleanups.defer(() => garbage.stop(true));
  cleanups.defer(() => wrongShape.stop(true));
  const peer = (id: number, port: number) => ({
    id, endpoint: `tcp://127.0.0.1:${id}`, http: `http://127.0.0.1:${port}`, alive: true,
  });
  const metrics = new NodeMetrics("1.2.3", () => 42);
  metrics.memberDown(3);
  const server = startServer(metrics);
  server.attach({
    status: () => statusWith({
      members: [
        { id: 1, endpoint: "tcp://127.0.0.1:1", http: server.url, alive: true },
        peer(2, garbage.port ?? 0),
        { id: 3, endpoint: "tcp://127.0.0.1:5", http: null, alive: false },
        peer(4, wrongShape.port ?? 0),
      ],
    }),
    gauges,
  });
  const { status, body } = await getJson<{
    self: number;
    nodes: { id: number; status: unknown; error: string | null }[];
    events: unknown[];
  }>(`${server.url}/cluster`);
  expect(status).toBe(200);
  expect(body.self).toBe(1);
  expect(body.nodes.map((n) => [n.id, n.status === null, n.error === null])).toEqual([
    [1, false, true], [2, true, false], [3, true, false], [4, true, false],
  ]);
  expect(body.events).toEqual([{ ts: 42, kind: "member_down", text: "node 3 is down" }]);
});
