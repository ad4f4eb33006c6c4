// The shell around the client: runs commands (from the terminal, --exec, piped input or the
// command line) against a lazily connected client, prints results on stdout and errors and
// notices on stderr in the chosen output mode, and counts failures for the exit status.
import { createInterface } from "node:readline";
import type { WarehouseClient } from "./client.ts";
import { type Command, helpFor, helpOverview, isParseError, parseWords } from "./commands.ts";
import { escapeControls } from "./escape.ts";
import type { OutputSink } from "./output.ts";
import {
  errorJson,
  formatCluster,
  formatCount,
  formatDelete,
  formatError,
  formatEvent,
  formatGet,
  formatHeartbeat,
  formatScan,
  formatSet,
  formatWatchChange,
  formatWhere,
  placementOf,
  underReplicationWarning,
} from "./repl.ts";
import { tokenize } from "./tokenize.ts";
import { CancelledError, unreachable } from "../util/errors.ts";
import type { WatchChange } from "../protocol.ts";

/** What the shell needs from the client library. */
export type ReplClient = Pick<
  WarehouseClient,
  | "set" | "get" | "delete" | "heartbeat" | "view" | "on" | "request" | "close" | "scan"
  | "scanKeys" | "count" | "remove" | "watch"
>;

/** Exit codes of client.ts: 0 every command succeeded; 1 a key was not found or a command
 * failed (the remaining commands of a script still run); 2 the cluster could not be reached
 * (the run stops); 64 the command line itself is wrong (EX_USAGE of sysexits.h). */
export const exitCodes = { ok: 0, failed: 1, unreachable: 2, usage: 64 } as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** text: for a person; json: each reply as one JSON line; raw: values exactly as stored. */
export type OutputMode = "text" | "json" | "raw";

export interface ShellStreams {
  /** Where piped commands come from (runPiped is handed it; the terminal loop reads its own). */
  readonly input: NodeJS.ReadableStream;
  readonly output: OutputSink;
  readonly errors: OutputSink;
}

export interface ShellOptions {
  readonly outputMode: OutputMode;
  /** Write control characters of values and messages as escapes (text output to a terminal). */
  readonly escapeControls: boolean;
  /** Called once, when the first command that needs the cluster runs (at start when
   * interactive), so a script of invalid lines never touches the network. */
  readonly connect: () => Promise<ReplClient>;
  readonly streams: ShellStreams;
  /** Cluster notices go to stdout above the prompt (interactive) or to stderr (scripts). */
  readonly isInteractive: boolean;
}

/** Above this many keys KEYS warns before fetching them all. */
export const keysWarningCount = 10_000;
const keysPageCount = 1000;
/** Keys remembered for Tab completion. */
const keysSeenMax = 10_000;

export type LineResult = "continue" | "exit" | "unreachable";
type ClusterCommand = Exclude<Command, { kind: "help" | "exit" }>;

// Control characters C1 and the bidirectional marks are valid in JSON strings, so
// JSON.stringify leaves them raw; as \u escapes the line means the same and is safe to print.
const jsonUnsafe = /[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    jsonUnsafe,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

// The first reply names every member, but the client learns a member's role only from that
// member's own heartbeats, a heartbeat interval later. Before the cluster is first shown the
// shell waits for them, at most for the client's silence window.
const viewSettleMs = 1_000;
const viewPollMs = 10;

/** State of one run: the (lazily connected) client, the failure count, notices, keys seen. */
export class Session {
  private client: ReplClient | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastNotice: string | null = null;
  private hasWaitedForView = false;
  failureCount = 0;
  /** Failures that were the command's own words being wrong (usage, invalid key). */
  usageFailureCount = 0;
  readonly keysSeen = new Set<string>();
  /** Where notices go; the terminal loop swaps in one that redraws the prompt. */
  notify: (text: string) => Promise<void>;

  constructor(readonly options: ShellOptions) {
    const target = options.isInteractive ? options.streams.output : options.streams.errors;
    this.notify = (text) => target.write(`${this.safe(text)}\n`);
  }

  private safe(text: string): string {
    return this.options.escapeControls ? escapeControls(text) : text;
  }

  /** A result line on stdout. */
  print(text: string): Promise<void> {
    return this.options.streams.output.write(`${this.safe(text)}\n`);
  }

  /** An error or notice line on stderr. */
  printError(text: string): Promise<void> {
    return this.options.streams.errors.write(`${this.safe(text)}\n`);
  }

  /** Connects if not yet connected; null (after saying why on stderr) when unreachable. */
  async ensureClient(): Promise<ReplClient | null> {
    if (this.client !== null) return this.client;
    try {
      this.client = await this.options.connect();
    } catch (error) {
      await this.printError(formatError(error));
      return null;
    }
    this.unsubscribe = this.client.on((event) => void this.notice(formatEvent(event)));
    if (this.options.isInteractive) {
      await this.settleView(this.client);
      const view = this.client.view();
      await this.print(this.options.outputMode === "json" ? jsonLine(view) : formatCluster(view));
    }
    const warning = underReplicationWarning(this.client.view());
    if (warning !== null) await this.notice(warning);
    return this.client;
  }

  private async settleView(client: ReplClient): Promise<void> {
    if (this.hasWaitedForView) return;
    this.hasWaitedForView = true;
    const deadline = Date.now() + viewSettleMs;
    while (!isViewSettled(client.view()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, viewPollMs));
    }
  }

  /** Repeats of the same notice are shown once until something else is shown. */
  private async notice(text: string): Promise<void> {
    if (text === this.lastNotice) return;
    this.lastNotice = text;
    await this.notify(text);
  }

  remember(key: string): void {
    if (this.keysSeen.size < keysSeenMax) this.keysSeen.add(key);
  }

  /** Tokenizes `text` (one line, or a whole script) and runs its commands in order. */
  async runText(text: string, signal?: AbortSignal): Promise<LineResult> {
    const parsed = tokenize(text);
    if (!parsed.ok) {
      await this.reportUsage("BAD_REQUEST", parsed.error);
      return "continue";
    }
    for (const words of parsed.commands) {
      // Ctrl-C cancels the rest of the line too, not only the command that was running.
      if (signal?.aborted === true) break;
      const result = await this.runWords(words, signal);
      if (result !== "continue") return result;
    }
    return "continue";
  }

  private async reportUsage(code: string, message: string): Promise<void> {
    this.failureCount++;
    this.usageFailureCount++;
    if (this.options.outputMode === "json") {
      await this.print(jsonLine({ ok: false, error: { code, message } }));
    } else {
      await this.printError(`Error: ${message}`);
    }
  }

  /** Runs one command given as words (a line's, or the command line's). */
  async runWords(words: readonly string[], signal?: AbortSignal): Promise<LineResult> {
    const parsed = parseWords(words);
    if (isParseError(parsed)) {
      await this.reportUsage(parsed.code, parsed.message);
      return "continue";
    }
    return this.runCommand(parsed, signal);
  }

  async runCommand(command: Command, signal?: AbortSignal): Promise<LineResult> {
    if (command.kind === "exit") return "exit";
    if (command.kind === "help") {
      await this.print(command.topic === null ? helpOverview() : helpFor(command.topic));
      return "continue";
    }
    const client = await this.ensureClient();
    if (client === null) return "unreachable";
    if (command.kind === "nodes" || command.kind === "where") await this.settleView(client);
    if ("key" in command) this.remember(command.key);
    try {
      const isOk = await this.execute(command, client, signal);
      if (!isOk) this.failureCount++;
    } catch (error) {
      this.failureCount++;
      await this.reportError(error);
    }
    return "continue";
  }

  private async reportError(error: unknown): Promise<void> {
    if (error instanceof CancelledError) {
      await this.printError(`Cancelled: ${error.message}; the request was abandoned ` +
        "(a write may still be carried out)");
    } else if (this.options.outputMode === "json") {
      await this.print(jsonLine(errorJson(error)));
    } else {
      await this.printError(formatError(error));
    }
  }

  private execute(command: ClusterCommand, client: ReplClient, signal?: AbortSignal):
    Promise<boolean> {
    const run = new CommandRun(this, client, signal === undefined ? {} : { signal });
    switch (this.options.outputMode) {
      case "json":
        return run.json(command);
      case "raw":
      case "text":
        return run.text(command, this.options.outputMode === "raw");
      default:
        return unreachable(this.options.outputMode);
    }
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    const client = this.client;
    this.client = null;
    if (client !== null) await client.close();
  }
}

/** Whether the client has heard from every member it shows as alive. */
export function isViewSettled(view: ReturnType<ReplClient["view"]>): boolean {
  return view.members.every((member) => !member.alive || member.role !== undefined);
}

/** One command against the cluster, printed in one output mode. Returns whether it succeeded
 * (a key not found is not a success). */
class CommandRun {
  constructor(
    private readonly session: Session,
    private readonly client: ReplClient,
    private readonly options: { signal?: AbortSignal },
  ) {}

  private print(text: string): Promise<void> {
    return this.session.print(text);
  }

  async text(command: ClusterCommand, isRaw: boolean): Promise<boolean> {
    const { client, options } = this;
    switch (command.kind) {
      case "set": {
        const setWith = { ...options, ...setOptions(command) };
        const reply = await client.set(command.key, command.value, setWith);
        const withVersion = command.ifVersion !== null || command.ttlMs !== null;
        await this.print(isRaw ? reply.status : formatSet(reply, withVersion));
        return true;
      }
      case "get": {
        const reply = await client.get(command.key, options);
        if (!isRaw || reply.found) await this.print(formatGet(reply, command.isVerbose && !isRaw));
        return reply.found;
      }
      case "delete": {
        const condition = command.ifVersion === null ? {} : { ifVersion: command.ifVersion };
        const reply = await client.delete(command.key, { ...options, ...condition });
        if (!isRaw || reply.status === "deleted") {
          await this.print(isRaw ? reply.status : formatDelete(reply, command.ifVersion !== null));
        }
        return reply.status === "deleted";
      }
      case "scan": {
        const reply = await client.scan(command.cursor, command.count, options);
        for (const item of reply.items) this.session.remember(item.key);
        if (!isRaw) {
          await this.print(formatScan(reply));
          return true;
        }
        await this.print(reply.cursor);
        for (const item of reply.items) await this.print(`${item.key}\t${item.value}`);
        return true;
      }
      case "keys":
        return this.keys((keys) => this.print(keys.join("\n")), isRaw);
      case "count": {
        const reply = await client.count(options);
        if (!isRaw) await this.print(formatCount(reply, command.isVerbose));
        else if (!command.isVerbose) await this.print(String(reply.count));
        else await this.print(reply.partitions.map((n, p) => `${p}\t${n}`).join("\n"));
        return true;
      }
      case "heartbeat":
        await this.print(formatHeartbeat(await client.heartbeat(options)));
        return true;
      case "nodes":
        await this.print(formatCluster(client.view()));
        return true;
      case "remove": {
        const reply = await client.remove(command.member, options);
        await this.print(isRaw ? String(reply.removed) : `Removed node ${reply.removed}`);
        return true;
      }
      case "where":
        await this.print(formatWhere(command.key, client.view()));
        return true;
      case "watch":
        return this.watch(command, (change) =>
          this.print(isRaw ? rawWatchLine(change) : formatWatchChange(change)));
      default:
        return unreachable(command);
    }
  }

  /** Prints each change until Ctrl-C (the signal) ends the watch; that is a success. */
  private async watch(
    command: Extract<ClusterCommand, { kind: "watch" }>,
    print: (change: WatchChange) => Promise<void>,
  ): Promise<boolean> {
    const since = command.since === null ? {} : { since: command.since };
    for await (const change of this.client.watch(command.key, { ...since, ...this.options })) {
      await print(change);
    }
    return true;
  }

  /** Every key, page by page; warns on stderr first when the store is large. */
  private async keys(
    printPage: (keys: string[]) => Promise<void>,
    isQuiet: boolean,
  ): Promise<boolean> {
    const { count } = await this.client.count(this.options);
    if (count > keysWarningCount) {
      await this.session.printError(`WARNING: KEYS fetches all ${count} keys; ` +
        "SCAN <cursor> COUNT <n> pages through them");
    }
    let cursor = "0";
    let total = 0;
    do {
      const page = await this.client.scanKeys(cursor, keysPageCount, this.options);
      const keys = page.keys;
      for (const key of keys) this.session.remember(key);
      if (keys.length > 0) await printPage(keys);
      total += keys.length;
      cursor = page.cursor;
    } while (cursor !== "0");
    if (total === 0 && !isQuiet) await this.print("(empty)");
    return true;
  }

  async json(command: ClusterCommand): Promise<boolean> {
    const reply = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const answer = await this.client.request(body, this.options);
      await this.print(jsonLine(answer));
      return answer;
    };
    switch (command.kind) {
      case "set": {
        const body = { op: "SET", key: command.key, value: command.value, ...setOptions(command) };
        return (await reply(body))["ok"] === true;
      }
      case "get": {
        const answer = await reply({ op: "GET", key: command.key });
        return answer["ok"] === true && answer["found"] === true;
      }
      case "delete": {
        const condition = command.ifVersion === null ? {} : { ifVersion: command.ifVersion };
        const answer = await reply({ op: "DELETE", key: command.key, ...condition });
        return answer["ok"] === true && answer["status"] === "deleted";
      }
      case "scan":
        return (await reply({ op: "SCAN", cursor: command.cursor, count: command.count }))["ok"] ===
          true;
      case "count":
        return (await reply({ op: "COUNT" }))["ok"] === true;
      case "heartbeat":
        return (await reply({ op: "HEARTBEAT" }))["ok"] === true;
      case "keys": {
        const keys: string[] = [];
        await this.keys(async (page) => void keys.push(...page), true);
        await this.print(jsonLine({ ok: true, keys }));
        return true;
      }
      case "nodes":
        await this.print(jsonLine(this.client.view()));
        return true;
      case "remove":
        return (await reply({ op: "REMOVE", member: command.member }))["ok"] === true;
      case "where":
        await this.print(jsonLine(placementOf(command.key, this.client.view())));
        return true;
      case "watch":
        return this.watch(command, (change) => this.print(jsonLine(change)));
      default:
        return unreachable(command);
    }
  }
}

function setOptions(command: { ifVersion: number | null; ttlMs: number | null }) {
  return {
    ...(command.ifVersion === null ? {} : { ifVersion: command.ifVersion }),
    ...(command.ttlMs === null ? {} : { ttlMs: command.ttlMs }),
  };
}

/** A change in raw output: version, op and the value exactly as stored, tab-separated. */
function rawWatchLine(change: WatchChange): string {
  return change.op === "SET"
    ? `${change.version}\tSET\t${change.value}`
    : `${change.version}\tDELETE`;
}

/** Runs commands given as words (the command line) or as script text (--exec). */
export async function runCommands(
  session: Session,
  source: { readonly words: readonly string[] } | { readonly script: string },
): Promise<LineResult> {
  if ("words" in source) return session.runWords(source.words);
  return session.runText(source.script);
}

/** Whether `text` ends inside a quote (or after a line-continuing backslash), so that the next
 * line belongs to the same command. */
export function isIncomplete(text: string): boolean {
  const parsed = tokenize(text);
  return !parsed.ok && (parsed.error.startsWith("unterminated") ||
    parsed.error.startsWith("a backslash ends"));
}

/** Piped input: lines run as they arrive; a quoted value may span lines. */
export async function runPiped(
  session: Session,
  input: NodeJS.ReadableStream,
): Promise<LineResult> {
  const reader = createInterface({ input, terminal: false, crlfDelay: Infinity });
  let pending = "";
  try {
    for await (const line of reader) {
      pending = pending === "" ? line : `${pending}\n${line}`;
      if (isIncomplete(pending)) continue;
      const result = await session.runText(pending);
      pending = "";
      if (result !== "continue") return result;
    }
    if (pending !== "") return session.runText(pending);
    return "exit";
  } finally {
    reader.close();
  }
}

/** The exit code of a finished run. */
export function exitCodeOf(result: LineResult, session: Session, isInteractive: boolean): ExitCode {
  if (result === "unreachable") return exitCodes.unreachable;
  if (!isInteractive && session.failureCount > 0) return exitCodes.failed;
  return exitCodes.ok;
}
