// The text a person reads: replies, cluster views, scan pages and notices formatted for the
// REPL and the CLI's text output. No I/O, no clock, no sockets: the shell (repl-shell.ts) calls
// the client and prints what these functions return. Parsing lives in commands.ts.
import type { HeartbeatInfo, WatchChange } from "../protocol.ts";
import { partitionOf, placeReplicas } from "../placement.ts";
import { KvError, unreachable } from "../util/errors.ts";
import type { ClientEvent, ClusterView } from "./client.ts";
import { quoteWord } from "./tokenize.ts";

interface ScanItem {
  readonly key: string;
  readonly value: string;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** `withVersion`: the write was conditional or expiring, so its new version matters. */
export function formatSet(
  reply: { status: "created" | "updated"; replicas: number; version?: number },
  withVersion = false,
): string {
  const verb = reply.status === "created" ? "Created" : "Updated";
  return `${verb} (${plural(reply.replicas, "replica")})${versionText(reply, withVersion)}`;
}

function versionText(reply: { version?: number }, withVersion: boolean): string {
  return withVersion && reply.version !== undefined ? `, version ${reply.version}` : "";
}

/** What GET prints for a key with no value, as redis-cli does: never mistaken for a value that
 * a script stored, since the exit status says "not found" too. */
export const nilText = "(nil)";

/** `isVerbose`: the version on a line of its own after the value. */
export function formatGet(
  reply: { found: boolean; value?: string; version?: number },
  isVerbose = false,
): string {
  if (!reply.found) return nilText;
  const value = reply.value ?? "";
  return isVerbose && reply.version !== undefined ? `${value}\n(version ${reply.version})` : value;
}

/** One change of WATCH: "version 12: SET <value>" or "version 13: DELETE". */
export function formatWatchChange(change: WatchChange): string {
  const what = change.op === "SET" ? `SET ${change.value}` : "DELETE";
  return `version ${change.version}: ${what}`;
}

export function formatDelete(
  reply: { status: "deleted" | "not_found"; replicas: number; version?: number },
  withVersion = false,
): string {
  if (reply.status === "not_found") return "(not found)";
  return `Deleted (${plural(reply.replicas, "replica")})${versionText(reply, withVersion)}`;
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
      // A member that is down has no role now; "down" belongs in the state column only.
      member.alive ? (member.role ?? (member.id === leaderId ? "leader" : "-")) : "-",
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

/** Null when the view has no usable rf, partition count or placement rule yet (no heartbeat
 * seen), or names a placement rule this client does not know. */
export function placementOf(key: string, view: ClusterView): KeyPlacement | null {
  if (!Number.isSafeInteger(view.partitions) || view.partitions < 1) return null;
  if (!Number.isSafeInteger(view.rf) || view.rf < 1 || view.placement === null) return null;
  const partition = partitionOf(key, view.partitions);
  const ids = placeReplicas(view.placement, partition, view.partitions,
    view.members.map((member) => member.id), view.rf);
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
      if (event.live === 0) return "WARNING: no node of the cluster is answering heartbeats";
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

/** A SCAN page: the next cursor, then one `key value` line per item (values quoted when they
 * would not read back as one word). */
export function formatScan(result: { cursor: string; items: readonly ScanItem[] }): string {
  const lines = result.items.map((item) => `${item.key}  ${quoteWord(item.value)}`);
  const done = result.cursor === "0" ? " (scan complete)" : "";
  return [`cursor: ${result.cursor}${done}`, ...lines].join("\n");
}

/** COUNT: the total, and with `isVerbose` every partition's count. */
export function formatCount(
  result: { count: number; partitions: readonly number[] },
  isVerbose: boolean,
): string {
  const total = plural(result.count, "key");
  if (!isVerbose) return total;
  const rows = result.partitions.map((n, partition) => [`partition ${partition}`, String(n)]);
  return [total, ...table(rows).map((line) => `  ${line}`)].join("\n");
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
