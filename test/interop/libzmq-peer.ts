// Drives test/interop/libzmq-fixture.mjs (a real libzmq socket under Node) from a Bun test:
// starts it, sends it JSON-line commands, collects the messages it reports, and kills it.
// It asserts nothing itself; tests decide what the fixture's reports mean.
import type { Subprocess } from "bun";
import { DeadlineError, within } from "../harness/zmtp.ts";
import { forEachLine } from "../harness/wait.ts";

const FIXTURE = new URL("./libzmq-fixture.mjs", import.meta.url).pathname;

export type LibzmqSocketType = "dealer" | "router" | "req" | "pub" | "sub" | "xpub" | "xsub";
/** A frame for the fixture: bytes or text, or a generated body (avoids 1 MiB of JSON). */
export type FrameSpec = Uint8Array | string | { fill: number; size: number };
export type Reply = { ok: boolean; code?: string | null; error?: string; [key: string]: unknown };

const encoder = new TextEncoder();

function specToJson(spec: FrameSpec): string | { fill: number; size: number } {
  if (typeof spec === "string") return Buffer.from(encoder.encode(spec)).toString("base64");
  if (spec instanceof Uint8Array) return Buffer.from(spec).toString("base64");
  return spec;
}

function fromBase64(frames: unknown): Uint8Array[] {
  if (!Array.isArray(frames)) throw new TypeError("fixture sent frames that are not an array");
  return frames.map((f) => new Uint8Array(Buffer.from(String(f), "base64")));
}

export class LibzmqPeer {
  readonly type: LibzmqSocketType;
  private readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private readonly inbox: Uint8Array[][] = [];
  private readonly waiters: ((m: Uint8Array[]) => void)[] = [];
  /** Handshake events libzmq reported (started with `events: true`), e.g. "handshake". */
  readonly socketEvents: string[] = [];
  private nextId = 1;
  private stderr = "";
  private exitReason: string | undefined;
  readonly started: Promise<void>;

  private constructor(type: LibzmqSocketType, options: Record<string, unknown>) {
    this.type = type;
    this.proc = Bun.spawn(["node", FIXTURE, type, JSON.stringify(options)], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const { promise, resolve } = Promise.withResolvers<void>();
    this.started = promise;
    void forEachLine(this.proc.stdout, (line) => this.onLine(line, resolve));
    void this.readStderr();
    void this.proc.exited.then((code) => {
      this.exitReason = `fixture exited with ${code}: ${this.stderr.trim()}`;
      for (const settle of this.pending.values()) {
        settle({ ok: false, error: this.exitReason });
      }
      this.pending.clear();
    });
  }

  /** Starts a libzmq socket of `type`; `options` go to the zeromq constructor (plus `echo`). */
  static async start(
    type: LibzmqSocketType,
    options: Record<string, unknown> = {},
  ): Promise<LibzmqPeer> {
    const peer = new LibzmqPeer(type, options);
    try {
      const exited = peer.proc.exited.then(() => {
        throw new Error(peer.exitReason ?? "libzmq fixture exited");
      });
      await within(Promise.race([peer.started, exited]), 10_000, `libzmq ${type} fixture to start`);
    } catch (error) {
      peer.kill();
      throw error;
    }
    return peer;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Runs one command; rejects when the fixture reports an error (use `tryCall` to inspect it). */
  async call(op: string, args: Record<string, unknown> = {}): Promise<Reply> {
    const reply = await this.tryCall(op, args);
    if (!reply.ok) throw new Error(`libzmq ${op} failed: ${reply.error ?? "?"}`);
    return reply;
  }

  tryCall(op: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Reply> {
    if (this.exitReason !== undefined) {
      return Promise.resolve({ ok: false, error: this.exitReason });
    }
    const id = this.nextId++;
    const { promise, resolve } = Promise.withResolvers<Reply>();
    this.pending.set(id, resolve);
    this.proc.stdin.write(JSON.stringify({ id, op, ...args }) + "\n");
    this.proc.stdin.flush();
    return within(promise, timeoutMs, `libzmq ${this.type} ${op}`);
  }

  async bind(endpoint = "tcp://127.0.0.1:0"): Promise<string> {
    const reply = await this.call("bind", { endpoint });
    return String(reply.endpoint);
  }

  connect(endpoint: string): Promise<Reply> {
    return this.call("connect", { endpoint });
  }

  send(frames: FrameSpec[]): Promise<Reply> {
    return this.call("send", { frames: frames.map(specToJson) });
  }

  subscribe(topic: string): Promise<Reply> {
    return this.call("subscribe", { topic: specToJson(topic) });
  }

  unsubscribe(topic: string): Promise<Reply> {
    return this.call("unsubscribe", { topic: specToJson(topic) });
  }

  /** REQ only: sends and waits for the reply. */
  async request(frames: FrameSpec[]): Promise<Uint8Array[]> {
    const reply = await this.call("request", { frames: frames.map(specToJson) });
    return fromBase64(reply.reply);
  }

  /** The next message the fixture received (in arrival order). */
  nextMessage(timeoutMs = 5_000): Promise<Uint8Array[]> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    const { promise, resolve } = Promise.withResolvers<Uint8Array[]>();
    this.waiters.push(resolve);
    return within(promise, timeoutMs, `a message at the libzmq ${this.type}`).catch((error) => {
      const index = this.waiters.indexOf(resolve);
      if (index >= 0) this.waiters.splice(index, 1);
      throw error instanceof DeadlineError && this.exitReason !== undefined
        ? new Error(`${error.message} (${this.exitReason})`)
        : error;
    });
  }

  /** Messages received and not yet taken by nextMessage(). */
  get queuedMessages(): number {
    return this.inbox.length;
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill();
    await this.proc.exited;
  }

  private onLine(line: string, onStarted: () => void): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      this.stderr += `non-JSON fixture output: ${line}\n`;
      return;
    }
    if (typeof parsed !== "object" || parsed === null) return;
    const record = parsed as Record<string, unknown>;
    if (record.event === "started") {
      onStarted();
    } else if (record.event === "message") {
      const message = fromBase64(record.frames);
      const waiter = this.waiters.shift();
      if (waiter !== undefined) waiter(message);
      else this.inbox.push(message);
    } else if (record.event === "socket-event") {
      this.socketEvents.push(String(record.type));
    } else if (typeof record.id === "number") {
      const settle = this.pending.get(record.id);
      this.pending.delete(record.id);
      settle?.(record as Reply);
    } else {
      this.stderr += `unexpected fixture output: ${line}\n`;
    }
  }

  private async readStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.proc.stderr) {
      this.stderr += decoder.decode(chunk, { stream: true });
    }
  }
}
