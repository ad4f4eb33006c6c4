// The interactive REPL on a terminal: node:readline edits the line (with Tab completion and
// history through its own options), and this loop adds what readline lacks: Ctrl-R reverse
// search, Ctrl-C that clears the line or cancels the running command, persistent history,
// commands run one at a time in the order typed, and notices printed above the prompt.
import { type Interface, clearLine, createInterface, cursorTo } from "node:readline";
import { commandNamed, commandNames } from "./commands.ts";
import { escapeControls } from "./escape.ts";
import { type HistoryFile, historyEntriesMax } from "./history.ts";
import { type LineResult, type Session, isIncomplete } from "./repl-shell.ts";
import { wordAtEnd } from "./tokenize.ts";
import { AssertionError } from "../util/errors.ts";

export const exitHint = "(To exit, press Ctrl-D or type EXIT)";
/** The prompt while a quote opened on an earlier line is still open. */
export const continuationPrompt = "...> ";

interface Key {
  readonly sequence?: string;
  readonly name?: string;
  readonly ctrl?: boolean;
  readonly meta?: boolean;
}

type KeyListener = (text: string | undefined, key: Key | undefined) => void;

/** Tab completion: command words first, then what fits the command: keys seen in this session,
 * command names after HELP, COUNT after a SCAN cursor, --verbose after COUNT. */
export function complete(line: string, keysSeen: ReadonlySet<string>): [string[], string] {
  const { previous, partial } = wordAtEnd(line);
  const isLower = partial !== "" && partial === partial.toLowerCase();
  const words = (candidates: readonly string[]): string[] =>
    candidates.map((word) => (isLower ? word.toLowerCase() : word));
  const matching = (candidates: readonly string[]): [string[], string] => [
    candidates.filter((word) => word.toLowerCase().startsWith(partial.toLowerCase())),
    partial,
  ];
  if (previous.length === 0) return matching(words([...commandNames, "DEL", "QUIT"]));
  const command = commandNamed(previous[0] as string);
  const argIndex = previous.length - 1;
  switch (command) {
    case "GET":
    case "SET":
    case "DELETE":
    case "WHERE":
      return argIndex === 0 ? matching([...keysSeen].sort()) : [[], partial];
    case "HELP":
      return argIndex === 0 ? matching(words(commandNames)) : [[], partial];
    case "SCAN":
      return argIndex <= 1 ? matching(words(["COUNT"])) : [[], partial];
    case "COUNT":
      return argIndex === 0 ? matching(["--verbose"]) : [[], partial];
    default:
      return [[], partial];
  }
}

/** The parts of node:readline's Interface (Node's and Bun's alike) this loop needs beyond its
 * typed API: replacing the line being edited and redrawing it. Checked at runtime. */
interface LineAccess {
  setLine(text: string): void;
  clearLine(): void;
}

function lineAccess(reader: Interface): LineAccess {
  const refresh: unknown = Reflect.get(reader, "_refreshLine");
  const clear: unknown = Reflect.get(reader, "clearLine");
  if (typeof refresh !== "function" || typeof clear !== "function") {
    throw new AssertionError("node:readline changed: _refreshLine or clearLine is missing");
  }
  return {
    setLine: (text) => {
      Reflect.set(reader, "line", text);
      Reflect.set(reader, "cursor", text.length);
      refresh.call(reader);
    },
    clearLine: () => clear.call(reader),
  };
}

export interface TerminalOptions {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  readonly prompt: string;
  readonly history: HistoryFile | null;
}

/** Ctrl-R: searches the history backwards for the query typed so far. */
class ReverseSearch {
  query = "";
  private skip = 0;
  constructor(
    private readonly entries: readonly string[],
    readonly original: string,
  ) {}

  match(): string | undefined {
    let found = -1;
    for (let index = 0; index < this.entries.length; index++) {
      if (!(this.entries[index] as string).includes(this.query)) continue;
      found++;
      if (found === this.skip) return this.entries[index];
    }
    return undefined;
  }

  older(): void {
    this.skip++;
    if (this.match() === undefined) this.skip--;
  }

  type(text: string): void {
    this.query += text;
    this.skip = 0;
  }

  erase(): void {
    this.query = this.query.slice(0, -1);
    this.skip = 0;
  }
}

export class TerminalLoop {
  private readonly reader: Interface;
  private readonly line: LineAccess;
  private readonly ended = Promise.withResolvers<LineResult>();
  private readonly pending: string[] = [];
  private running: Promise<void> = Promise.resolve();
  private isBusy = false;
  private isEnded = false;
  private isClosed = false;
  private cancel: AbortController | null = null;
  /** Lines of a command whose quote is still open, waiting for the line that closes it. */
  private continued = "";
  private search: ReverseSearch | null = null;
  private savedKeyListeners: KeyListener[] = [];
  private readonly onSigint = (): void => this.interrupt();

  constructor(
    private readonly session: Session,
    private readonly options: TerminalOptions,
  ) {
    const history = options.history?.entries ?? [];
    this.reader = createInterface({
      input: options.input,
      output: options.output,
      terminal: true,
      prompt: options.prompt,
      completer: (line: string) => complete(line, session.keysSeen),
      history: [...history],
      historySize: historyEntriesMax,
      removeHistoryDuplicates: true,
      tabSize: 4,
    });
    this.line = lineAccess(this.reader);
    this.reader.on("line", (line: string) => this.submit(line));
    this.reader.on("SIGINT", this.onSigint);
    this.reader.on("close", () => {
      if (!this.isEnded) options.output.write("\n");
      this.isClosed = true;
      this.ended.resolve("exit");
    });
    // Before readline's own listener: Ctrl-R starts a search that takes the keys over.
    options.input.prependListener("keypress", (text: string | undefined, key: Key | undefined) => {
      if (key?.ctrl === true && key.name === "r" && this.search === null && !this.isBusy) {
        this.startSearch();
      }
    });
    // With the terminal out of raw mode (it never should be while we run) Ctrl-C is a signal.
    process.on("SIGINT", this.onSigint);
    session.notify = (text) => this.notify(text);
  }

  async run(): Promise<LineResult> {
    this.reader.prompt();
    const result = await this.ended.promise;
    await this.running;
    process.off("SIGINT", this.onSigint);
    if (!this.isClosed) this.reader.close();
    return result;
  }

  private submit(line: string): void {
    if (this.isEnded) return;
    this.options.history?.add(line);
    const text = this.continued === "" ? line : `${this.continued}\n${line}`;
    // A quote left open continues on the next line, as in a shell and in piped input.
    if (isIncomplete(text)) {
      this.continued = text;
      this.reader.setPrompt(continuationPrompt);
      if (!this.isBusy) this.reader.prompt();
      return;
    }
    this.continued = "";
    this.reader.setPrompt(this.options.prompt);
    this.pending.push(text);
    if (!this.isBusy) this.running = this.drain();
  }

  private async drain(): Promise<void> {
    this.isBusy = true;
    try {
      for (let line = this.pending.shift(); line !== undefined; line = this.pending.shift()) {
        this.cancel = new AbortController();
        const result = await this.session.runText(line, this.cancel.signal);
        this.cancel = null;
        if (result === "continue") continue;
        this.isEnded = true;
        this.pending.length = 0;
        this.ended.resolve(result);
        return;
      }
    } finally {
      this.isBusy = false;
      this.cancel = null;
    }
    if (!this.isClosed) this.reader.prompt();
  }

  /** Ctrl-C: cancels the running command (and drops lines typed ahead), clears a half-typed
   * line, or on an empty line says how to leave; it never leaves by itself. */
  private interrupt(): void {
    if (this.search !== null) {
      this.endSearch(this.search.original, false);
      return;
    }
    if (this.isBusy) {
      this.pending.length = 0;
      this.cancel?.abort();
      return;
    }
    const isEmpty = this.reader.line === "" && this.continued === "";
    this.continued = "";
    this.reader.setPrompt(this.options.prompt);
    this.line.clearLine();
    if (isEmpty) this.options.output.write(`${exitHint}\n`);
    this.reader.prompt();
  }

  private async notify(text: string): Promise<void> {
    const safe = this.session.options.escapeControls ? escapeControls(text) : text;
    if (this.isBusy || this.isClosed || this.isEnded || this.search !== null) {
      this.options.output.write(`${safe}\n`);
      return;
    }
    // The prompt and what is typed after it are on the current line: clear it, print the
    // notice, then redraw the prompt with the typed text and the cursor kept.
    cursorTo(this.options.output, 0);
    clearLine(this.options.output, 0);
    this.options.output.write(`${safe}\n`);
    this.reader.prompt(true);
  }

  // ---- Ctrl-R ---------------------------------------------------------------------------------

  private startSearch(): void {
    const input = this.options.input;
    this.search = new ReverseSearch(this.options.history?.entries ?? [], this.reader.line);
    // readline must not see the keys typed into the search: its listeners step aside until
    // the search ends. The Ctrl-R that started it is not bound in readline, so it does nothing.
    this.savedKeyListeners = input.listeners("keypress") as KeyListener[];
    input.removeAllListeners("keypress");
    input.on("keypress", (text: string | undefined, key: Key | undefined) =>
      this.searchKey(text, key),
    );
    this.drawSearch();
  }

  private drawSearch(): void {
    const search = this.search;
    if (search === null) return;
    const found = search.match();
    const label = found === undefined && search.query !== "" ? "failing reverse-i-search" :
      "reverse-i-search";
    const shown = escapeControls(found ?? "");
    cursorTo(this.options.output, 0);
    clearLine(this.options.output, 0);
    this.options.output.write(`(${label})'${escapeControls(search.query)}': ${shown}`);
  }

  private searchKey(text: string | undefined, key: Key | undefined): void {
    const search = this.search;
    if (search === null) return;
    const name = key?.name;
    if (key?.ctrl === true && name === "r") {
      search.older();
    } else if (key?.ctrl === true && (name === "c" || name === "g")) {
      this.endSearch(search.original, false);
      return;
    } else if (name === "escape") {
      this.endSearch(search.original, false);
      return;
    } else if (name === "return" || name === "enter") {
      this.endSearch(search.match() ?? search.original, true);
      return;
    } else if (name === "backspace") {
      search.erase();
    } else if (key?.ctrl !== true && key?.meta !== true && text !== undefined &&
      text.length > 0 && text >= " " && name !== "tab" && !text.startsWith("\x1b")) {
      search.type(text);
    } else {
      // Any other key (arrows, Ctrl-A, Ctrl-E...) keeps the match for editing.
      this.endSearch(search.match() ?? search.original, false);
      return;
    }
    this.drawSearch();
  }

  private endSearch(line: string, isSubmitted: boolean): void {
    const input = this.options.input;
    input.removeAllListeners("keypress");
    for (const listener of this.savedKeyListeners) input.on("keypress", listener);
    this.savedKeyListeners = [];
    this.search = null;
    this.line.setLine(line);
    if (isSubmitted) this.reader.write(null, { name: "return" });
  }
}
