// The REPL (client.ts) driven as a person would, against a real 3-node RF 2 cluster of
// `bun node.ts` processes: the whole dialogue of issue 3 section 3 through piped stdin, --exec
// scripts and --json replies, an interactive session on a pseudo-terminal that sees the leader
// killed (notice, writes go on) and then the cluster shrink below RF (warning), and an
// unreachable cluster (exit 2). Every process started here is SIGKILLed at the end.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { WarehouseClient } from "../../lib/client/client.ts";
import { helpOverview } from "../../lib/client/commands.ts";
import { partitionOf, placeReplicas } from "../../lib/placement.ts";
import {
  Cluster,
  type NodeHandle,
  bunPath,
  repoRoot,
  timeouts,
  waitFor,
  waitForSynced,
} from "../harness/cluster.ts";
import { PtySession } from "../harness/pty.ts";
import { type RunResult, runToEnd } from "../harness/run.ts";
import { SilentNode } from "../harness/silent-node.ts";

const clientPath = join(repoRoot, "client.ts");
// Hooks get bun's short default timeout, not bunfig's: allow for three slow starts and syncing.
const startMs = 3 * timeouts.readyMs + timeouts.conditionMs;
const underReplicated = "WARNING: cluster size (1) is smaller than replication factor (2)";

/** Runs client.ts to completion with `stdin` piped in (a pipe, so not interactive). */
function runClient(args: readonly string[], stdin = ""): Promise<RunResult> {
  return runToEnd([bunPath, clientPath, ...args], { cwd: repoRoot, stdin, deadlineMs: 30_000 });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A pattern for one table row: the cells in order, separated by column padding. */
function row(...cells: string[]): RegExp {
  return new RegExp(`^${cells.map(escapeRegExp).join("\\s+")}$`);
}

/** The summary line under the members table when node 1 leads. */
function summaryLine(leaderEndpoint: string, partitions: number): RegExp {
  const leader = escapeRegExp(leaderEndpoint);
  return new RegExp(`^leader: 1 \\(${leader}\\)  rf: 2  partitions: ${partitions}  term: \\d+$`);
}

/** Compares output line by line: a string must match exactly, a RegExp must match. */
function expectLines(text: string, expected: readonly (string | RegExp)[]): void {
  const lines = text.split("\n");
  expect(lines.length).toBe(expected.length);
  expected.forEach((want, index) => {
    const line = lines[index] ?? "";
    if (typeof want === "string") expect(line).toBe(want);
    else expect(line).toMatch(want);
  });
}

/** Starts 3 nodes with RF 2 and waits until node 1 leads with every partition in sync. Returns
 * the partition count the cluster reports. */
async function startSyncedCluster(cluster: Cluster): Promise<number> {
  await cluster.startMany(3, 2);
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(),
    requestTimeoutMs: 1_000,
    giveUpMs: 5_000,
  });
  try {
    await waitForSynced((body) => client.request(body), { members: 3, rf: 2, leaderId: 1 });
    return (await client.heartbeat()).partitions;
  } finally {
    await client.close();
  }
}

describe("REPL scripts against a 3-node RF 2 cluster", () => {
  let cluster: Cluster | null = null;
  let partitions = 0;
  const node = (id: number): NodeHandle => {
    if (cluster === null) throw new Error("no cluster");
    return cluster.node(id);
  };
  const connectArgs = (): string[] => {
    if (cluster === null) throw new Error("no cluster");
    return ["--connect", cluster.endpoints().join(",")];
  };

  beforeAll(async () => {
    cluster = new Cluster();
    partitions = await startSyncedCluster(cluster);
  }, startMs);

  afterAll(async () => {
    await cluster?.[Symbol.asyncDispose]();
    cluster = null;
  });

  test("piped stdin: the whole dialogue, errors included", async () => {
    const key = crypto.randomUUID();
    const jsonKey = crypto.randomUUID();
    const missingKey = crypto.randomUUID();
    const upperKey = crypto.randomUUID();
    const script = [
      `SET ${key} first`,
      `SET ${key} second`,
      `GET ${key}`,
      `SET ${jsonKey} '{"a": 1, "b": "x y"}'`,
      `GET ${jsonKey}`,
      `GET ${missingKey}`,
      `DELETE ${key}`,
      `GET ${key}`,
      `DELETE ${key}`,
      `SET ${upperKey.toUpperCase()} "upper case key"`,
      `get ${upperKey}`,
      `Get ${upperKey.toUpperCase()}`,
      "sEt not-a-uuid x",
      "heartbeat",
      "Nodes",
      `WHERE ${jsonKey}`,
      "HELP",
      "EXIT",
      `SET ${missingKey} never sent`,
      "",
    ].join("\n");
    const result = await runClient(connectArgs(), script);

    const [n1, n2, n3] = [node(1), node(2), node(3)];
    const partition = partitionOf(jsonKey, partitions);
    const replicaRows = placeReplicas("balanced", partition, partitions, [1, 2, 3], 2).map((id) =>
      row(" ", String(id), node(id).endpoint, "alive"),
    );
    expectLines(result.stdout, [
      "Created (2 replicas)",
      "Updated (2 replicas)",
      "second",
      "Created (2 replicas)",
      '{"a": 1, "b": "x y"}',
      "(nil)",
      "Deleted (2 replicas)",
      "(nil)",
      "(not found)",
      "Created (2 replicas)",
      "upper case key",
      "upper case key",
      // HEARTBEAT: the leader answers, with every instance and the replication factor.
      new RegExp(`^Heartbeat from node 1 \\(${escapeRegExp(n1.endpoint)}\\): leader, term \\d+$`),
      "Known instances (3):",
      row(" ", "*", "1", n1.endpoint, "pub", n1.pub, "alive"),
      row(" ", "2", n2.endpoint, "pub", n2.pub, "alive"),
      row(" ", "3", n3.endpoint, "pub", n3.pub, "alive"),
      `Replication factor: 2  partitions: ${partitions}  leader: 1 (${n1.endpoint})`,
      // NODES: roles and liveness as the client sees them, the leader starred.
      /^\s+id\s+endpoint\s+role\s+state$/,
      row("*", "1", n1.endpoint, "leader", "alive"),
      row(" ", "2", n2.endpoint, "follower", "alive"),
      row(" ", "3", n3.endpoint, "follower", "alive"),
      summaryLine(n1.endpoint, partitions),
      // WHERE: the partition and replicas lib/placement.ts names.
      `Key ${jsonKey}: partition ${partition} of ${partitions}`,
      "Replicas (rf 2):",
      ...replicaRows,
      ...helpOverview().split("\n"),
      "",
    ]);
    // Nothing after EXIT ran, no notice or warning was printed, the one error went to stderr,
    // and the misses and the invalid key failed the run (exit 1).
    expect(result.stderr).toBe("Error: key is not a valid UUID4\n");
    expect(result.code).toBe(1);
    const after = await runClient([...connectArgs(), "--exec", `GET ${missingKey}`]);
    expect(after).toEqual({ code: 1, stdout: "(nil)\n", stderr: "" });
  });

  test("--exec: commands split at ';' outside quotes, exit 0 when all succeed", async () => {
    const key = crypto.randomUUID();
    const exec =
      `SET ${key} "a; b"; GET ${key}; set ${key} 'c d'; get ${key}; ` +
      `SET ${key} "say \\"hi\\"\\n"; GET ${key}; DELETE ${key}`;
    const result = await runClient([...connectArgs(), "--exec", exec]);
    expect(result).toEqual({
      code: 0,
      stdout: [
        "Created (2 replicas)",
        "a; b",
        "Updated (2 replicas)",
        "c d",
        "Updated (2 replicas)",
        'say "hi"',
        "",
        "Deleted (2 replicas)",
        "",
      ].join("\n"),
      stderr: "",
    });

    const failed = await runClient([...connectArgs(), "--exec", `GET ${key}; GET 123; HELP`]);
    expect(failed.stdout).toBe(`(nil)\n${helpOverview()}\n`);
    expect(failed.stderr).toBe("Error: key is not a valid UUID4\n");
    expect(failed.code).toBe(1);
  });

  test("--json: one raw reply per line with the docs/protocol.md fields", async () => {
    const key = crypto.randomUUID();
    const exec = [
      `SET ${key} '{"n": 1}'`, `GET ${key}`, `SET ${key} v2`, `DELETE ${key}`, `DELETE ${key}`,
      `GET ${key}`, "HEARTBEAT", "NODES", `WHERE ${key}`, "GET not-a-uuid",
    ].join("; ");
    const result = await runClient([...connectArgs(), "--json", "--exec", exec]);
    const lines = result.stdout.trimEnd().split("\n");
    const replies = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const id = expect.anything();
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    const leader = { id: 1, endpoint: n1.endpoint };
    const members = [n1, n2, n3].map((n) => ({
      id: n.id, endpoint: n.endpoint, pub: n.pub, alive: true,
    }));
    const partition = partitionOf(key, partitions);
    const replicaIds = placeReplicas("balanced", partition, partitions, [1, 2, 3], 2);
    const placed = replicaIds.map((replicaId) => ({
      id: replicaId, endpoint: node(replicaId).endpoint, alive: true,
    }));
    expect(replies).toMatchObject([
      { id, ok: true, status: "created", replicas: 2 },
      { id, ok: true, found: true, value: '{"n": 1}' },
      { id, ok: true, status: "updated", replicas: 2 },
      { id, ok: true, status: "deleted", replicas: 2 },
      { id, ok: true, status: "not_found" },
      { id, ok: true, found: false },
      {
        id, ok: true, role: "leader", term: expect.any(Number), rf: 2, partitions, leader,
        node: { id: 1, endpoint: n1.endpoint, pub: n1.pub }, members,
      },
      { leader, rf: 2, partitions, term: expect.any(Number), members },
      { key, partition, replicas: placed },
      { ok: false, error: { code: "INVALID_KEY", message: "key is not a valid UUID4" } },
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(1);
  });
});

describe("REPL on a pseudo-terminal against a 3-node RF 2 cluster", () => {
  test("cluster on connect, SET/GET, leader killed, cluster below RF, Ctrl-D", async () => {
    await using cluster = new Cluster();
    const partitions = await startSyncedCluster(cluster);
    const [n1, n2, n3] = [cluster.node(1), cluster.node(2), cluster.node(3)];
    const args = ["--connect", cluster.endpoints().join(",")];
    const pty = new PtySession([bunPath, clientPath, ...args], {
      cwd: repoRoot,
      waitMs: timeouts.conditionMs,
    });
    try {
      // On connect: every node with its role and liveness, the leader and RF, then the prompt.
      await pty.waitFor("warehouse> ");
      expectLines(pty.screen(), [
        /^Warehouse \d+\.\d+\.\d+ \(bun client\.ts\)\. HELP lists the commands; Ctrl-D or EXIT/,
        /^\s+id\s+endpoint\s+role\s+state$/,
        row("*", "1", n1.endpoint, "leader", "alive"),
        row("", "2", n2.endpoint, "follower", "alive"),
        row("", "3", n3.endpoint, "follower", "alive"),
        summaryLine(n1.endpoint, partitions),
        "warehouse> ",
      ]);

      const key = crypto.randomUUID();
      pty.type(`SET ${key} '{"v": "one two"}'\r`);
      await pty.waitFor("Created (2 replicas)\nwarehouse> ");
      pty.type(`get ${key}\r`);
      await pty.waitFor('\n{"v": "one two"}\nwarehouse> ');
      pty.type("SET nope x\r");
      await pty.waitFor("\nError: key is not a valid UUID4\nwarehouse> ");
      // The cluster is healthy: no under-replication warning since connecting.
      expect(pty.screen()).not.toContain("WARNING");

      // Kill -9 the leader: the REPL says node 2 leads now, and writes go on.
      const beforeKill = pty.screen().length;
      await cluster.kill(1);
      await pty.waitFor(`Leader changed: node 2 (${n2.endpoint}), term `, 1, beforeKill);
      const afterNotice = pty.screen().length;
      pty.type(`SET ${key} "after failover"\r`);
      await pty.waitFor("Updated (", 1, afterNotice);
      pty.type(`GET ${key}\r`);
      await pty.waitFor("\nafter failover\nwarehouse> ", 1, afterNotice);
      expect(pty.screen().slice(afterNotice)).not.toContain("Error");
      // Two of three nodes still make RF 2.
      expect(pty.screen()).not.toContain("WARNING");

      // Kill node 2 as well: one live node is fewer than RF 2.
      const beforeSecondKill = pty.screen().length;
      await cluster.kill(2);
      await pty.waitFor(underReplicated, 1, beforeSecondKill);

      // Ctrl-D leaves with exit code 0.
      pty.type("\x04");
      await waitFor(() => pty.process.exitCode !== null, { what: "the REPL to exit on Ctrl-D" });
      expect(pty.process.exitCode).toBe(0);
    } finally {
      pty.close();
    }
  });
});

describe("REPL with an unreachable cluster", () => {
  const flags = ["--timeout-ms", "100", "--give-up-ms", "300"];
  let silent: SilentNode | null = null;
  afterEach(() => {
    silent?.stop();
    silent = null;
  });
  /** A node that accepts connections and never answers. */
  const deadEndpoint = (): string => {
    silent = new SilentNode();
    return silent.endpoint;
  };

  test("--exec and piped stdin exit 2 with a clear message", async () => {
    const endpoint = deadEndpoint();
    const key = crypto.randomUUID();
    const message = new RegExp(
      `^Error UNAVAILABLE: cannot reach the cluster at ${escapeRegExp(endpoint)}: .+\n$`,
    );
    const exec = await runClient(["--connect", endpoint, ...flags, "--exec", `GET ${key}`]);
    expect(exec.code).toBe(2);
    expect(exec.stdout).toBe("");
    expect(exec.stderr).toMatch(message);

    const piped = await runClient(["--connect", endpoint, ...flags], `SET ${key} v\nGET ${key}\n`);
    expect(piped.code).toBe(2);
    expect(piped.stdout).toBe("");
    expect(piped.stderr).toMatch(message);
  });

  test("an invalid key is refused without contacting the cluster (exit 1, not 2)", async () => {
    const result = await runClient(["--connect", deadEndpoint(), ...flags, "--exec", "SET a-b x"]);
    expect(result).toEqual({ code: 1, stdout: "", stderr: "Error: key is not a valid UUID4\n" });
  });
});

describe("REPL on a pseudo-terminal against a real node", () => {
  test("Tab completes a key, Ctrl-C cancels a GET to a frozen node, history is kept", async () => {
    await using cluster = new Cluster();
    const node = await cluster.start({ id: 1, rf: 1 });
    const history = join(cluster.root, "history");
    const pty = new PtySession(
      [bunPath, clientPath, "--connect", node.endpoint, "--history-file", history],
      { cwd: repoRoot, waitMs: timeouts.conditionMs },
    );
    try {
      await pty.waitFor("warehouse> ");
      const key = crypto.randomUUID();
      pty.type(`SET ${key} "first value"\r`);
      await pty.waitFor("Created (1 replica)\n");
      let mark = pty.screen().length;
      pty.type(`get ${key.slice(0, 6)}\t`);
      await pty.waitFor(`get ${key}`, 1, mark);
      pty.type("\r");
      await pty.waitFor("first value\nwarehouse> ", 1, mark);

      // A node that stops answering (SIGSTOP) makes the next GET hang; Ctrl-C abandons it.
      node.process.kill("SIGSTOP");
      mark = pty.screen().length;
      pty.type(`GET ${key}\r`);
      await pty.waitFor(`GET ${key}\n`, 1, mark);
      pty.type("\x03");
      await pty.waitFor(`Cancelled: GET abandoned at ${node.endpoint}; the request was ` +
        "abandoned (a write may still be carried out)\n", 1, mark);
      node.process.kill("SIGCONT");
      mark = pty.screen().length;
      pty.type(`GET ${key}\r`);
      await pty.waitFor("first value\n", 1, mark);

      pty.type("\x04");
      await waitFor(() => pty.process.exitCode !== null, { what: "the REPL to exit on Ctrl-D" });
      expect(pty.process.exitCode).toBe(0);
      expect(await Bun.file(history).text()).toBe(
        `SET ${key} "first value"\nget ${key}\nGET ${key}\n`,
      );
    } finally {
      node.process.kill("SIGCONT");
      pty.close();
    }
  });
});
