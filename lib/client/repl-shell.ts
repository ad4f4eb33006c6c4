// The REPL's I/O shell: reads lines (a terminal through cliffy, a pipe through node:readline, or
// an --exec script), runs each through the pure core in repl.ts and the client library, and
// prints results and cluster notices. It owns no parsing or formatting of its own, reads no flags
// or environment (client.ts does) and never exits the process: it returns the exit code.
//
// Why two line readers. cliffy 2.5.1 (a framework over node:readline) gives the terminal its line
// editing and history, and works under Bun there. Two of its parts do not fit and are bypassed:
// - Its command parser tokenizes with /(\w|@|-|\.)+|"[^"]+"|'[^']+'/, which drops `{ } : ,` from
//   values (SET k {"a": 1} would store `a 1`), matches command names case-sensitively and prints
//   stack traces for errors. So every raw line goes to our own parseCommand: cliffy's private
//   `executeCommand(line)` is replaced on the instance (the version is pinned; `cliffyInternals`
//   checks the shape at startup and fails loudly if an upgrade changes it).
// - Its loop reads with readline.question(), which under Bun (as under Node) loses every line
//   after the first when several arrive in one chunk, and throws ERR_USE_AFTER_CLOSE at the end
//   of input. Piped stdin therefore uses node:readline's async iterator, which buffers lines and
//   ends cleanly at EOF. On a terminal the same loss would hit pasted blocks and type-ahead, so
//   the shell also collects readline's "line" events (emitted when no question is pending) and
//   runs them in order after the current command.
import { CLI } from "cliffy";
import { clearLine, createInterface, cursorTo, Interface } from "node:readline";
import { AssertionError, unreachable } from "../util/errors.ts";
import type { ClusterView, WarehouseClient } from "./client.ts";
import {
  type Command,
  errorJson,
  formatCluster,
  formatDelete,
  formatError,
  formatEvent,
  formatGet,
  formatHeartbeat,
  formatSet,
  formatWhere,
  helpText,
  isParseError,
  parseCommand,
  placementOf,
  underReplicationWarning,
} from "./repl.ts";

/** What the shell needs from the client library. */
export type ReplClient = Pick<
  WarehouseClient,
  "set" | "get" | "delete" | "heartbeat" | "view" | "on" | "request" | "close"
>;

/** Exit codes of client.ts. In script mode a failed command (a bad line or an error reply) makes
 * the run fail with 1 but the remaining commands still run; an unreachable cluster stops it. */
export const exitCodes = { ok: 0, failed: 1, unreachable: 2 } as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

export interface ShellStreams {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  /** Connection failures, and cluster notices in script mode (stdout stays results only). */
  readonly errors: NodeJS.WritableStream;
}

export interface ShellOptions {
  /** Prompt, line editing and history on a terminal; the cluster is shown on connect. */
  readonly interactive: boolean;
  /** Print raw reply JSON, one object per line, instead of text. */
  readonly json: boolean;
  /** Commands from --exec; null reads lines from `streams.input`. */
  readonly script: readonly string[] | null;
  /** Called once, when the first command that needs the cluster runs (at start when
   * interactive), so a script of invalid lines never touches the network. */
  readonly connect: () => Promise<ReplClient>;
  readonly streams: ShellStreams;
  readonly prompt?: string;
}

export const defaultPrompt = "warehouse> ";

/** The text (or JSON line) a command prints and whether it succeeded. */
export interface CommandOutcome {
  readonly text: string;
  readonly isOk: boolean;
}

type ClusterCommand = Exclude<Command, { kind: "help" | "exit" | "empty" }>;

async function executeText(command: ClusterCommand, client: ReplClient): Promise<string> {
  switch (command.kind) {
    case "set":
      return formatSet(await client.set(command.key, command.value));
    case "get":
      return formatGet(await client.get(command.key));
    case "delete":
      return formatDelete(await client.delete(command.key));
    case "heartbeat":
      return formatHeartbeat(await client.heartbeat());
    case "nodes":
      return formatCluster(client.view());
    case "where":
      return formatWhere(command.key, client.view());
    default:
      return unreachable(command);
  }
}

async function executeJson(command: ClusterCommand, client: ReplClient): Promise<CommandOutcome> {
  const reply = async (body: Record<string, unknown>): Promise<CommandOutcome> => {
    const answer = await client.request(body);
    return { text: JSON.stringify(answer), isOk: answer.ok === true };
  };
  switch (command.kind) {
    case "set":
      return reply({ op: "SET", key: command.key, value: command.value });
    case "get":
      return reply({ op: "GET", key: command.key });
    case "delete":
      return reply({ op: "DELETE", key: command.key });
    case "heartbeat":
      return reply({ op: "HEARTBEAT" });
    case "nodes":
      return { text: JSON.stringify(client.view()), isOk: true };
    case "where":
      return { text: JSON.stringify(placementOf(command.key, client.view())), isOk: true };
    default:
      return unreachable(command);
  }
}

/** Runs one command that needs the cluster. Never throws: errors become an outcome. */
export async function executeCommand(
  command: ClusterCommand,
  client: ReplClient,
  json: boolean,
): Promise<CommandOutcome> {
  try {
    if (json) return await executeJson(command, client);
    return { text: await executeText(command, client), isOk: true };
  } catch (error) {
    return { text: json ? JSON.stringify(errorJson(error)) : formatError(error), isOk: false };
  }
}

type LineResult = "continue" | "exit" | "unreachable";

// The first reply names every member, but the client learns a member's role only from that
// member's own heartbeats, which arrive over the subscription moments later (one heartbeat
// interval, 100 ms by default). Until then the member shows as alive with role "-". Before the
// cluster is first shown (on connect, NODES, WHERE) the shell waits for those heartbeats, at most
// for the client's silence window, after which an unheard member shows as down anyway.
const viewSettleMs = 1_000;
const viewPollMs = 10;

/** Whether the client has heard from every member it shows as alive. */
export function isViewSettled(view: ClusterView): boolean {
  return view.members.every((member) => !member.alive || member.role !== undefined);
}

/** State of one REPL run: the (lazily connected) client, the failure count and notices. */
class Session {
  private client: ReplClient | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastNotice: string | null = null;
  private hasWaitedForView = false;
  failureCount = 0;
  /** Where notices go; the terminal reader swaps in one that redraws the prompt. */
  notify: (text: string) => void;

  constructor(private readonly options: ShellOptions) {
    const target = options.interactive ? options.streams.output : options.streams.errors;
    this.notify = (text) => {
      target.write(`${text}\n`);
    };
  }

  print(text: string): void {
    this.options.streams.output.write(`${text}\n`);
  }

  /** Connects if not yet connected; null (after saying why on stderr) when unreachable. */
  async ensureClient(): Promise<ReplClient | null> {
    if (this.client !== null) return this.client;
    try {
      this.client = await this.options.connect();
    } catch (error) {
      this.options.streams.errors.write(`${formatError(error)}\n`);
      return null;
    }
    this.unsubscribe = this.client.on((event) => this.notice(formatEvent(event)));
    if (this.options.interactive) await this.settleView(this.client);
    const view = this.client.view();
    if (this.options.interactive) {
      this.print(this.options.json ? JSON.stringify(view) : formatCluster(view));
    }
    const warning = underReplicationWarning(view);
    if (warning !== null) this.notice(warning);
    return this.client;
  }

  /** Waits (once per session, bounded by viewSettleMs) until the view is settled. */
  private async settleView(client: ReplClient): Promise<void> {
    if (this.hasWaitedForView) return;
    this.hasWaitedForView = true;
    const deadline = Date.now() + viewSettleMs;
    while (!isViewSettled(client.view()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, viewPollMs));
    }
  }

  /** Repeats of the same notice (the client may report a lasting condition more than once) are
   * shown once until something else is shown. */
  private notice(text: string): void {
    if (text === this.lastNotice) return;
    this.lastNotice = text;
    this.notify(text);
  }

  async runLine(line: string): Promise<LineResult> {
    const parsed = parseCommand(line);
    if (isParseError(parsed)) {
      this.failureCount++;
      const error = { ok: false, error: { code: parsed.code, message: parsed.message } };
      this.print(this.options.json ? JSON.stringify(error) : parsed.error);
      return "continue";
    }
    if (parsed.kind === "empty") return "continue";
    if (parsed.kind === "exit") return "exit";
    if (parsed.kind === "help") {
      this.print(helpText);
      return "continue";
    }
    const client = await this.ensureClient();
    if (client === null) return "unreachable";
    if (parsed.kind === "nodes" || parsed.kind === "where") await this.settleView(client);
    const outcome = await executeCommand(parsed, client, this.options.json);
    if (!outcome.isOk) this.failureCount++;
    this.print(outcome.text);
    return "continue";
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    const client = this.client;
    this.client = null;
    if (client !== null) await client.close();
  }
}

async function runScript(session: Session, lines: readonly string[]): Promise<LineResult> {
  for (const line of lines) {
    const result = await session.runLine(line);
    if (result !== "continue") return result;
  }
  return "exit";
}

async function runPiped(session: Session, input: NodeJS.ReadableStream): Promise<LineResult> {
  const reader = createInterface({ input, terminal: false, crlfDelay: Infinity });
  try {
    for await (const line of reader) {
      const result = await session.runLine(line);
      if (result !== "continue") return result;
    }
    return "exit";
  } finally {
    reader.close();
  }
}

interface CliffyInternals {
  readonly reader: Interface;
  replaceExecute(execute: (line: string) => Promise<void>): void;
}

/** The two private members of cliffy 2.5.1's CLI the shell relies on, checked at runtime. */
export function cliffyInternals(cli: CLI): CliffyInternals {
  const reader: unknown = Reflect.get(cli, "readline");
  const execute: unknown = Reflect.get(cli, "executeCommand");
  if (!(reader instanceof Interface)) {
    throw new AssertionError("cliffy changed: CLI.readline is not a readline Interface");
  }
  if (typeof execute !== "function") {
    throw new AssertionError("cliffy changed: CLI.executeCommand is not a function");
  }
  return {
    reader,
    replaceExecute: (replacement) => {
      Reflect.set(cli, "executeCommand", replacement);
    },
  };
}

// A promise that never settles: handed to cliffy's loop once input is over, so it never asks a
// closed readline for another line (Bun throws ERR_USE_AFTER_CLOSE from question() and pause()).
const never = new Promise<void>(() => {});

/** The interactive loop: cliffy prompts and edits lines; this queue runs them one at a time, in
 * the order they were typed, and keeps notices from corrupting the prompt. */
class TerminalLoop {
  private readonly cli: CLI;
  private readonly reader: Interface;
  private readonly ended = Promise.withResolvers<LineResult>();
  private readonly pending: string[] = [];
  private running: Promise<void> = Promise.resolve();
  private scheduledCount = 0;
  private isBusy = false;
  /** EXIT was run (or the cluster became unreachable): later lines are dropped. */
  private isEnded = false;
  /** readline is closed (Ctrl-D, Ctrl-C on an empty line, end of input). */
  private isClosed = false;

  constructor(
    private readonly session: Session,
    private readonly output: NodeJS.WritableStream,
    input: NodeJS.ReadableStream,
    prompt: string,
  ) {
    this.cli = new CLI({ input, output, quietBlank: true });
    this.cli.setDelimiter(prompt);
    const { reader, replaceExecute } = cliffyInternals(this.cli);
    this.reader = reader;
    replaceExecute((line) => {
      this.submit(line);
      return this.settled();
    });
    // Lines that complete while a command runs (type-ahead, a pasted block) have no question
    // to answer, so readline emits them as "line" events. cliffy hands over the line that
    // answered the question only after a few microtasks; setImmediate runs after those, which
    // keeps the lines in the order they were typed.
    reader.on("line", (line: string) => {
      this.scheduledCount++;
      setImmediate(() => {
        this.scheduledCount--;
        this.submit(line);
      });
    });
    reader.on("SIGINT", () => this.interrupt());
    reader.on("close", () => {
      // Leave the terminal on a fresh line, not after the prompt.
      if (reader.terminal && !this.isEnded) output.write("\n");
      this.isClosed = true;
      // Finish after the lines already typed, for the same reason as the "line" handler.
      setImmediate(() => this.ended.resolve("exit"));
    });
    session.notify = (text) => this.notify(text);
  }

  async run(): Promise<LineResult> {
    this.cli.show();
    const result = await this.ended.promise;
    await this.running;
    if (!this.isClosed) this.reader.close();
    return result;
  }

  private submit(line: string): void {
    if (this.isEnded) return;
    this.pending.push(line);
    if (!this.isBusy) this.running = this.drain();
  }

  private async drain(): Promise<void> {
    this.isBusy = true;
    try {
      for (let line = this.pending.shift(); line !== undefined; line = this.pending.shift()) {
        const result = await this.session.runLine(line);
        if (result === "continue") continue;
        this.isEnded = true;
        this.pending.length = 0;
        if (!this.isClosed) this.cli.hide();
        this.ended.resolve(result);
      }
    } finally {
      this.isBusy = false;
    }
  }

  /** cliffy prints the next prompt when this settles: not before every queued line has run
   * (each setImmediate turn lets the lines scheduled before it be submitted), never after the
   * end. */
  private async settled(): Promise<void> {
    await this.running;
    while (this.scheduledCount > 0 || this.isBusy) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.running;
    }
    if (this.isEnded || this.isClosed) await never;
  }

  /** Ctrl-C drops a half-typed line, as in a shell; on an empty line it leaves, like Ctrl-D. */
  private interrupt(): void {
    if (this.isBusy || this.reader.line === "") {
      this.reader.close();
      return;
    }
    this.output.write("^C\n");
    this.reader.write(null, { ctrl: true, name: "e" });
    this.reader.write(null, { ctrl: true, name: "u" });
  }

  private notify(text: string): void {
    if (this.isBusy || this.isClosed || this.isEnded || !this.reader.terminal) {
      this.output.write(`${text}\n`);
      return;
    }
    // The prompt (and whatever is typed after it) is on the current line: clear it, print the
    // notice on its own line, then redraw the prompt with the typed text and the cursor kept.
    cursorTo(this.output, 0);
    clearLine(this.output, 0);
    this.output.write(`${text}\n`);
    this.reader.prompt(true);
  }
}

/** Connects first (to show the cluster before the first prompt), then runs the terminal loop. */
async function runInteractive(session: Session, options: ShellOptions): Promise<LineResult> {
  if ((await session.ensureClient()) === null) return "unreachable";
  const { input, output } = options.streams;
  return new TerminalLoop(session, output, input, options.prompt ?? defaultPrompt).run();
}

/** Runs the REPL until EXIT, end of input or the end of the script, closes the client and
 * returns the exit code (see `exitCodes`). */
export async function runShell(options: ShellOptions): Promise<ExitCode> {
  const session = new Session(options);
  let result: LineResult;
  try {
    if (options.script !== null) {
      result = await runScript(session, options.script);
    } else if (options.interactive) {
      result = await runInteractive(session, options);
    } else {
      result = await runPiped(session, options.streams.input);
    }
  } finally {
    await session.close();
  }
  if (result === "unreachable") return exitCodes.unreachable;
  if (!options.interactive && session.failureCount > 0) return exitCodes.failed;
  return exitCodes.ok;
}
