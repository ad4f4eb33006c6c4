// The REPL's and the CLI's commands: their words parsed into a Command (keys validated before
// anything is sent), and the help text of each. Pure: no I/O.
import {
  normalizeKey,
  parseScanCursor,
  scanCountDefault,
  scanCountMax,
  ttlMsMax,
} from "../protocol.ts";

/** One parsed command. Keys are validated and in canonical (lower-case) form. */
export type Command =
  | {
      readonly kind: "set";
      readonly key: string;
      readonly value: string;
      /** IF <version>: compare-and-set (0: only if the key does not exist). */
      readonly ifVersion: number | null;
      /** TTL <ms>: the key is deleted this long after the write. */
      readonly ttlMs: number | null;
    }
  | { readonly kind: "get"; readonly key: string; readonly isVerbose: boolean }
  | { readonly kind: "delete"; readonly key: string; readonly ifVersion: number | null }
  | { readonly kind: "where"; readonly key: string }
  | { readonly kind: "watch"; readonly key: string; readonly since: number | null }
  | { readonly kind: "scan"; readonly cursor: string; readonly count: number }
  | { readonly kind: "keys" }
  | { readonly kind: "count"; readonly isVerbose: boolean }
  | { readonly kind: "heartbeat" }
  | { readonly kind: "nodes" }
  | { readonly kind: "remove"; readonly member: number }
  | { readonly kind: "help"; readonly topic: CommandName | null }
  | { readonly kind: "exit" };

/** A command that cannot run. `code` is the wire code the node would have answered. */
export interface ParseError {
  readonly code: "INVALID_KEY" | "BAD_REQUEST";
  readonly message: string;
}

export const invalidKeyMessage = "key is not a valid UUID4";

interface CommandHelp {
  readonly usage: string;
  readonly summary: string;
  readonly details: readonly string[];
}

/** Every command with its help, in the order HELP lists them. */
export const commandHelp = {
  SET: {
    usage: "SET <uuid4> <value> [IF <version>] [TTL <ms>]",
    summary: "store a value (one word: quote it when it has blanks)",
    details: [
      "IF <version>: only if the key is at that version (0: only if it does not exist);",
      "  otherwise Error CONFLICT with the key's version, and nothing is written.",
      "TTL <ms>: the key is deleted that many milliseconds after the write.",
      "The value is one word. Quote it as a shell would:",
      `  SET <uuid4> "hello world"          double quotes: \\n \\t \\" \\\\ \\uXXXX \\xHH \\e`,
      `  SET <uuid4> '{"a": 1, "b": [2]}'   single quotes: everything literal`,
      `  SET <uuid4> "line 1\\nline 2"       a JSON string literal means the same here`,
      "  SET <uuid4> it\\'s                  a backslash outside quotes takes the next character",
      "From the command line, `-` reads the value from stdin, --value-file F from a file.",
    ],
  },
  GET: {
    usage: "GET <uuid4> [--verbose]",
    summary: "print the value; (nil) when the key has none",
    details: [
      "--verbose also prints the key's version (what SET ... IF and DELETE ... IF compare).",
      "Exit status 1 from a script or the command line when the key is not found.",
    ],
  },
  DELETE: {
    usage: "DELETE <uuid4> [IF <version>]",
    summary: "delete a key (also DEL)",
    details: [
      "Prints (not found), exit status 1 in scripts, when the key held no value.",
      "IF <version>: only if the key is at that version; otherwise Error CONFLICT.",
    ],
  },
  WATCH: {
    usage: "WATCH <uuid4> [SINCE v]",
    summary: "print the key's changes as they are committed, until Ctrl-C",
    details: [
      "Each change once, oldest first, with its version; a new leader changes nothing.",
      "SINCE v first prints the changes after version v that the change log still holds",
      "(an error COMPACTED when it no longer reaches back that far).",
    ],
  },
  SCAN: {
    usage: "SCAN [cursor] [COUNT n]",
    summary: "one page of keys with their values; repeat with the cursor it prints",
    details: [
      `Start with cursor 0 (the default); COUNT is 1 to ${scanCountMax} (default ` +
        `${scanCountDefault}). The scan is`,
      "complete when the cursor printed is 0. Every key present for the whole scan is",
      "returned at least once, in partition order, even across a leader change.",
    ],
  },
  KEYS: {
    usage: "KEYS",
    summary: "every key, fetched page by page (warns first when the store is large)",
    details: ["For large stores prefer SCAN, which fetches one page at a time."],
  },
  COUNT: {
    usage: "COUNT [--verbose]",
    summary: "number of live keys (per partition with --verbose)",
    details: [],
  },
  WHERE: {
    usage: "WHERE <uuid4>",
    summary: "the key's partition and the nodes that hold it",
    details: ["Computed by the client from its view of the cluster; nothing is sent."],
  },
  HEARTBEAT: {
    usage: "HEARTBEAT",
    summary: "ask the cluster for its instances and replication factor",
    details: [],
  },
  NODES: {
    usage: "NODES",
    summary: "the members as this client sees them",
    details: [],
  },
  REMOVE: {
    usage: "REMOVE <node id>",
    summary: "retire a dead member for good; its partitions move to the others",
    details: [
      "The member must be stopped (the leader refuses a live one) and must not be the only",
      "in-sync replica of any partition. Its id is never used again: a node started with it",
      "is refused. The partitions it held are copied to the members placement now names.",
    ],
  },
  HELP: {
    usage: "HELP [command]",
    summary: "this text, or one command's",
    details: [],
  },
  EXIT: {
    usage: "EXIT",
    summary: "leave (also QUIT, or Ctrl-D)",
    details: [],
  },
} as const satisfies Record<string, CommandHelp>;
export type CommandName = keyof typeof commandHelp;

export const commandNames = Object.keys(commandHelp) as CommandName[];
const aliases: Readonly<Record<string, CommandName>> = { DEL: "DELETE", QUIT: "EXIT" };

/** The command a word names (case-insensitive, aliases included), or null. */
export function commandNamed(word: string): CommandName | null {
  const upper = word.toUpperCase();
  if (upper in commandHelp) return upper as CommandName;
  return aliases[upper] ?? null;
}

/** HELP: the command list and the quoting rules. */
export function helpOverview(): string {
  // A usage longer than the column (SET's) has its summary on the next line.
  const width = 25;
  const line = (name: CommandName): string => {
    const { usage, summary } = commandHelp[name];
    if (usage.length < width - 1) return `  ${usage.padEnd(width)}${summary}`;
    return `  ${usage}\n  ${"".padEnd(width)}${summary}`;
  };
  return [
    "Commands (case-insensitive; keys are UUID version 4):",
    ...commandNames.map(line),
    "Quoting works as in a shell: 'single' is literal, \"double\" takes backslash escapes",
    '(\\n \\t \\" \\\\ \\uXXXX \\xHH \\e), a backslash outside quotes takes the next character.',
    "Commands are separated by ; or new lines; # starts a comment. HELP <command> for more.",
  ].join("\n");
}

/** HELP <command>. */
export function helpFor(name: CommandName): string {
  const help: CommandHelp = commandHelp[name];
  return [`${help.usage}`, `  ${help.summary}`, ...help.details.map((line) => `  ${line}`)]
    .join("\n");
}

function usageError(name: CommandName): ParseError {
  return { code: "BAD_REQUEST", message: `usage: ${commandHelp[name].usage}` };
}

function keyCommand(
  kind: "where",
  name: CommandName,
  args: readonly string[],
): Command | ParseError {
  if (args.length !== 1) return usageError(name);
  const key = normalizeKey(args[0]);
  if (key === null) return { code: "INVALID_KEY", message: invalidKeyMessage };
  return { kind, key };
}

/** Trailing `IF <version>` and `TTL <ms>` pairs (each at most once; TTL only where allowed). */
function parseClauses(
  words: readonly string[],
  isTtlAllowed: boolean,
): { ifVersion: number | null; ttlMs: number | null } | ParseError | null {
  let ifVersion: number | null = null;
  let ttlMs: number | null = null;
  for (let i = 0; i < words.length; i += 2) {
    const word = words[i]?.toUpperCase();
    const number = words[i + 1];
    if (number === undefined || !/^\d{1,16}$/.test(number)) {
      if (word === "IF") return { code: "BAD_REQUEST", message: "IF takes a version: IF 0, IF 42" };
      if (word === "TTL" && isTtlAllowed) {
        return { code: "BAD_REQUEST", message: "TTL takes milliseconds: TTL 5000" };
      }
      return null;
    }
    if (word === "IF" && ifVersion === null) ifVersion = Number(number);
    else if (word === "TTL" && isTtlAllowed && ttlMs === null) ttlMs = Number(number);
    else return null;
  }
  if (ifVersion !== null && !Number.isSafeInteger(ifVersion)) {
    return { code: "BAD_REQUEST", message: "IF takes a version (an integer from 0)" };
  }
  if (ttlMs !== null && (ttlMs < 1 || ttlMs > ttlMsMax)) {
    return { code: "BAD_REQUEST", message: `TTL must be 1 to ${ttlMsMax} ms (30 days)` };
  }
  return { ifVersion, ttlMs };
}

function parseSet(args: readonly string[]): Command | ParseError {
  if (args.length < 2) return usageError("SET");
  const clauses = parseClauses(args.slice(2), true);
  if (clauses === null) {
    return {
      code: "BAD_REQUEST",
      message: `SET takes one value but got ${args.length - 1} words; quote a value with ` +
        `blanks: SET <uuid4> "a b"`,
    };
  }
  if ("code" in clauses) return clauses;
  const key = normalizeKey(args[0]);
  if (key === null) return { code: "INVALID_KEY", message: invalidKeyMessage };
  return { kind: "set", key, value: args[1] as string, ...clauses };
}

function parseDelete(args: readonly string[]): Command | ParseError {
  if (args.length < 1) return usageError("DELETE");
  const clauses = parseClauses(args.slice(1), false);
  if (clauses === null) return usageError("DELETE");
  if ("code" in clauses) return clauses;
  const key = normalizeKey(args[0]);
  if (key === null) return { code: "INVALID_KEY", message: invalidKeyMessage };
  return { kind: "delete", key, ifVersion: clauses.ifVersion };
}

function parseGet(args: readonly string[]): Command | ParseError {
  const flag = args[1]?.toLowerCase();
  const isVerbose = args.length === 2 && (flag === "--verbose" || flag === "verbose");
  if (args.length !== 1 && !isVerbose) return usageError("GET");
  const key = normalizeKey(args[0]);
  if (key === null) return { code: "INVALID_KEY", message: invalidKeyMessage };
  return { kind: "get", key, isVerbose };
}

function parseWatch(args: readonly string[]): Command | ParseError {
  if (args.length !== 1 && !(args.length === 3 && args[1]?.toUpperCase() === "SINCE")) {
    return usageError("WATCH");
  }
  const key = normalizeKey(args[0]);
  if (key === null) return { code: "INVALID_KEY", message: invalidKeyMessage };
  if (args.length === 1) return { kind: "watch", key, since: null };
  const since = Number(args[2]);
  if (!/^\d{1,15}$/.test(args[2] ?? "")) {
    return { code: "BAD_REQUEST", message: "SINCE takes a version (a whole number)" };
  }
  return { kind: "watch", key, since };
}

function parseScan(args: readonly string[]): Command | ParseError {
  let rest = [...args];
  let cursor = "0";
  if (rest.length > 0 && rest[0]?.toUpperCase() !== "COUNT") {
    cursor = rest[0] as string;
    rest = rest.slice(1);
    if (parseScanCursor(cursor) === null) {
      return { code: "BAD_REQUEST", message: `"${cursor}" is not a SCAN cursor (0 starts)` };
    }
  }
  let count = scanCountDefault;
  if (rest.length > 0) {
    if (rest.length !== 2 || rest[0]?.toUpperCase() !== "COUNT") return usageError("SCAN");
    count = Number(rest[1]);
    if (!/^\d+$/.test(rest[1] ?? "") || count < 1 || count > scanCountMax) {
      return { code: "BAD_REQUEST", message: `COUNT must be 1 to ${scanCountMax}` };
    }
  }
  return { kind: "scan", cursor, count };
}

function bare(command: Command, name: CommandName, args: readonly string[]): Command | ParseError {
  return args.length === 0 ? command : usageError(name);
}

/** Parses one command's words (at least one). Command words are case-insensitive. */
export function parseWords(words: readonly string[]): Command | ParseError {
  const [word = "", ...args] = words;
  const name = commandNamed(word);
  switch (name) {
    case "SET":
      return parseSet(args);
    case "GET":
      return parseGet(args);
    case "DELETE":
      return parseDelete(args);
    case "WHERE":
      return keyCommand("where", name, args);
    case "WATCH":
      return parseWatch(args);
    case "SCAN":
      return parseScan(args);
    case "KEYS":
      return bare({ kind: "keys" }, name, args);
    case "COUNT": {
      const flag = args[0]?.toLowerCase();
      if (args.length === 1 && (flag === "--verbose" || flag === "verbose")) {
        return { kind: "count", isVerbose: true };
      }
      return bare({ kind: "count", isVerbose: false }, name, args);
    }
    case "HEARTBEAT":
      return bare({ kind: "heartbeat" }, name, args);
    case "NODES":
      return bare({ kind: "nodes" }, name, args);
    case "REMOVE": {
      const member = args.length === 1 && /^[1-9][0-9]{0,15}$/.test(args[0] as string)
        ? Number(args[0])
        : null;
      if (member === null || !Number.isSafeInteger(member)) return usageError(name);
      return { kind: "remove", member };
    }
    case "HELP": {
      if (args.length === 0) return { kind: "help", topic: null };
      const topic = args.length === 1 ? commandNamed(args[0] as string) : null;
      if (topic === null) {
        return { code: "BAD_REQUEST", message: `no command "${args.join(" ")}" (type HELP)` };
      }
      return { kind: "help", topic };
    }
    case "EXIT":
      return bare({ kind: "exit" }, name, args);
    case null:
      return { code: "BAD_REQUEST", message: `unknown command "${word}" (type HELP)` };
  }
}

export function isParseError(parsed: Command | ParseError): parsed is ParseError {
  return "code" in parsed;
}
