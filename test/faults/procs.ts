// The cluster under test as real `bun node.ts` processes, each (when run as root) under its own
// uid so the network rules can tell their connections apart. Nodes are started, killed,
// restarted on their data directory and ports, paused and resumed only through their CLI and
// signals; what they say comes from HEARTBEAT (README "Protocol").
import { chownSync, closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { NodeLink, type NodeView, parseHeartbeat } from "./wire.ts";

const repoRoot = join(import.meta.dir, "..", "..");

export interface ProcsOptions {
  readonly count: number;
  readonly rf: number;
  readonly root: string;
  readonly logDir: string;
  /** uid (and gid) of node i is uidBase + i; null runs them as ourselves. */
  readonly uidBase: number | null;
  readonly extraArgs: readonly string[];
  /** How to start a node (default: this Bun on the repository's node.ts). */
  readonly nodeCommand?: readonly string[];
  readonly onUnexpectedExit?: (id: number, code: number, signal: string | number | null) => void;
}

/** The ports a node bound, from its ready line: a restart binds the same ones. */
interface BoundPorts {
  readonly port: number;
  readonly pubPort: number;
  readonly peerPort: number;
  readonly httpPort: number | null;
}

interface NodeProc {
  readonly id: number;
  endpoint: string;
  /** Null until the first ready line: the first start binds port 0 everywhere. */
  ports: BoundPorts | null;
  proc: Subprocess<"ignore", "pipe", number> | null;
  isPaused: boolean;
}

export class NodeProcs implements AsyncDisposable {
  readonly nodes = new Map<number, NodeProc>();
  private readonly options: ProcsOptions;
  private readonly heartbeatLinks = new Map<number, NodeLink>();
  /** Set once disposal starts: no more spawns, and exits are expected. */
  private isStopping = false;

  constructor(options: ProcsOptions) {
    this.options = options;
  }

  ids(): number[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  endpoints(): Map<number, string> {
    return new Map(this.ids().map((id) => [id, (this.nodes.get(id) as NodeProc).endpoint]));
  }

  uidOf(id: number): number | null {
    return this.options.uidBase === null ? null : this.options.uidBase + id;
  }

  isRunning(id: number): boolean {
    const node = this.nodes.get(id);
    return node !== undefined && node.proc !== null;
  }

  /** Node 1 bootstraps, the others join it; each must print its ready line. */
  async startAll(): Promise<void> {
    for (let id = 1; id <= this.options.count; id++) {
      const join = id === 1 ? [] : ["--join", (this.nodes.get(1) as NodeProc).endpoint];
      const rf = id === 1 ? ["--rf", String(this.options.rf)] : [];
      await this.spawn(id, null, [...rf, ...join]);
    }
  }

  /**
   * Restarts a killed node on its data directory and all its old ports, as an operator with
   * fixed ports would: the members know its peer port, and a majority of members that moved
   * at once could not elect the leader that records their new addresses.
   */
  async restart(id: number): Promise<void> {
    const node = this.nodes.get(id);
    if (node === undefined || node.proc !== null) return;
    await this.spawn(id, node.ports, []);
  }

  async kill(id: number): Promise<void> {
    const node = this.nodes.get(id);
    const proc = node?.proc;
    if (node === undefined || proc == null) return;
    node.proc = null;
    node.isPaused = false;
    proc.kill("SIGKILL");
    await proc.exited;
  }

  pause(id: number): void {
    const node = this.nodes.get(id);
    if (node?.proc == null) return;
    node.proc.kill("SIGSTOP");
    node.isPaused = true;
  }

  resume(id: number): void {
    const node = this.nodes.get(id);
    if (node?.proc == null) return;
    node.proc.kill("SIGCONT");
    node.isPaused = false;
  }

  /** Each running node's own HEARTBEAT reply (null when it did not answer in time). */
  async views(timeoutMs = 300): Promise<Map<number, NodeView | null>> {
    const entries = await Promise.all(this.ids().map(async (id) => {
      let link = this.heartbeatLinks.get(id);
      if (link === undefined) {
        link = new NodeLink((this.nodes.get(id) as NodeProc).endpoint);
        this.heartbeatLinks.set(id, link);
      }
      const attempt = await link.request({ op: "HEARTBEAT" }, timeoutMs);
      return [id, attempt.kind === "reply" ? parseHeartbeat(attempt.reply) : null] as const;
    }));
    return new Map(entries);
  }

  /** The node that calls itself leader with the highest term, if any answers. */
  async leader(): Promise<number | null> {
    let best: NodeView | null = null;
    for (const view of (await this.views()).values()) {
      if (view?.role === "leader" && (best === null || view.term > best.term)) best = view;
    }
    return best?.id ?? null;
  }

  /**
   * Healthy: one leader sees every member alive and, when its heartbeat lists in-sync sets,
   * every partition fully replicated. Polls until `deadlineMs` passes.
   */
  async waitHealthy(deadlineMs: number): Promise<boolean> {
    const deadline = performance.now() + deadlineMs;
    while (performance.now() < deadline) {
      const views = [...(await this.views()).values()];
      const leaders = views.filter((v) => v?.role === "leader");
      const leader = leaders[0];
      if (leaders.length === 1 && leader != null && leader.aliveMembers === this.options.count
        && (leader.partitionsShort === null || leader.partitionsShort === 0)) return true;
      await Bun.sleep(50);
    }
    return false;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.isStopping = true;
    const procs = [...this.nodes.values()].flatMap((n) => (n.proc === null ? [] : [n.proc]));
    for (const node of this.nodes.values()) node.proc = null;
    for (const proc of procs) proc.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
    await Promise.all([...this.heartbeatLinks.values()].map((l) => l.close()));
  }

  private dataDir(id: number): string {
    const dir = join(this.options.root, `node-${id}`);
    mkdirSync(dir, { recursive: true });
    const uid = this.uidOf(id);
    if (uid !== null) chownSync(dir, uid, uid);
    return dir;
  }

  private async spawn(id: number, ports: BoundPorts | null, extra: string[]): Promise<void> {
    if (this.isStopping) throw new Error(`node ${id} not started: the run is stopping`);
    const uid = this.uidOf(id);
    const dataDir = this.dataDir(id);
    const prefix = uid === null ? []
      : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--pdeathsig", "SIGKILL"];
    const args = [
      ...prefix, ...(this.options.nodeCommand ?? [process.execPath, join(repoRoot, "node.ts")]),
      "--id", String(id),
      "--port", String(ports?.port ?? 0), "--pub-port", String(ports?.pubPort ?? 0),
      "--peer-port", String(ports?.peerPort ?? 0),
      "--http-port", ports === null ? "0" : String(ports.httpPort ?? "off"), "--data", dataDir,
      "--log-level", "info", ...this.options.extraArgs, ...extra,
    ];
    const log = openSync(join(this.options.logDir, `node-${id}.log`), "a");
    const proc = Bun.spawn(args, {
      // Its own directory: a node under another uid may not be able to enter the repository's.
      cwd: dataDir, stdin: "ignore", stdout: "pipe", stderr: log,
      // The node's own uid cannot write our home: no transpiler cache, a home it owns.
      env: { ...process.env, HOME: dataDir, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
    });
    closeSync(log);
    // An exit we did not cause (we null `proc` before our own kills finish) is worth a line.
    void proc.exited.then((code) => {
      const current = this.nodes.get(id);
      if (this.isStopping || current?.proc !== proc) return;
      current.proc = null;
      this.options.onUnexpectedExit?.(id, code, proc.signalCode);
    });
    const existing = this.nodes.get(id);
    const node: NodeProc = existing
      ?? { id, endpoint: "", ports, proc: null, isPaused: false };
    node.proc = proc;
    this.nodes.set(id, node);
    const ready = await readyLine(proc, 20_000);
    if (ready === null) {
      proc.kill("SIGKILL");
      await proc.exited;
      node.proc = null;
      throw new Error(`node ${id} printed no ready line (see node-${id}.log)`);
    }
    node.endpoint = ready.endpoint;
    node.ports = {
      port: portOf(ready.endpoint),
      pubPort: portOf(ready.pub),
      peerPort: portOf(ready.peer),
      httpPort: ready.http === null ? null : portOf(ready.http),
    };
  }
}

/**
 * The node's ready line, or null when none came within the deadline. The reader keeps
 * draining stdout afterwards so the node never blocks on a full pipe.
 */
function portOf(address: string): number {
  return Number(address.replace(/\/+$/, "").split(":").pop());
}

interface Ready {
  readonly endpoint: string;
  readonly pub: string;
  readonly peer: string;
  readonly http: string | null;
}

async function readyLine(proc: Subprocess<"ignore", "pipe", number>, deadlineMs: number):
  Promise<Ready | null> {
  const { promise: ready, resolve } = Promise.withResolvers<Ready | null>();
  void (async () => {
    const decoder = new TextDecoder();
    let text = "";
    let isLineSeen = false;
    for await (const chunk of proc.stdout) {
      if (isLineSeen) continue;
      text += decoder.decode(chunk, { stream: true });
      if (!text.includes("\n")) continue;
      isLineSeen = true;
      try {
        const line = JSON.parse(text.slice(0, text.indexOf("\n"))) as {
          endpoint?: string;
          pub?: string;
          peer?: string;
          http?: string | null;
        };
        const { endpoint, pub, peer, http } = line;
        resolve(endpoint && pub && peer ? { endpoint, pub, peer, http: http ?? null } : null);
      } catch {
        resolve(null);
      }
    }
    resolve(null);
  })().catch(() => resolve(null));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<null>((done) => {
    timer = setTimeout(() => done(null), deadlineMs);
  });
  try {
    return await Promise.race([ready, expired]);
  } finally {
    clearTimeout(timer);
  }
}
