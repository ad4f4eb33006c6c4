// The REPL's pure core: parse one line into a Command, split an --exec script into lines, and
// format replies, cluster views and notices as text for a person. No I/O, no clock, no sockets:
// the shell (repl-shell.ts) reads lines, calls the client and prints what these functions return.
import type { HeartbeatInfo } from "../protocol.ts";
import { normalizeKey } from "../protocol.ts";
import { partitionOf, replicasOf } from "../placement.ts";
import { KvError, unreachable } from "../util/errors.ts";
import type { ClientEvent, ClusterView } from "./client.ts";

/** One parsed REPL line. Keys are already validated and in canonical (lower-case) form. */
export type Command =
  | { readonly kind: "set"; readonly key: string; readonly value: string }
  | { readonly kind: "get"; readonly key: string }
  | { readonly kind: "delete"; readonly key: string }
  | { readonly kind: "where"; readonly key: string }
  | { readonly kind: "heartbeat" }
  | { readonly kind: "nodes" }
  | { readonly kind: "help" }
  | { readonly kind: "exit" }
  | { readonly kind: "empty" };

/** A line that cannot run. `error` is the text to print; `code` and `message` are what --json
 * prints, with the wire code the node would have answered (usage problems are BAD_REQUEST). */
export interface ParseError {
  readonly error: string;
  readonly code: "INVALID_KEY" | "BAD_REQUEST";
  readonly message: string;
}

export const invalidKeyMessage = "key is not a valid UUID4";

/** Usage line of each command, as HELP and the usage errors show it. */
export const usageOf = {
  SET: "SET <uuid4> <value>",
  GET: "GET <uuid4>",
  DELETE: "DELETE <uuid4>",
  WHERE: "WHERE <uuid4>",
  HEARTBEAT: "HEARTBEAT",
  NODES: "NODES",
  HELP: "HELP",
  EXIT: "EXIT",
} as const;
type CommandName = keyof typeof usageOf;

export const helpText = [
  "Commands (case-insensitive; keys are UUID version 4):",
  `  ${usageOf.SET.padEnd(22)} store a value; the value is the rest of the line,`,
  `  ${"".padEnd(22)} surrounding quotes are stripped: SET <uuid4> '{"a": 1}'`,
  `  ${usageOf.GET.padEnd(22)} print the value, or "Not found"`,
  `  ${usageOf.DELETE.padEnd(22)} delete a key`,
  `  ${usageOf.WHERE.padEnd(22)} show the key's partition and the nodes that hold it`,
  `  ${usageOf.HEARTBEAT.padEnd(22)} ask the cluster for its instances and replication factor`,
  `  ${usageOf.NODES.padEnd(22)} show the members as this client sees them`,
  `  ${usageOf.HELP.padEnd(22)} show this text`,
  `  ${"EXIT, QUIT, Ctrl-D".padEnd(22)} leave`,
  "Lines starting with # are comments.",
].join("\n");

function usageError(name: CommandName): ParseError {
  const message = `usage: ${usageOf[name]}`;
  return { error: `Error: ${message}`, code: "BAD_REQUEST", message };
}

function invalidKeyError(): ParseError {
  return { error: `Error: ${invalidKeyMessage}`, code: "INVALID_KEY", message: invalidKeyMessage };
}

/** Splits off the first whitespace-delimited word; `rest` has its leading whitespace removed. */
function firstWord(text: string): { word: string; rest: string } {
  const trimmed = text.trimStart();
  const end = trimmed.search(/\s/);
  if (end < 0) return { word: trimmed, rest: "" };
  return { word: trimmed.slice(0, end), rest: trimmed.slice(end).trimStart() };
}

/** Strips one pair of matching surrounding quotes. Nothing inside is unescaped: what is between
 * the quotes is stored as typed, so JSON documents keep their own quotes and backslashes. */
export function unquote(text: string): string {
  if (text.length < 2) return text;
  const first = text[0];
  if ((first === '"' || first === "'") && text.endsWith(first)) return text.slice(1, -1);
  return text;
}

type KeyCommandKind = "get" | "delete" | "where";

function parseKeyCommand(
  kind: KeyCommandKind,
  name: CommandName,
  args: string,
): Command | ParseError {
  const { word, rest } = firstWord(args);
  if (word === "" || rest !== "") return usageError(name);
  const key = normalizeKey(word);
  if (key === null) return invalidKeyError();
  return { kind, key };
}

function parseSet(args: string): Command | ParseError {
  const { word, rest } = firstWord(args);
  // Trailing blanks are invisible on a terminal, so they are not part of the value; blanks
  // inside quotes are kept.
  const raw = rest.trimEnd();
  if (word === "" || raw === "") return usageError("SET");
  const key = normalizeKey(word);
  if (key === null) return invalidKeyError();
  return { kind: "set", key, value: unquote(raw) };
}

function parseBare(command: Command, name: CommandName, args: string): Command | ParseError {
  return args === "" ? command : usageError(name);
}

/** Parses one REPL line. Command words are case-insensitive; an empty line or a `#` comment is
 * `{ kind: "empty" }`. Keys are checked here, so an invalid key is never sent. */
export function parseCommand(line: string): Command | ParseError {
  const { word, rest } = firstWord(line);
  if (word === "" || word.startsWith("#")) return { kind: "empty" };
  const args = rest.trimEnd();
  switch (word.toUpperCase()) {
    case "SET":
      return parseSet(rest);
    case "GET":
      return parseKeyCommand("get", "GET", args);
    case "DELETE":
      return parseKeyCommand("delete", "DELETE", args);
    case "WHERE":
      return parseKeyCommand("where", "WHERE", args);
    case "HEARTBEAT":
      return parseBare({ kind: "heartbeat" }, "HEARTBEAT", args);
    case "NODES":
      return parseBare({ kind: "nodes" }, "NODES", args);
    case "HELP":
      return parseBare({ kind: "help" }, "HELP", args);
    case "EXIT":
    case "QUIT":
      return parseBare({ kind: "exit" }, "EXIT", args);
    default: {
      const message = `unknown command "${word}" (type HELP)`;
      return { error: `Error: ${message}`, code: "BAD_REQUEST", message };
    }
  }
}

export function isParseError(parsed: Command | ParseError): parsed is ParseError {
  return "error" in parsed;
}

/** Splits an --exec script into lines at `;` and newlines that are outside quotes, so
 * `SET <k> "a; b"` stays one command. Blank pieces are dropped. */
export function splitScript(script: string): string[] {
  const lines: string[] = [];
  let current = "";
  let quote: string | null = null;
  for (const char of script) {
    if (quote !== null) {
      if (char === quote) quote = null;
      current += char;
    } else if (char === ";" || char === "\n") {
      lines.push(current);
      current = "";
    } else {
      if (char === '"' || char === "'") quote = char;
      current += char;
    }
  }
  lines.push(current);
  return lines.map((line) => line.trim()).filter((line) => line !== "");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

export function formatSet(reply: { status: "created" | "updated"; replicas: number }): string {
  const verb = reply.status === "created" ? "Created" : "Updated";
  return `${verb} (${plural(reply.replicas, "replica")})`;
}

export function formatGet(reply: { found: boolean; value?: string }): string {
  return reply.found ? (reply.value ?? "") : "Not found";
}

export function formatDelete(reply: { status: "deleted" | "not_found"; replicas: number }): string {
  if (reply.status === "not_found") return "Not found";
  return `Deleted (${plural(reply.replicas, "replica")})`;
}

/** Lays out rows as left-aligned columns separated by two spaces; no trailing blanks. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

function endpointText(node: { id: number; endpoint: string } | null): string {
  return node === null ? "none" : `${node.id} (${node.endpoint})`;
}

/** Members table (leader marked `*`) and a summary line with leader, rf, partitions and term. */
export function formatCluster(view: ClusterView): string {
  const leaderId = view.leader?.id;
  const header = ["", "id", "endpoint", "role", "state"];
  const rows = view.members
    .slice()
    .sort((left, right) => left.id - right.id)
    .map((member) => [
      member.id === leaderId ? "*" : "",
      String(member.id),
      member.endpoint,
      member.role ?? (member.id === leaderId ? "leader" : "-"),
      member.alive ? "alive" : "down",
    ]);
  const summary =
    `leader: ${endpointText(view.leader)}  rf: ${view.rf}  partitions: ${view.partitions}` +
    `  term: ${view.term}`;
  const body = rows.length === 0 ? ["(no members known)"] : table([header, ...rows]);
  return [...body, summary].join("\n");
}

/** The warning the architecture asks for when fewer members are live than RF, else null. */
export function underReplicationWarning(view: ClusterView): string | null {
  const live = view.members.filter((member) => member.alive).length;
  if (view.rf <= 0 || live >= view.rf) return null;
  return formatEvent({ type: "under-replicated", live, rf: view.rf });
}

/** The reply to HEARTBEAT: who answered, every known instance, and the replication factor. */
export function formatHeartbeat(info: HeartbeatInfo): string {
  const rows = info.members
    .slice()
    .sort((left, right) => left.id - right.id)
    .map((member) => [
      member.id === info.leader?.id ? "*" : "",
      String(member.id),
      member.endpoint,
      `pub ${member.pub}`,
      member.alive ? "alive" : "down",
    ]);
  return [
    `Heartbeat from node ${info.node.id} (${info.node.endpoint}): ${info.role}, term ${info.term}`,
    `Known instances (${info.members.length}):`,
    ...table(rows).map((line) => `  ${line}`),
    `Replication factor: ${info.rf}  partitions: ${info.partitions}` +
      `  leader: ${endpointText(info.leader)}`,
  ].join("\n");
}

/** Where a key lives, computed by the client from its view (docs/protocol.md "Placement"). */
export interface KeyPlacement {
  readonly key: string;
  readonly partition: number;
  readonly replicas: readonly { id: number; endpoint: string; alive: boolean }[];
}

/** Null when the view has no usable rf or partition count yet (no heartbeat seen). */
export function placementOf(key: string, view: ClusterView): KeyPlacement | null {
  if (!Number.isSafeInteger(view.partitions) || view.partitions < 1) return null;
  if (!Number.isSafeInteger(view.rf) || view.rf < 1) return null;
  const partition = partitionOf(key, view.partitions);
  const ids = replicasOf(partition, view.members.map((member) => member.id), view.rf);
  const replicas = ids.flatMap((id) => {
    const member = view.members.find((candidate) => candidate.id === id);
    return member === undefined ? [] : [{ id, endpoint: member.endpoint, alive: member.alive }];
  });
  return { key, partition, replicas };
}

/** WHERE: the partition of `key` (canonical form) and the members that hold it. */
export function formatWhere(key: string, view: ClusterView): string {
  const placement = placementOf(key, view);
  if (placement === null) return "Placement unknown: no cluster information yet";
  const head = `Key ${key}: partition ${placement.partition} of ${view.partitions}`;
  if (placement.replicas.length === 0) return `${head}\nReplicas: none known`;
  const rows = placement.replicas.map((replica) => [
    String(replica.id),
    replica.endpoint,
    replica.alive ? "alive" : "down",
  ]);
  return [head, `Replicas (rf ${view.rf}):`, ...table(rows).map((line) => `  ${line}`)].join("\n");
}

/** A notice for something the client saw happen in the cluster. */
export function formatEvent(event: ClientEvent): string {
  switch (event.type) {
    case "leader-changed":
      if (event.leader === null) return `Leader lost: no leader, term ${event.term}`;
      return (
        `Leader changed: node ${event.leader.id} (${event.leader.endpoint}), ` +
        `term ${event.term}`
      );
    case "under-replicated":
      return (
        `WARNING: cluster size (${event.live}) is smaller than ` +
        `replication factor (${event.rf})`
      );
    case "member-changed":
      return `Node ${event.id} is ${event.alive ? "up" : "down"}`;
    default:
      return unreachable(event);
  }
}

/** One line for a person: `Error CODE: message` for a KvError, `Error: message` otherwise. Never
 * a stack trace. */
export function formatError(error: unknown): string {
  if (error instanceof KvError) return `Error ${error.code}: ${error.message}`;
  if (error instanceof Error) return `Error: ${error.message}`;
  return `Error: ${String(error)}`;
}

/** The JSON error object --json prints for an error that has no reply of its own. */
export function errorJson(error: unknown): { ok: false; error: { code: string; message: string } } {
  if (error instanceof KvError) {
    return { ok: false, error: { code: error.code, message: error.message } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, error: { code: "ERROR", message } };
}
