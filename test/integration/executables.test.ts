// The single executables: scripts/build compiles node.ts and client.ts into a temp directory,
// then the compiled node runs a 1-node cluster and the compiled client does SET/GET through it,
// from a scratch directory with no source files, so nothing is loaded from the repository.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { allocatorEnv } from "../../lib/ops/allocator-env.ts";
import { repoRoot, timeouts, waitFor } from "../harness/cluster.ts";
import { type RunResult, runToEnd } from "../harness/run.ts";

/** Compiling two binaries takes a few seconds; a hung build must still fail the test. */
const BUILD_DEADLINE_MS = 60_000;
const RUN_DEADLINE_MS = 15_000;

let root: string;
let bin: string;
const started: Subprocess[] = [];

/** Runs a command to completion, killing it at the deadline. */
function run(
  argv: string[],
  options: { cwd: string; env?: Record<string, string>; deadlineMs: number; stdin?: string },
): Promise<RunResult> {
  return runToEnd(argv, { ...options, onSpawn: (proc) => void started.push(proc) });
}

/** Starts the compiled node (without the allocator variable) and returns its ready line. */
async function startNode(dataDir: string): Promise<{ endpoint: string; pub: string; pid: number }> {
  const env = { ...process.env };
  delete env[allocatorEnv.name];
  const proc = Bun.spawn(
    [
      join(bin, "warehouse-node"),
      "--id", "1", "--rf", "1", "--port", "0", "--pub-port", "0", "--data", dataDir,
    ],
    { cwd: root, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  started.push(proc);
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeouts.readyMs;
  try {
    while (!text.includes("\n")) {
      const chunk = await Promise.race([
        reader.read(),
        Bun.sleep(Math.max(1, deadline - Date.now())).then(() => null),
      ]);
      if (chunk === null || chunk.done) {
        const stderr = await Promise.race([
          new Response(proc.stderr).text(), Bun.sleep(500).then(() => ""),
        ]);
        throw new Error(`compiled node gave no ready line: ${text}${stderr}`);
      }
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  const line = text.slice(0, text.indexOf("\n"));
  const ready = JSON.parse(line) as { event: string; endpoint: string; pub: string };
  expect(ready.event).toBe("ready");
  return { ...ready, pid: proc.pid };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "warehouse-exe-"));
  bin = join(root, "bin");
  // The build script finds bun on PATH, as under `bun run build`.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env["PATH"] ?? ""}` };
  const build = await run(["bash", join(repoRoot, "scripts", "build"), bin], {
    cwd: repoRoot, env, deadlineMs: BUILD_DEADLINE_MS,
  });
  if (build.code !== 0) {
    throw new Error(`scripts/build failed (${build.code}): ${build.stdout}${build.stderr}`);
  }
}, BUILD_DEADLINE_MS);

afterAll(async () => {
  for (const proc of started) proc.kill("SIGKILL");
  await Promise.all(started.map((proc) => proc.exited));
  rmSync(root, { recursive: true, force: true });
});

test("the compiled node and client do SET, GET and DELETE", async () => {
  const dataDir = join(root, "data");
  const node = await startNode(dataDir);
  // The compiled node restarted itself in place with its allocator setting.
  expect(readFileSync(`/proc/${node.pid}/environ`, "utf8").split("\0")).toContain(
    `${allocatorEnv.name}=${allocatorEnv.value}`,
  );
  const key = crypto.randomUUID();
  const client = join(bin, "warehouse");
  const text = await run([
    client, "--connect", node.endpoint,
    "--exec", `SET ${key} '{"doc": "hello world"}'; GET ${key}; DELETE ${key}; GET ${key}`,
  ], { cwd: root, deadlineMs: RUN_DEADLINE_MS });
  expect(text.stderr).toBe("");
  // The last GET finds nothing: exit 1.
  expect(text.code).toBe(1);
  expect(text.stdout.trimEnd().split("\n")).toEqual([
    "Created (1 replica)", '{"doc": "hello world"}', "Deleted (1 replica)", "(nil)",
  ]);

  const script = `SET ${key} v2; GET ${key}`;
  const json = await run([client, "--json", "--connect", node.endpoint, "--exec", script], {
    cwd: root, deadlineMs: RUN_DEADLINE_MS,
  });
  expect(json.code).toBe(0);
  const replies = json.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as unknown);
  const version = (replies[0] as { version?: unknown }).version;
  expect(replies).toEqual([
    { id: expect.anything(), ok: true, status: "created", replicas: 1, version: expect.any(Number) },
    { id: expect.anything(), ok: true, found: true, value: "v2", version },
  ]);

  // The compiled node runs its checkpoint worker (a second entry point of the build): the
  // commits reach the database file, which the node's own connection would copy only past
  // 40,000 WAL pages.
  const file = join(dataDir, "warehouse.sqlite");
  await waitFor(() => statSync(file).size > 4096, {
    timeoutMs: RUN_DEADLINE_MS, what: "the compiled node to checkpoint into its database file",
  });
  expect(statSync(file).size).toBeGreaterThan(4096);
});

test("a 100,000-byte value comes out of the compiled client whole through a pipe", async () => {
  const node = await startNode(join(root, "data-pipe"));
  const key = crypto.randomUUID();
  const value = "0123456789".repeat(10_000);
  const client = join(bin, "warehouse");
  const set = await run([client, "--connect", node.endpoint, "set", key, "-"], {
    cwd: root, deadlineMs: RUN_DEADLINE_MS, stdin: value,
  });
  expect(set).toEqual({ code: 0, stdout: "Created (1 replica)\n", stderr: "" });
  for (const args of [["get", key], ["--exec", `GET ${key}`], ["--raw", "get", key]]) {
    const got = await run([client, "--connect", node.endpoint, ...args], {
      cwd: root, deadlineMs: RUN_DEADLINE_MS,
    });
    expect(got.code).toBe(0);
    expect(got.stdout.length).toBe(100_001);
  }
});

test("compiled binaries name themselves in --help, print --version, refuse bad flags", async () => {
  const options = { cwd: root, deadlineMs: RUN_DEADLINE_MS };
  const pkg = (await Bun.file(join(repoRoot, "package.json")).json()) as { version: string };
  const nodeHelp = await run([join(bin, "warehouse-node"), "--help"], options);
  expect(nodeHelp.code).toBe(0);
  expect(nodeHelp.stdout).toStartWith("Usage: warehouse-node --id <n> [options]\n");
  const clientHelp = await run([join(bin, "warehouse"), "--help"], options);
  expect(clientHelp.stdout).toStartWith("Usage: warehouse [options] [command [arguments]]\n");
  expect(clientHelp.stdout).toContain("  warehouse set ");
  expect((await run([join(bin, "warehouse-node"), "--version"], options)).stdout).toBe(
    `warehouse-node ${pkg.version}\n`,
  );
  expect((await run([join(bin, "warehouse"), "--version"], options)).stdout).toBe(
    `warehouse ${pkg.version}\n`,
  );
  const badNode = await run([join(bin, "warehouse-node"), "--id", "0"], options);
  expect(badNode.code).toBe(1);
  expect(badNode.stderr).toContain("--id must be an integer");
  expect(badNode.stderr).toEndWith('Run "warehouse-node --help" for the options.\n');
  const badClient = await run([join(bin, "warehouse"), "--connect", "nowhere"], options);
  expect(badClient.code).toBe(64);
  expect(badClient.stderr).toContain("is not an endpoint");
  expect(badClient.stderr).toEndWith('Run "warehouse --help" for the options.\n');
});
