// Headless Chromium driven over the DevTools protocol (one WebSocket, flattened sessions), for
// tests of the status page: open a page, evaluate in it, collect console errors and uncaught
// exceptions, save screenshots. `await using` closes the browser and reaps its process.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { readUntil, timeouts } from "./wait.ts";

/** Debian's package installs it here; CHROMIUM overrides. */
const chromiumPath = process.env["CHROMIUM"] ?? "/usr/bin/chromium";

const flags = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--remote-debugging-port=0", "--window-size=1280,1000", "--hide-scrollbars",
];

interface Pending {
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: Error) => void;
}

type EventListener = (params: Record<string, unknown>, sessionId: string | undefined) => void;

export class Browser implements AsyncDisposable {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: EventListener[] = [];
  private readonly eventsByMethod = new Map<string, EventListener[]>();

  private constructor(
    private readonly process: Subprocess<"ignore", "ignore", "pipe">,
    private readonly socket: WebSocket,
    private readonly profileDir: string,
  ) {
    socket.addEventListener("message", (event) => this.onMessage(String(event.data)));
    socket.addEventListener("close", () => {
      for (const p of this.pending.values()) p.reject(new Error("DevTools connection closed"));
      this.pending.clear();
    });
  }

  static async launch(): Promise<Browser> {
    const profileDir = mkdtempSync(join(tmpdir(), "warehouse-chromium-"));
    const argv = [chromiumPath, ...flags, `--user-data-dir=${profileDir}`, "about:blank"];
    const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    try {
      const url = await devtoolsUrlOf(proc);
      const socket = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener("open", () => resolve(), { once: true });
        socket.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)),
          { once: true });
      });
      return new Browser(proc, socket, profileDir);
    } catch (error) {
      proc.kill("SIGKILL");
      await proc.exited;
      rmSync(profileDir, { recursive: true, force: true });
      throw error;
    }
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string):
    Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.pending.set(id, { resolve, reject });
    this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return promise;
  }

  on(method: string, listener: EventListener): void {
    const list = this.eventsByMethod.get(method) ?? [];
    list.push(listener);
    this.eventsByMethod.set(method, list);
  }

  async newPage(): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, String(sessionId));
    await page.start();
    return page;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // A polite close first; the kill covers a browser that does not answer.
    await Promise.race([this.send("Browser.close").catch(() => undefined), Bun.sleep(2000)]);
    this.socket.close();
    this.process.kill("SIGKILL");
    await this.process.exited;
    rmSync(this.profileDir, { recursive: true, force: true });
  }

  private onMessage(text: string): void {
    const message = JSON.parse(text) as {
      id?: number; result?: Record<string, unknown>; error?: { message: string };
      method?: string; params?: Record<string, unknown>; sessionId?: string;
    };
    if (message.id !== undefined) {
      const pending = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error !== undefined) pending?.reject(new Error(message.error.message));
      else pending?.resolve(message.result ?? {});
      return;
    }
    if (message.method === undefined) return;
    for (const listener of this.eventsByMethod.get(message.method) ?? []) {
      listener(message.params ?? {}, message.sessionId);
    }
  }
}

export class Page {
  /** Console errors, uncaught exceptions and failed loads, as text. */
  readonly errors: string[] = [];

  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {}

  async start(): Promise<void> {
    const mine = (sessionId: string | undefined) => sessionId === this.sessionId;
    this.browser.on("Runtime.consoleAPICalled", (params, sessionId) => {
      if (!mine(sessionId) || (params["type"] !== "error" && params["type"] !== "assert")) return;
      type Arg = { value?: unknown; description?: string };
      const args = (params["args"] as Arg[] | undefined) ?? [];
      this.errors.push(`console: ${args.map((a) => a.description ?? String(a.value)).join(" ")}`);
    });
    this.browser.on("Runtime.exceptionThrown", (params, sessionId) => {
      if (!mine(sessionId)) return;
      const details = params["exceptionDetails"] as {
        text?: string;
        exception?: { description?: string };
      };
      this.errors.push(`exception: ${details.exception?.description ?? details.text ?? "?"}`);
    });
    this.browser.on("Log.entryAdded", (params, sessionId) => {
      const entry = params["entry"] as { level?: string; text?: string; url?: string };
      if (mine(sessionId) && entry.level === "error") {
        this.errors.push(`log: ${entry.text ?? ""} ${entry.url ?? ""}`);
      }
    });
    for (const domain of ["Page", "Runtime", "Log"]) await this.call(`${domain}.enable`);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId);
  }

  async navigate(url: string): Promise<void> {
    const { errorText } = await this.call("Page.navigate", { url });
    if (typeof errorText === "string" && errorText !== "") throw new Error(`${url}: ${errorText}`);
  }

  /** Evaluates an expression in the page and returns its value (JSON-serialisable). */
  async evaluate<T>(expression: string): Promise<T> {
    const reply = await this.call("Runtime.evaluate", {
      expression, returnByValue: true, awaitPromise: true,
    });
    const thrown = reply["exceptionDetails"] as { text?: string } | undefined;
    if (thrown !== undefined) throw new Error(`evaluate failed: ${thrown.text ?? expression}`);
    return (reply["result"] as { value: T }).value;
  }

  async screenshot(path: string): Promise<void> {
    const { data } = await this.call("Page.captureScreenshot", {
      format: "png", captureBeyondViewport: true,
    });
    writeFileSync(path, Buffer.from(String(data), "base64"));
  }
}

/** Reads Chromium's stderr until it prints the browser's DevTools WebSocket URL. */
async function devtoolsUrlOf(proc: Subprocess<"ignore", "ignore", "pipe">): Promise<string> {
  const { found, text } = await readUntil(proc.stderr, timeouts.readyMs,
    (text) => /DevTools listening on (ws:\/\/\S+)/.exec(text)?.[1]);
  // Keep draining stderr so Chromium never blocks writing to a full pipe.
  void proc.stderr.pipeTo(new WritableStream()).catch(() => undefined);
  if (found !== undefined) return found;
  throw new Error(`Chromium (${chromiumPath}) printed no DevTools URL: ${text.slice(-2000)}`);
}
