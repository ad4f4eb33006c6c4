// Validation of the data plane's peer messages (data-messages.ts): every field of a DataRequest
// or DataReply checked against its type, its range and the rules of docs/agreement.md before a
// replica or the coordinator acts on it. Called by parsePeerMessage on the envelope's body;
// throws PeerInvalid (caught there) naming the field. Pure: no I/O.
//
// Rules beyond the types, each a property the stores and the replica core rely on:
// - a position at seq 0 has epoch 0 and only it (changes are made in epochs >= 1);
// - nothing in a request is from an epoch after the request's own (the leader's term);
// - change lists continue their predecessor: contiguous seqs, epochs never decreasing;
// - a summary's epoch starts ascend, the first right after the base, the last one is last's;
// - keys are canonical and, once the partition count is known, in the partition named;
// - rows of a full copy are versions at or before the copy's base.

import { partitionOf } from "../placement.ts";
import type {
  AppliedChange,
  ChangeRecord,
  ChangeStatus,
  DataRow,
  EpochStart,
  LogPosition,
  LogSummary,
} from "../store/replica-types.ts";
import { isCanonicalKey } from "../store/row.ts";
import type { DataReply, DataRequest, RefusalReason } from "./data-messages.ts";
import {
  boolean,
  exactObject,
  integer,
  invalid,
  list,
  oneOf,
  quote,
  text,
  valueText,
  type Fields,
} from "./peer-fields.ts";

/** Bounds on the data plane's messages (part of PeerLimits). */
export interface DataLimits {
  /** Partitions a cluster may have at most (<= 4096): the bound while the count is unknown. */
  readonly partitionsMax: number;
  /** The cluster's partition count once known: partitions and keys are checked against it. */
  readonly partitions: number | null;
  /** Largest value in UTF-8 bytes (the node's --max-value). */
  readonly valueBytesMax: number;
  /** Changes in one replicate or changes message, and the largest fetch limit. */
  readonly changesMax: number;
  /** Rows in one install, snapshot-rows or rows-page message, and the largest rows limit. */
  readonly rowsMax: number;
  /** Epoch starts in one log summary. */
  readonly epochStartsMax: number;
}

/** Longest writer ("<client>:<request>") in UTF-16 units. */
export const WRITER_CHARS_MAX = 128;

const changeStatuses: readonly ChangeStatus[] = ["created", "updated", "deleted", "not_found"];
const refusalReasons: readonly RefusalReason[] = ["stale-epoch", "gap", "copying", "trimmed"];

// The fields of each request type besides type, rid, partition and epoch.
const requestFields: Record<DataRequest["type"], readonly string[]> = {
  fence: [],
  replicate: ["prev", "changes"],
  read: ["key"],
  truncate: ["source", "expect"],
  fetch: ["afterSeq", "limit"],
  snapshot: ["base", "afterKey"],
  install: ["base", "rows", "first", "last", "expect"],
  rows: ["afterKey", "limit"],
  writer: ["key", "writer"],
  "key-changes": ["key", "afterSeq", "limit"],
  count: [],
  drop: [],
};
const requestTypes = Object.keys(requestFields) as DataRequest["type"][];

// The fields of each reply type besides type and rid.
const replyFields: Record<DataReply["type"], readonly string[]> = {
  refused: ["reason", "fenced", "last"],
  fenced: ["summary"],
  replicated: ["last", "statuses"],
  row: ["row", "asOf"],
  truncated: ["last"],
  changes: ["changes", "last"],
  "snapshot-rows": ["base", "rows", "next"],
  installed: ["last"],
  "rows-page": ["rows"],
  "writer-change": ["change"],
  "row-count": ["count"],
  "key-changes": ["changes", "asOf", "base", "more", "compacted"],
  dropped: [],
};
const replyTypes = Object.keys(replyFields) as DataReply["type"][];

const ANY_EPOCH = Number.MAX_SAFE_INTEGER;

/** The body of a data-request message. Throws PeerInvalid. */
export function parseDataRequest(raw: unknown, limits: DataLimits): DataRequest {
  const type = oneOf(typeField(raw), "body.type", requestTypes);
  const names = ["type", "rid", "partition", "epoch", ...requestFields[type]];
  const fields = exactObject(raw, "body", names, type === "rows" ? ["ttlOnly"] : []);
  const rid = integer(fields.rid, "body.rid", 1);
  const partition = integer(fields.partition, "body.partition", 0, partitionBound(limits) - 1);
  const epoch = integer(fields.epoch, "body.epoch", 1);
  const common = { rid, partition, epoch };
  switch (type) {
    case "fence":
    case "count":
    case "drop":
      return { type, ...common };
    case "replicate": {
      const prev = position(fields.prev, "body.prev", epoch);
      const after = { prev, epoch, partition };
      const changes = changeList(fields.changes, "body.changes", limits, after);
      return { type, ...common, prev, changes };
    }
    case "read":
      return { type, ...common, key: key(fields.key, "body.key", partition, limits) };
    case "truncate":
      return {
        type,
        ...common,
        source: logShape(fields.source, "body.source", epoch, limits),
        expect: position(fields.expect, "body.expect", ANY_EPOCH),
      };
    case "fetch":
      return {
        type,
        ...common,
        afterSeq: integer(fields.afterSeq, "body.afterSeq", 0),
        limit: integer(fields.limit, "body.limit", 1, limits.changesMax),
      };
    case "install":
      return install(fields, common, limits);
    case "snapshot": {
      const base = fields.base === null ? null : position(fields.base, "body.base", epoch);
      return { type, ...common, base, afterKey: pageStart(fields.afterKey, partition, limits) };
    }
    case "rows": {
      const afterKey = pageStart(fields.afterKey, partition, limits);
      const limit = integer(fields.limit, "body.limit", 1, limits.rowsMax);
      if (fields.ttlOnly === undefined) return { type, ...common, afterKey, limit };
      return { type, ...common, afterKey, limit, ttlOnly: boolean(fields.ttlOnly, "body.ttlOnly") };
    }
    case "writer":
      return {
        type,
        ...common,
        key: key(fields.key, "body.key", partition, limits),
        writer: text(fields.writer, "body.writer", WRITER_CHARS_MAX),
      };
    case "key-changes":
      return {
        type,
        ...common,
        key: key(fields.key, "body.key", partition, limits),
        afterSeq: integer(fields.afterSeq, "body.afterSeq", 0),
        limit: integer(fields.limit, "body.limit", 1, limits.changesMax),
      };
  }
}

/** Where a page of rows starts: after this key, or "" for the first page. */
function pageStart(value: unknown, partition: number, limits: DataLimits): string {
  return value === "" ? "" : key(value, "body.afterKey", partition, limits);
}

function install(
  fields: Fields,
  common: { rid: number; partition: number; epoch: number },
  limits: DataLimits,
): DataRequest {
  const base = position(fields.base, "body.base", common.epoch);
  const rows = rowList(fields.rows, "body.rows", limits, {
    partition: common.partition,
    base,
    isOrdered: false,
  });
  const first = boolean(fields.first, "body.first");
  const last = boolean(fields.last, "body.last");
  const expect = position(fields.expect, "body.expect", ANY_EPOCH);
  return { type: "install", ...common, base, rows, first, last, expect };
}

/** The body of a data-reply message. Throws PeerInvalid. */
export function parseDataReply(raw: unknown, limits: DataLimits): DataReply {
  const type = oneOf(typeField(raw), "body.type", replyTypes);
  const optional = type === "rows-page" ? ["more"] : [];
  const fields = exactObject(raw, "body", ["type", "rid", ...replyFields[type]], optional);
  const rid = integer(fields.rid, "body.rid", 1);
  switch (type) {
    case "refused":
      return {
        type,
        rid,
        reason: oneOf(fields.reason, "body.reason", refusalReasons),
        fenced: integer(fields.fenced, "body.fenced", 0),
        last: position(fields.last, "body.last", ANY_EPOCH),
      };
    case "fenced":
      return { type, rid, summary: summary(fields.summary, "body.summary", limits) };
    case "replicated": {
      const items = list(fields.statuses, "body.statuses", limits.changesMax);
      const statuses = items.map((s, i) => oneOf(s, `body.statuses[${i}]`, changeStatuses));
      return { type, rid, last: position(fields.last, "body.last", ANY_EPOCH), statuses };
    }
    case "row": {
      const row = fields.row === null ? null : dataRow(fields.row, "body.row", limits, null);
      return { type, rid, row, asOf: integer(fields.asOf, "body.asOf", 0) };
    }
    case "truncated":
    case "installed":
      return { type, rid, last: position(fields.last, "body.last", ANY_EPOCH) };
    case "changes":
      return changesReply(fields, rid, limits);
    case "snapshot-rows": {
      const base = position(fields.base, "body.base", ANY_EPOCH);
      const options = { partition: null, base, isOrdered: true };
      const rows = rowList(fields.rows, "body.rows", limits, options);
      const next = fields.next === null ? null : key(fields.next, "body.next", null, limits);
      const last = rows[rows.length - 1];
      if (next !== null && last !== undefined && last.key > next) {
        invalid("body.rows must not go past body.next");
      }
      return { type, rid, base, rows, next };
    }
    case "rows-page": {
      const options = { partition: null, base: null, isOrdered: true };
      const rows = rowList(fields.rows, "body.rows", limits, options);
      if (fields.more === undefined) return { type, rid, rows };
      return { type, rid, rows, more: boolean(fields.more, "body.more") };
    }
    case "writer-change": {
      const change =
        fields.change === null ? null : appliedChange(fields.change, "body.change", limits, null);
      return { type, rid, change };
    }
    case "row-count":
      return { type, rid, count: integer(fields.count, "body.count", 0) };
    case "key-changes":
      return keyChangesReply(fields, rid, limits);
    case "dropped":
      return { type, rid };
  }
}

/** `body.changes`: changes of one partition, each checked against the one before it. */
function appliedChangeList(
  fields: Fields,
  limits: DataLimits,
  checkOrder: (change: AppliedChange, before: AppliedChange, path: string) => void,
): AppliedChange[] {
  const items = list(fields.changes, "body.changes", limits.changesMax);
  const changes: AppliedChange[] = [];
  let partition: number | null = null;
  items.forEach((item, i) => {
    const path = `body.changes[${i}]`;
    const change = appliedChange(item, path, limits, partition);
    partition ??= partitionOfKey(change.key, limits);
    const before = changes[i - 1];
    if (before !== undefined) checkOrder(change, before, path);
    changes.push(change);
  });
  return changes;
}

function changesReply(fields: Fields, rid: number, limits: DataLimits): DataReply {
  const changes = appliedChangeList(fields, limits, (change, before, path) =>
    follows(change, before, path, ANY_EPOCH),
  );
  const last = position(fields.last, "body.last", ANY_EPOCH);
  const newest = changes[changes.length - 1];
  if (newest !== undefined && (last.seq < newest.seq || last.epoch < newest.epoch)) {
    invalid("body.last must not be before the last change sent");
  }
  return { type: "changes", rid, changes, last };
}

function keyChangesReply(fields: Fields, rid: number, limits: DataLimits): DataReply {
  const changes = appliedChangeList(fields, limits, (change, before, path) => {
    if (change.key !== before.key || change.seq <= before.seq) {
      invalid(`${path} must be a later change of the same key`);
    }
  });
  const asOf = integer(fields.asOf, "body.asOf", 0);
  const base = integer(fields.base, "body.base", 0, asOf);
  const newest = changes[changes.length - 1];
  if (newest !== undefined && (newest.seq > asOf || (changes[0] as AppliedChange).seq <= base)) {
    invalid("body.changes must lie between body.base and body.asOf");
  }
  const more = boolean(fields.more, "body.more");
  const compacted = boolean(fields.compacted, "body.compacted");
  if (compacted && changes.length > 0) invalid("a compacted answer carries no changes");
  return { type: "key-changes", rid, changes, asOf, base, more, compacted };
}

// ---- shapes -------------------------------------------------------------------------------

function typeField(raw: unknown): unknown {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
  return Object.hasOwn(raw, "type") ? (raw as Fields).type : undefined;
}

function partitionBound(limits: DataLimits): number {
  return limits.partitions ?? limits.partitionsMax;
}

function partitionOfKey(key: string, limits: DataLimits): number | null {
  return limits.partitions === null ? null : partitionOf(key, limits.partitions);
}

/** A canonical key; in `partition` when both it and the partition count are known. */
function key(value: unknown, path: string, partition: number | null, limits: DataLimits): string {
  if (typeof value !== "string" || !isCanonicalKey(value)) {
    invalid(`${path} must be a canonical lowercase UUID4 key`);
  }
  const actual = partitionOfKey(value, limits);
  if (partition !== null && actual !== null && actual !== partition) {
    invalid(`${path} ${value} is in partition ${actual}, not ${partition}`);
  }
  return value;
}

function writer(value: unknown, path: string): string | null {
  return value === null ? null : text(value, path, WRITER_CHARS_MAX);
}

function position(value: unknown, path: string, epochMax: number): LogPosition {
  const fields = exactObject(value, path, ["epoch", "seq"]);
  const epoch = integer(fields.epoch, `${path}.epoch`, 0, epochMax);
  const seq = integer(fields.seq, `${path}.seq`, 0);
  if ((seq === 0) !== (epoch === 0)) {
    invalid(`${path} must have epoch 0 exactly when its seq is 0, got epoch ${epoch} seq ${seq}`);
  }
  return { epoch, seq };
}

function changeRecord(
  value: unknown,
  path: string,
  limits: DataLimits,
  partition: number | null,
  extra: readonly string[] = [],
): ChangeRecord {
  const names = ["seq", "epoch", "key", "value", "writer", ...extra];
  const fields = exactObject(value, path, names, ["expiresAt"]);
  const change = {
    seq: integer(fields.seq, `${path}.seq`, 1),
    epoch: integer(fields.epoch, `${path}.epoch`, 1),
    key: key(fields.key, `${path}.key`, partition, limits),
    value:
      fields.value === null
        ? null
        : valueText(fields.value, `${path}.value`, limits.valueBytesMax),
    writer: writer(fields.writer, `${path}.writer`),
  };
  if (fields.expiresAt === undefined) return change;
  if (change.value === null) invalid(`${path}.expiresAt is set on a delete`);
  return { ...change, expiresAt: integer(fields.expiresAt, `${path}.expiresAt`, 0) };
}

function appliedChange(
  value: unknown,
  path: string,
  limits: DataLimits,
  partition: number | null,
): AppliedChange {
  const change = changeRecord(value, path, limits, partition, ["status"]);
  const status = oneOf((value as Fields).status, `${path}.status`, changeStatuses);
  const isDelete = status === "deleted" || status === "not_found";
  if (isDelete !== (change.value === null)) {
    invalid(`${path}.status ${status} does not fit a ${change.value === null ? "delete" : "set"}`);
  }
  return { ...change, status };
}

/** Checks that `change` comes right after `before` in a log, in an epoch up to `epochMax`. */
function follows(change: LogPosition, before: LogPosition, path: string, epochMax: number): void {
  if (change.seq !== before.seq + 1) {
    invalid(`${path}.seq must be ${before.seq + 1} (contiguous), got ${change.seq}`);
  }
  if (change.epoch < before.epoch) {
    invalid(`${path}.epoch ${change.epoch} is below the epoch before it (${before.epoch})`);
  }
  if (change.epoch > epochMax) {
    invalid(`${path}.epoch ${change.epoch} is after the request's epoch ${epochMax}`);
  }
}

function changeList(
  value: unknown,
  path: string,
  limits: DataLimits,
  after: { prev: LogPosition; epoch: number; partition: number },
): ChangeRecord[] {
  const items = list(value, path, limits.changesMax);
  const changes: ChangeRecord[] = [];
  let before = after.prev;
  items.forEach((item, i) => {
    const change = changeRecord(item, `${path}[${i}]`, limits, after.partition);
    follows(change, before, `${path}[${i}]`, after.epoch);
    changes.push(change);
    before = change;
  });
  return changes;
}

function logShape(
  value: unknown,
  path: string,
  epochMax: number,
  limits: DataLimits,
): Pick<LogSummary, "base" | "last" | "epochs"> {
  const fields = exactObject(value, path, ["base", "last", "epochs"]);
  return logFields(fields, path, epochMax, limits);
}

function summary(value: unknown, path: string, limits: DataLimits): LogSummary {
  const fields = exactObject(value, path, ["base", "last", "epochs", "isCopying"]);
  const shape = logFields(fields, path, ANY_EPOCH, limits);
  return { ...shape, isCopying: boolean(fields.isCopying, `${path}.isCopying`) };
}

function logFields(
  fields: Fields,
  path: string,
  epochMax: number,
  limits: DataLimits,
): Pick<LogSummary, "base" | "last" | "epochs"> {
  const base = position(fields.base, `${path}.base`, epochMax);
  const last = position(fields.last, `${path}.last`, epochMax);
  if (last.seq < base.seq) invalid(`${path}.last is before ${path}.base`);
  const items = list(fields.epochs, `${path}.epochs`, limits.epochStartsMax);
  const epochs: EpochStart[] = [];
  items.forEach((item, i) => {
    const at = `${path}.epochs[${i}]`;
    const start = exactObject(item, at, ["epoch", "seq"]);
    const epoch = integer(start.epoch, `${at}.epoch`, 1, epochMax);
    const seq = integer(start.seq, `${at}.seq`, base.seq + 1, last.seq);
    const before = epochs[i - 1];
    if (before === undefined && seq !== base.seq + 1) {
      invalid(`${at}.seq must be ${base.seq + 1}: the first retained change follows the base`);
    }
    if (before === undefined && epoch < base.epoch) invalid(`${at}.epoch is before the base's`);
    if (before !== undefined && (epoch <= before.epoch || seq <= before.seq)) {
      invalid(`${at} must start a later epoch at a later seq than the start before it`);
    }
    epochs.push({ epoch, seq });
  });
  const top = epochs[epochs.length - 1];
  if (top === undefined && (last.seq !== base.seq || last.epoch !== base.epoch)) {
    invalid(`${path}.last must equal ${path}.base when no change is retained`);
  }
  if (top !== undefined && last.epoch !== top.epoch) {
    invalid(`${path}.last.epoch must be the epoch of the last epoch start (${top.epoch})`);
  }
  return { base, last, epochs };
}

function dataRow(
  value: unknown,
  path: string,
  limits: DataLimits,
  partitionExpected: number | null,
): DataRow {
  const names = ["key", "partition", "seq", "epoch", "value", "writer"];
  const fields = exactObject(value, path, names, ["expiresAt"]);
  const partition = integer(fields.partition, `${path}.partition`, 0, partitionBound(limits) - 1);
  if (partitionExpected !== null && partition !== partitionExpected) {
    invalid(`${path}.partition must be ${partitionExpected}, got ${partition}`);
  }
  const row = {
    key: key(fields.key, `${path}.key`, partition, limits),
    partition,
    seq: integer(fields.seq, `${path}.seq`, 1),
    epoch: integer(fields.epoch, `${path}.epoch`, 1),
    value: valueText(fields.value, `${path}.value`, limits.valueBytesMax),
    writer: writer(fields.writer, `${path}.writer`),
  };
  if (fields.expiresAt === undefined) return row;
  return { ...row, expiresAt: integer(fields.expiresAt, `${path}.expiresAt`, 0) };
}

function rowList(
  value: unknown,
  path: string,
  limits: DataLimits,
  options: { partition: number | null; base: LogPosition | null; isOrdered: boolean },
): DataRow[] {
  const items = list(value, path, limits.rowsMax);
  const rows: DataRow[] = [];
  const keys = new Set<string>();
  let partition = options.partition;
  items.forEach((item, i) => {
    const at = `${path}[${i}]`;
    const row = dataRow(item, at, limits, partition);
    partition ??= row.partition;
    const before = rows[i - 1];
    if (options.isOrdered && before !== undefined && row.key <= before.key) {
      invalid(`${at}.key must come after ${quote(before.key)} (rows in key order)`);
    }
    if (keys.has(row.key)) invalid(`${at}.key ${row.key} appears twice`);
    const { base } = options;
    if (base !== null && (row.seq > base.seq || row.epoch > base.epoch)) {
      invalid(`${at} is a version after the copy's base`);
    }
    keys.add(row.key);
    rows.push(row);
  });
  return rows;
}
