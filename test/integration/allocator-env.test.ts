// A node runs with its allocator setting (lib/ops/allocator-env.ts): it re-executes itself in
// place, so the process the caller started, same pid, is the one that serves, with the
// variable in its environment; a value the user gave is kept.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { WarehouseClient } from "../../lib/client/client.ts";
import { allocatorEnv } from "../../lib/ops/allocator-env.ts";
import { Cluster, type NodeHandle, waitFor } from "../harness/cluster.ts";

/** The environment a running process has now (after any execve), from /proc. */
function environmentOf(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter((e) => e !== "");
  return new Map(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

/** The node's start-up log line; stderr is read apart from the ready line, so wait for it. */
async function startedLine(node: NodeHandle): Promise<Record<string, unknown>> {
  const line = await waitFor(
    () => node.stderr().split("\n").slice(0, -1).find((l) => l.includes('"event":"node_started"')),
    { what: "the node_started log line" },
  );
  return JSON.parse(line as string) as Record<string, unknown>;
}

test("a node started without the variable serves from the same pid with it set", async () => {
  await using cluster = new Cluster();
  const node = await cluster.start({
    id: 1, rf: 1, env: { [allocatorEnv.name]: undefined, WAREHOUSE_TEST_MARK: "kept" },
  });
  const env = environmentOf(node.process.pid);
  expect(env.get(allocatorEnv.name)).toBe(allocatorEnv.value);
  // The rest of the environment came through the restart.
  expect(env.get("WAREHOUSE_TEST_MARK")).toBe("kept");
  // The start-up log line says the setting is in force.
  expect((await startedLine(node))["allocator"]).toEqual({ [allocatorEnv.name]: "-1" });
  const client = await WarehouseClient.connect({
    endpoints: [node.endpoint], requestTimeoutMs: 1000, giveUpMs: 5000,
  });
  try {
    const key = crypto.randomUUID();
    await client.set(key, "after the restart in place");
    expect((await client.get(key)).value).toBe("after the restart in place");
  } finally {
    await client.close();
  }
});

test("a value the user set is left alone", async () => {
  await using cluster = new Cluster();
  const node = await cluster.start({ id: 1, rf: 1, env: { [allocatorEnv.name]: "100" } });
  expect(environmentOf(node.process.pid).get(allocatorEnv.name)).toBe("100");
  expect((await startedLine(node))["allocator"]).toEqual({ [allocatorEnv.name]: "100" });
});
