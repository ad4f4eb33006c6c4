// Test harness: starts real `bun node.ts` processes on loopback with port 0 and temp data dirs,
// reads their ready lines, and kills them (SIGKILL) when asked or when the test ends.
// Tests use `await using cluster = await startCluster(...)` so every process is reaped.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { placeReplicas, placementRuleOf } from "../../lib/placement.ts";
import { readUntil, timeouts, waitFor } from "./wait.ts";

export { timeouts, waitFor } from "./wait.ts";

export const repoRoot = join(import.meta.dir, "..", "..");
export const bunPath = process.execPath;

export interface NodeHandle {
  id: number;
  endpoint: string;
  pub: string;
  port: number;
  pubPort: number;
  peerPort: number;
  /** HTTP base URL from the ready line, or null when started with --http-port off. */
  http: string | null;
  dataDir: string;
  process: Subprocess<"ignore", "pipe", "pipe">;
  stderr: () => string;
}

export interface StartNodeOptions {
  id: number;
  dataDir: string;
  join?: string[];
  rf?: number;
  port?: number;
  pubPort?: number;
  peerPort?: number;
  /** A port, "off", or (by default) 0 for any free port. */
  httpPort?: number | "off";
  /** Command the node runs under, e.g. ["ip", "netns", "exec", "ns1"] (it must exec). */
  wrapper?: string[];
  extraArgs?: string[];
  /** Changes to this process's environment for the node: a value, or undefined to remove it. */
  env?: Record<string, string | undefined>;
}

/** The ready line, or the process's exit code and stderr when it stopped first. */
export type StartOutcome =
  | { ok: true; node: NodeHandle }
  | { ok: false; exitCode: number | null; stderr: string };

/** `track` sees the process as soon as it is spawned, so a test that fails mid-start still reaps it. */
export async function launchNode(
  options: StartNodeOptions,
  track: (proc: Subprocess) => void = () => undefined,
): Promise<StartOutcome> {
  const args = [
    ...(options.wrapper ?? []),
    bunPath, join(repoRoot, "node.ts"),
    "--id", String(options.id),
    "--port", String(options.port ?? 0),
    "--pub-port", String(options.pubPort ?? 0),
    "--peer-port", String(options.peerPort ?? 0),
    "--http-port", String(options.httpPort ?? 0),
    "--data", options.dataDir,
    "--log-level", "info",
  ];
  if (options.rf !== undefined) args.push("--rf", String(options.rf));
  if (options.join !== undefined && options.join.length > 0) args.push("--join", options.join.join(","));
  args.push(...(options.extraArgs ?? []));
  const proc = Bun.spawn(args, {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: repoRoot,
    env: nodeEnvironment(options.env ?? {}),
  });
  track(proc);
  let stderrText = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) stderrText += decoder.decode(chunk, { stream: true });
  })();
  const ready = await readReadyLine(proc);
  if (ready === null) {
    const exitCode = await Promise.race([proc.exited, Bun.sleep(2000).then(() => null)]);
    if (exitCode === null) proc.kill("SIGKILL");
    return { ok: false, exitCode, stderr: stderrText };
  }
  const port = Number(new URL(ready.endpoint.replace("tcp://", "http://")).port);
  const pubPort = Number(new URL(ready.pub.replace("tcp://", "http://")).port);
  const peerPort = Number(new URL(ready.peer.replace("tcp://", "http://")).port);
  return {
    ok: true,
    node: {
      id: options.id, endpoint: ready.endpoint, pub: ready.pub, port, pubPort, peerPort,
      http: ready.http,
      dataDir: options.dataDir, process: proc, stderr: () => stderrText,
    },
  };
}

function nodeEnvironment(changes: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...process.env, ...changes })) {
    if (value !== undefined) env[name] = value;
  }
  return env;
}

async function readReadyLine(
  proc: Subprocess<"ignore", "pipe", "pipe">,
): Promise<{ endpoint: string; pub: string; peer: string; http: string | null } | null> {
  const { found } = await readUntil(proc.stdout, timeouts.readyMs, (text) => {
    const newline = text.indexOf("\n");
    if (newline < 0) return undefined;
    const line = JSON.parse(text.slice(0, newline)) as {
      event?: string; endpoint?: string; pub?: string; peer?: string; http?: string | null;
    };
    if (line.event === "ready" && line.endpoint && line.pub && line.peer) {
      return { endpoint: line.endpoint, pub: line.pub, peer: line.peer, http: line.http ?? null };
    }
    return null;
  });
  return found ?? null;
}

export class Cluster implements AsyncDisposable {
  readonly root: string;
  readonly nodes = new Map<number, NodeHandle>();
  private readonly all: Subprocess[] = [];
  private isDisposed = false;

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), "warehouse-test-"));
  }

  dataDir(id: number): string {
    return join(this.root, String(id));
  }

  node(id: number): NodeHandle {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`node ${id} is not running`);
    return n;
  }

  endpoints(): string[] {
    return [...this.nodes.values()].sort((a, b) => a.id - b.id).map((n) => n.endpoint);
  }

  /** Starts a node (bootstrap when `join` is empty) and waits for its ready line. */
  async start(options: Omit<StartNodeOptions, "dataDir"> & { dataDir?: string }): Promise<NodeHandle> {
    const outcome = await this.launch(options);
    if (!outcome.ok) {
      throw new Error(`node ${options.id} did not start (exit ${outcome.exitCode}): ${outcome.stderr}`);
    }
    return outcome.node;
  }

  /** Like start, but returns a refusal instead of throwing (for join-refusal tests). */
  async launch(options: Omit<StartNodeOptions, "dataDir"> & { dataDir?: string }): Promise<StartOutcome> {
    const outcome = await launchNode(
      { ...options, dataDir: options.dataDir ?? this.dataDir(options.id) },
      (proc) => {
        // A start still in flight when the test ended must not outlive the cleanup.
        if (this.isDisposed) proc.kill("SIGKILL");
        else this.all.push(proc);
      },
    );
    if (outcome.ok) this.nodes.set(options.id, outcome.node);
    return outcome;
  }

  /** Restarts a killed node on its data directory and its old ports. */
  async restart(id: number, handle: NodeHandle, extra: Partial<StartNodeOptions> = {}): Promise<NodeHandle> {
    return this.start({
      id, dataDir: handle.dataDir, port: handle.port, pubPort: handle.pubPort,
      peerPort: handle.peerPort, ...extra,
    });
  }

  async kill(id: number): Promise<NodeHandle> {
    const n = this.node(id);
    n.process.kill("SIGKILL");
    await n.process.exited;
    this.nodes.delete(id);
    return n;
  }

  /** Stops a node gracefully (SIGTERM) and waits for it to exit. */
  async stop(id: number): Promise<number> {
    const n = this.node(id);
    n.process.kill("SIGTERM");
    const code = await n.process.exited;
    this.nodes.delete(id);
    return code;
  }

  /** Starts `count` nodes, ids 1..count: node 1 bootstraps with `rf`, the others join it. */
  async startMany(count: number, rf: number, extraArgs: string[] = []): Promise<void> {
    const first = await this.start({ id: 1, rf, extraArgs });
    for (let id = 2; id <= count; id++) await this.start({ id, join: [first.endpoint], extraArgs });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.isDisposed = true;
    for (const p of this.all) p.kill("SIGKILL");
    await Promise.all(this.all.map((p) => p.exited));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * Waits until the node at `endpoint` leads with `members` live members and every partition's
 * in-sync set is exactly its placement, read from the leader's raw HEARTBEAT reply (`insync`).
 */
export async function waitForSynced(
  request: (body: Record<string, unknown>) => Promise<Record<string, unknown>>,
  options: { members: number; rf: number; leaderId?: number },
): Promise<void> {
  await waitFor(async () => {
    const reply = await request({ op: "HEARTBEAT" });
    if (reply["role"] !== "leader") return false;
    const node = reply["node"] as { id: number };
    if (options.leaderId !== undefined && node.id !== options.leaderId) return false;
    const members = reply["members"] as { id: number; alive: boolean }[];
    if (members.filter((m) => m.alive).length !== options.members) return false;
    const insync = reply["insync"] as number[][] | undefined;
    if (insync === undefined) return false;
    // In sync means exactly the replicas placement names: copies made, surplus holders let go.
    const ids = members.map((m) => m.id);
    const rule = placementRuleOf(reply["placement"]);
    if (rule === null) return false;
    return insync.every((held, p) => [...held].sort().join() ===
      placeReplicas(rule, p, insync.length, ids, options.rf).sort().join());
  }, { what: `a leader with ${options.members} live members and every partition fully in sync` });
}
