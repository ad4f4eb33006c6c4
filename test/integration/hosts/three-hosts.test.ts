// Three "machines": each node in its own network namespace, bound to 0.0.0.0 and advertising its
// own address (found by itself), joined over a bridge; clients in a fourth namespace reach them
// only over that network. Also: a node refuses to advertise another machine's address, and one
// bound to 0.0.0.0 with no address but loopback asks for --advertise. Needs root and iproute2.
import { expect, test } from "bun:test";
import { join } from "node:path";
import type { NodeStatus } from "../../../lib/ops/index.ts";
import { Cluster, bunPath, repoRoot } from "../../harness/cluster.ts";
import { TestNetwork } from "../../harness/netns.ts";
import { runToEnd } from "../../harness/run.ts";
import { scenarioTimeoutMs } from "../cluster/workload.ts";

const probe = join(import.meta.dir, "probe-fixture.ts");

test("a cluster of three hosts, clients on a fourth", async () => {
  await using network = await TestNetwork.create(4, 7);
  await using cluster = new Cluster();
  const [h1, h2, h3, clients] = [1, 2, 3, 4].map((i) => network.host(i));
  if (h1 === undefined || h2 === undefined || h3 === undefined || clients === undefined) {
    throw new Error("the test network has fewer than four hosts");
  }
  // The default ports on every host: they are different machines.
  const ports = { port: 7001, pubPort: 7101, httpPort: 7201 };
  // No keys on this private test network: --insecure says so, and the nodes must warn.
  const wildcard = ["--host", "0.0.0.0", "--insecure"];
  const n1 = await cluster.start({
    id: 1, rf: 2, ...ports, wrapper: h1.exec, extraArgs: wildcard,
  });
  expect(n1.endpoint).toBe(`tcp://${h1.address}:7001`);
  expect(n1.pub).toBe(`tcp://${h1.address}:7101`);
  expect(n1.http).toBe(`http://${h1.address}:7201`);
  const n2 = await cluster.start({
    id: 2, join: [n1.endpoint], ...ports, wrapper: h2.exec, extraArgs: wildcard,
  });
  const n3 = await cluster.start({
    id: 3, join: [n1.endpoint], ...ports, wrapper: h3.exec, extraArgs: wildcard,
  });
  const nodes = [n1, n2, n3];
  for (const n of nodes) expect(n.stderr()).toContain('"event":"insecure"');
  const endpoints = nodes.map((n) => n.endpoint).join(",");
  const urls = nodes.map((n) => n.http ?? "").join(",");

  const wrote = await runToEnd([...clients.exec, bunPath, probe, "write", endpoints, urls],
    { cwd: repoRoot });
  expect(wrote.stderr).toBe("");
  expect(wrote.code).toBe(0);
  const seen = JSON.parse(wrote.stdout) as {
    keys: string[];
    values: string[];
    statuses: NodeStatus[];
    clusterViewAnswered: number[];
  };
  expect(seen.values).toEqual(seen.keys.map((key) => `value ${key}`));
  const expectedMembers = nodes.map((n) => ({
    id: n.id, endpoint: n.endpoint, http: n.http, alive: true,
  }));
  for (const status of seen.statuses) expect(status.members).toEqual(expectedMembers);
  expect(seen.statuses.map((s) => s.role)).toEqual(["leader", "follower", "follower"]);
  // The page's cluster view, asked of node 2, reached every node over the test network.
  expect(seen.clusterViewAnswered).toEqual([1, 2, 3]);

  // The leader's machine dies: the client on the fourth host carries on with node 2.
  await cluster.kill(1);
  const read = await runToEnd(
    [...clients.exec, bunPath, probe, "read", endpoints, "2", seen.keys.join(",")],
    { cwd: repoRoot },
  );
  expect(read.stderr).toBe("");
  expect(JSON.parse(read.stdout)).toEqual({ values: seen.values });
}, scenarioTimeoutMs);

test("the advertised address must be this machine's, and 0.0.0.0 needs one to find", async () => {
  await using network = await TestNetwork.create(2, 8);
  const [h1, h2] = [network.host(1), network.host(2)];
  const node = [bunPath, join(repoRoot, "node.ts"), "--id", "1", "--data", "/nonexistent/wh"];
  // Without keys, an address other machines reach needs --insecure.
  const exposed = await runToEnd([...h1.exec, ...node, "--host", "0.0.0.0"], { cwd: repoRoot });
  expect(exposed.code).toBe(1);
  expect(exposed.stderr).toContain("--host 0.0.0.0 can be reached from other machines");
  const foreign = await runToEnd(
    [...h1.exec, ...node, "--host", "0.0.0.0", "--insecure", "--advertise", h2.address],
    { cwd: repoRoot });
  expect(foreign.code).toBe(1);
  expect(foreign.stderr).toContain(`error: --advertise ${h2.address} (${h2.address}) is not an ` +
    "address of this machine");
  const lonely = await runToEnd([...network.bridgeExec, ...node, "--host", "0.0.0.0", "--insecure"],
    { cwd: repoRoot });
  expect(lonely.code).toBe(1);
  expect(lonely.stderr).toContain("error: --host 0.0.0.0 binds every interface, but this " +
    "machine has no address other nodes can dial (only loopback); give --advertise <address>");
}, scenarioTimeoutMs);
