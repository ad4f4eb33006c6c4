// Whether a data reply fits the request it claims to answer. parsePeerMessage checks a message
// on its own; the coordinator also checks the pair before acting on a reply, since a reply that
// is well formed but answers something else (another rid, a refusal that names no newer epoch,
// statuses for a different number of changes, rows of another partition) would otherwise steer
// a takeover, a write or a read wrongly. Pure: no I/O.

import { partitionOf } from "../placement.ts";
import type { LogPosition } from "../store/replica-types.ts";
import type { DataReply, DataRequest } from "./data-messages.ts";
import { epochAt } from "./divergence.ts";

const answerTypes: { readonly [T in DataRequest["type"]]: DataReply["type"] } = {
  fence: "fenced",
  replicate: "replicated",
  read: "row",
  truncate: "truncated",
  fetch: "changes",
  snapshot: "snapshot-rows",
  install: "installed",
  rows: "rows-page",
  writer: "writer-change",
  count: "row-count",
  "key-changes": "key-changes",
  drop: "dropped",
};

/**
 * Null when `reply` can be the answer to `request`; otherwise what is wrong with it. Both are
 * already parsed. `partitions`, when known, ties the reply's keys to the request's partition.
 */
export function replyProblem(
  request: DataRequest,
  reply: DataReply,
  partitions: number | null,
): string | null {
  if (reply.rid !== request.rid) return `reply ${reply.rid} does not answer request ${request.rid}`;
  if (reply.type === "refused") {
    // A replica refuses as stale only a request older than its fence; believing a bogus one
    // would make a leader give up a partition it holds.
    if (reply.reason === "stale-epoch" && reply.fenced <= request.epoch) {
      return `stale-epoch refusal fenced at ${reply.fenced}, not after epoch ${request.epoch}`;
    }
    return null;
  }
  const expected = answerTypes[request.type];
  if (reply.type !== expected) {
    return `${request.type} is answered by ${expected}, not ${reply.type}`;
  }
  const inPartition = (key: string): boolean =>
    partitions === null || partitionOf(key, partitions) === request.partition;
  switch (request.type) {
    case "replicate":
      return replicatedProblem(request, reply);
    case "read":
      if (reply.type !== "row" || reply.row === null) return null;
      return reply.row.key === request.key && reply.row.partition === request.partition
        ? null
        : "row is not the one asked for";
    case "truncate": {
      if (reply.type !== "truncated") return null;
      const { last } = reply;
      // The point truncated to is where the two logs agree, so the source holds it.
      return epochAt(request.source, last.seq) === last.epoch
        ? null
        : `truncated to ${describe(last)}, which the source does not hold`;
    }
    case "fetch": {
      if (reply.type !== "changes") return null;
      if (reply.changes.length > request.limit) return "more changes than the limit";
      const first = reply.changes[0];
      if (first !== undefined && first.seq !== request.afterSeq + 1) {
        return `changes start at ${first.seq}, not after ${request.afterSeq}`;
      }
      const isOwn = reply.changes.every((c) => inPartition(c.key));
      return isOwn ? null : "a change of another partition";
    }
    case "snapshot":
    case "rows": {
      if (reply.type !== "snapshot-rows" && reply.type !== "rows-page") return null;
      if (request.type === "rows" && reply.rows.length > request.limit) {
        return "more rows than the limit";
      }
      const { afterKey } = request;
      const isOwn = reply.rows.every((r) => r.partition === request.partition && r.key > afterKey);
      if (!isOwn) return "a row of another partition or before the page";
      if (request.type === "rows" || reply.type !== "snapshot-rows") return null;
      // A page must move the copy on, and the pages of one copy must share its base.
      if (reply.next !== null && reply.next <= afterKey) return "a next page that does not move on";
      if (request.base !== null && !samePosition(reply.base, request.base)) {
        return "a page of another base";
      }
      return null;
    }
    case "install":
      if (reply.type !== "installed") return null;
      return samePosition(reply.last, request.base) ? null : "installed at another base";
    case "writer":
      if (reply.type !== "writer-change" || reply.change === null) return null;
      return reply.change.writer === request.writer && reply.change.key === request.key
        ? null
        : "change of another writer or key";
    case "key-changes":
      if (reply.type !== "key-changes") return null;
      if (reply.changes.length > request.limit) return "more changes than the limit";
      return reply.changes.every((c) => c.key === request.key && c.seq > request.afterSeq)
        ? null
        : "a change of another key or not after the asked seq";
    case "fence":
    case "count":
    case "drop":
      return null;
  }
}

function replicatedProblem(
  request: Extract<DataRequest, { type: "replicate" }>,
  reply: DataReply,
): string | null {
  if (reply.type !== "replicated") return null;
  if (reply.statuses.length !== request.changes.length) {
    return `${reply.statuses.length} statuses for ${request.changes.length} changes`;
  }
  const newest = request.changes[request.changes.length - 1] ?? request.prev;
  return samePosition(reply.last, newest) ? null : `replicated up to ${describe(reply.last)}`;
}

function samePosition(a: LogPosition, b: LogPosition): boolean {
  return a.epoch === b.epoch && a.seq === b.seq;
}

function describe(position: LogPosition): string {
  return `(epoch ${position.epoch}, seq ${position.seq})`;
}
