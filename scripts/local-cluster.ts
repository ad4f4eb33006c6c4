// `npm start`: a local 3-node cluster (ids 1-3, RF 2, data under ./data, ports 7001-7003) with
// the REPL attached. Leaving the REPL (EXIT or Ctrl-D) stops the nodes cleanly (SIGTERM).
// Node logs go to ./data/node-<id>.log so they do not interleave with the REPL, and each node's
// process id to ./data/node-<id>.pid. The nodes run in their own process group: a Ctrl-C that
// the terminal turns into SIGINT for the foreground group must not stop the cluster.
import { mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { WarehouseClient } from "../lib/client/client.ts";
import { httpPortOffset } from "../lib/config.ts";

const root = join(import.meta.dir, "..");
const dataRoot = join(process.cwd(), "data");
const basePort = Number(process.env["WAREHOUSE_BASE_PORT"] ?? 7001);
const ids = [1, 2, 3];
const nodes: Subprocess[] = [];

async function readyLine(proc: Subprocess<"ignore", "pipe", number>): Promise<string | null> {
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return value === undefined ? null : (new TextDecoder().decode(value).split("\n")[0] ?? null);
}

/** The leader's raw heartbeat lists every partition's in-sync replicas. */
async function isSynced(client: WarehouseClient): Promise<boolean> {
  const hb = await client.request({ op: "HEARTBEAT" }).catch(() => null);
  const insync = hb?.["insync"];
  const members = hb?.["members"];
  return (
    Array.isArray(insync) &&
    Array.isArray(members) &&
    members.length === ids.length &&
    insync.every((replicas) => Array.isArray(replicas) && replicas.length === 2)
  );
}

async function stopNodes(): Promise<void> {
  for (const n of nodes) n.kill("SIGTERM");
  await Promise.all(nodes.map((n) => n.exited));
  for (const id of ids) rmSync(join(dataRoot, `node-${id}.pid`), { force: true });
}

mkdirSync(dataRoot, { recursive: true });
const endpoints = ids.map((id) => `tcp://127.0.0.1:${basePort + id - 1}`);
for (const id of ids) {
  const args = [
    process.execPath,
    join(root, "node.ts"),
    "--id",
    String(id),
    "--port",
    String(basePort + id - 1),
    "--data",
    join(dataRoot, String(id)),
    "--log-level",
    "info",
  ];
  if (id === 1) args.push("--rf", "2");
  else args.push("--join", endpoints[0] as string);
  const log = openSync(join(dataRoot, `node-${id}.log`), "a");
  const proc = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: log, detached: true });
  nodes.push(proc);
  writeFileSync(join(dataRoot, `node-${id}.pid`), `${proc.pid}\n`);
  const line = await readyLine(proc);
  if (line === null || !line.includes('"ready"')) {
    console.error(`node ${id} did not start; see ${join(dataRoot, `node-${id}.log`)}`);
    await stopNodes();
    process.exit(1);
  }
}

// Open the REPL once every partition has both its replicas, so the first SET says "2 replicas".
const probe = await WarehouseClient.connect({ endpoints, requestTimeoutMs: 1000, giveUpMs: 5000 });
const deadline = Date.now() + 15_000;
while (!(await isSynced(probe)) && Date.now() < deadline) await Bun.sleep(50);
await probe.close();
console.log(`Started nodes 1-3 on ${endpoints.join(", ")} (logs in ./data/node-<id>.log)`);
// The HTTP port defaults to the request port + 200 (lib/config.ts).
const pages = ids.map((id) => `http://127.0.0.1:${basePort + id - 1 + httpPortOffset}/`);
console.log(`Status page: ${pages[0]} (or any node: ${pages.slice(1).join(", ")})`);

const client = Bun.spawn(
  [
    process.execPath,
    join(root, "client.ts"),
    "--connect",
    endpoints.join(","),
    ...process.argv.slice(2),
  ],
  { stdin: "inherit", stdout: "inherit", stderr: "inherit" },
);
// A SIGINT from the terminal reaches this process too; only leaving the REPL stops the nodes.
process.on("SIGINT", () => undefined);
const code = await client.exited;
await stopNodes();
console.log("Stopped nodes 1-3.");
process.exit(code);
