// A 3-member etcd cluster on loopback for bench:compare: Debian's `etcd` binary (etcd-server),
// temp data directories, default durability (every acknowledged put is in the WAL of a majority,
// fsync'd), default timings (100 ms heartbeat, 1000 ms election). EtcdClient talks to the v3 JSON
// gateway over HTTP/1.1 with keep-alive connections (etcd-grpc.ts: the faster gRPC path).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const ETCD_BINARY = process.env["ETCD_BINARY"] ?? "/usr/bin/etcd";

/** The binary's version line, or null when it is missing. */
export function etcdVersion(): string | null {
  if (!existsSync(ETCD_BINARY)) return null;
  const result = Bun.spawnSync([ETCD_BINARY, "--version"], { stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) return null;
  const first = result.stdout.toString().split("\n")[0] ?? "";
  return first.replace(/^etcd Version:\s*/, "").trim();
}

/** A port free right now: the kernel picks one, we release it and hand it to etcd. */
function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

interface Member {
  name: string;
  clientUrl: string;
  process: Subprocess<"ignore", "ignore", "pipe">;
  stderr: () => string;
  /** etcd's member id (decimal string), learned once the cluster answers. */
  memberId: string;
}

const b64 = (text: string): string => Buffer.from(text).toString("base64");

/** Per-request deadline of the benchmark's etcd client; a healthy put takes milliseconds. */
const REQUEST_TIMEOUT_MS = 10_000;

async function post(url: string, body: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`etcd ${url}: HTTP ${response.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}

/** One member's client URL: put and linearizable range through the v3 JSON gateway. */
export class EtcdClient {
  constructor(readonly url: string) {}

  async put(key: string, value: string): Promise<void> {
    await post(`${this.url}/v3/kv/put`, `{"key":"${b64(key)}","value":"${b64(value)}"}`);
  }

  /** A linearizable read (etcd's default: `serializable` is false). */
  async get(key: string): Promise<boolean> {
    const reply = (await post(`${this.url}/v3/kv/range`, `{"key":"${b64(key)}"}`)) as {
      kvs?: unknown[];
    };
    return (reply.kvs?.length ?? 0) > 0;
  }

  /** Bun's fetch pool owns the connections. */
  close(): void {}
}

export class EtcdCluster implements AsyncDisposable {
  readonly root = mkdtempSync(join(tmpdir(), "warehouse-compare-etcd-"));
  readonly members: Member[] = [];
  private disposed = false;

  /** Starts `count` members and waits until all of them name the same leader. */
  async launch(count: number): Promise<void> {
    const specs = Array.from({ length: count }, (_, i) => ({
      name: `m${i + 1}`,
      clientUrl: `http://127.0.0.1:${freePort()}`,
      peerUrl: `http://127.0.0.1:${freePort()}`,
    }));
    const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(",");
    for (const spec of specs) {
      const proc = Bun.spawn([
        ETCD_BINARY,
        "--name", spec.name,
        "--data-dir", join(this.root, spec.name),
        "--listen-client-urls", spec.clientUrl,
        "--advertise-client-urls", spec.clientUrl,
        "--listen-peer-urls", spec.peerUrl,
        "--initial-advertise-peer-urls", spec.peerUrl,
        "--initial-cluster", initialCluster,
        "--initial-cluster-state", "new",
        "--initial-cluster-token", "warehouse-compare",
        "--logger", "zap",
        "--log-level", "error",
      ], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      let stderrText = "";
      void (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of proc.stderr) {
          stderrText += decoder.decode(chunk, { stream: true });
        }
      })();
      if (this.disposed) proc.kill("SIGKILL");
      this.members.push({
        name: spec.name, clientUrl: spec.clientUrl, process: proc,
        stderr: () => stderrText, memberId: "",
      });
    }
    await this.waitForLeader();
  }

  /** Polls each live member's status until every one names the same leader; returns its index. */
  async waitForLeader(timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        const live = this.members.filter((m) => m.process.exitCode === null && !m.process.killed);
        const statuses = await Promise.all(live.map(async (m) => {
          const s = (await post(`${m.clientUrl}/v3/maintenance/status`, "{}", 1000)) as {
            header: { member_id: string };
            leader: string;
          };
          m.memberId = s.header.member_id;
          return s.leader;
        }));
        const leader = statuses[0];
        if (leader !== undefined && leader !== "0" && statuses.every((s) => s === leader)) {
          const index = this.members.findIndex((m) => m.memberId === leader);
          if (index >= 0) return index;
        }
      } catch (error) {
        last = String(error);
      }
      const dead = this.members.find((m) => m.process.exitCode !== null && !m.process.killed);
      if (dead !== undefined) {
        throw new Error(`etcd ${dead.name} exited (${dead.process.exitCode}): ${dead.stderr()}`);
      }
      await Bun.sleep(20);
    }
    throw new Error(`etcd: no agreed leader within ${timeoutMs} ms ${last}`);
  }

  clientUrl(index: number): string {
    return (this.members[index] as Member).clientUrl;
  }

  async kill(index: number): Promise<void> {
    const member = this.members[index] as Member;
    member.process.kill("SIGKILL");
    await member.process.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.disposed = true;
    for (const m of this.members) m.process.kill("SIGKILL");
    await Promise.all(this.members.map((m) => m.process.exited));
    rmSync(this.root, { recursive: true, force: true });
  }
}
