// Drives test/interop/pyzmq-curve-fixture.py (libzmq 4.3.4 through Debian's python3-zmq) from a
// Bun test: starts it, collects the JSON lines it reports, and kills it when disposed.
import type { Subprocess } from "bun";
import { forEachLine, waitFor } from "../harness/wait.ts";

const FIXTURE = new URL("./pyzmq-curve-fixture.py", import.meta.url).pathname;

export type PyzmqReport =
  | { event: "bound"; endpoint: string }
  | { event: "message"; frames: string[] }
  | { event: "monitor"; type: string };

export class PyzmqPeer implements AsyncDisposable {
  readonly reports: PyzmqReport[] = [];
  private readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  private stderr = "";

  constructor(args: string[]) {
    const proc = Bun.spawn(["/usr/bin/python3", FIXTURE, ...args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.proc = proc;
    void forEachLine(proc.stdout, (line) => this.reports.push(JSON.parse(line) as PyzmqReport));
    void (async () => {
      for await (const chunk of proc.stderr) this.stderr += new TextDecoder().decode(chunk);
    })();
  }

  static client(endpoint: string, options: Record<string, unknown>): PyzmqPeer {
    return new PyzmqPeer(["client", endpoint, JSON.stringify(options)]);
  }

  static server(options: Record<string, unknown>): PyzmqPeer {
    return new PyzmqPeer(["server", JSON.stringify(options)]);
  }

  /** Waits for the first report that `match` accepts; fails with the fixture's stderr. */
  async next<T extends PyzmqReport>(what: string, match: (r: PyzmqReport) => r is T): Promise<T> {
    let found: T | undefined;
    try {
      found = await waitFor(() => this.reports.find(match), { what });
    } catch (error) {
      throw new Error(`${String(error)}; python stderr: ${this.stderr.trim()}`);
    }
    if (found === undefined) throw new Error(`no ${what}`);
    return found;
  }

  monitorEvents(): string[] {
    return this.reports.flatMap((r) => (r.event === "monitor" ? [r.type] : []));
  }

  messages(): Uint8Array[][] {
    return this.reports.flatMap((r) =>
      r.event === "message" ? [r.frames.map((f) => new Uint8Array(Buffer.from(f, "base64")))] : [],
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }
}
