// In-memory ReplicaStorage: the reference semantics of the data plane's storage, and the store
// of the simulation (a crash keeps what was committed, which is everything here). Pure: no
// I/O. A commit works on copies of the partitions it touches and swaps them in at the end, so
// a failed precondition leaves nothing half applied.

import { assert } from "../util/errors.ts";
import {
  positionZero,
  type AppliedChange,
  type ChangeRecord,
  type ChangeStatus,
  type CommitOutcome,
  type DataRow,
  type EpochStart,
  type LogPosition,
  type LogSummary,
  type ReplicaStorage,
  type ReplicaWrite,
} from "./replica-types.ts";

/** The state of a key before a change: what a truncation puts back. */
interface BeforeImage {
  readonly row: DataRow | undefined;
}

interface LoggedChange {
  readonly change: AppliedChange;
  readonly before: BeforeImage;
}

interface PartitionState {
  fenced: number;
  base: LogPosition;
  log: LoggedChange[];
  rows: Map<string, DataRow>;
  isCopying: boolean;
}

export class MemoryReplicaStore implements ReplicaStorage {
  private readonly partitions = new Map<number, PartitionState>();
  private readonly partitionOfKey = new Map<string, number>();
  private isClosed = false;

  fencedEpoch(partition: number): number {
    return this.state(partition).fenced;
  }

  summary(partition: number): LogSummary {
    return summarize(this.state(partition));
  }

  readTogether<T>(read: () => T): T {
    // One thread and no transactions: every read already sees the last commit.
    return read();
  }

  get(partition: number, key: string): DataRow | undefined {
    return this.partitionOfKey.get(key) === partition
      ? this.state(partition).rows.get(key)
      : undefined;
  }

  changesAfter(partition: number, afterSeq: number, limit: number): AppliedChange[] {
    const s = this.state(partition);
    const from = Math.max(0, afterSeq - s.base.seq);
    return s.log.slice(from, from + limit).map((l) => l.change);
  }

  keyChangesAfter(
    partition: number,
    key: string,
    afterSeq: number,
    limit: number,
  ): AppliedChange[] {
    const out: AppliedChange[] = [];
    for (const { change } of this.state(partition).log) {
      if (out.length >= limit) break;
      if (change.seq > afterSeq && change.key === key) out.push(change);
    }
    return out;
  }

  rowsAfter(partition: number, afterKey: string, limit: number): DataRow[] {
    const rows = [...this.state(partition).rows.values()].filter((r) => r.key > afterKey);
    rows.sort((a, b) => (a.key < b.key ? -1 : 1));
    return rows.slice(0, limit);
  }

  rowsBeforeChangesAfter(
    partition: number,
    atSeq: number,
    afterKey: string,
    uptoKey: string | null,
  ): Map<string, DataRow | undefined> {
    const s = this.state(partition);
    const images = new Map<string, DataRow | undefined>();
    for (const { change, before } of s.log.slice(Math.max(0, atSeq - s.base.seq))) {
      const { key } = change;
      if (key <= afterKey || (uptoKey !== null && key > uptoKey) || images.has(key)) continue;
      images.set(key, before.row);
    }
    return images;
  }

  expiringAfter(partition: number, afterKey: string, limit: number): DataRow[] {
    const rows = this.rowsAfter(partition, afterKey, Number.MAX_SAFE_INTEGER);
    return rows.filter((r) => r.expiresAt !== undefined).slice(0, limit);
  }

  changeByWriter(partition: number, key: string, writer: string): AppliedChange | undefined {
    const log = this.state(partition).log;
    for (let i = log.length - 1; i >= 0; i--) {
      const change = (log[i] as LoggedChange).change;
      if (change.key === key && change.writer === writer) return change;
    }
    return undefined;
  }

  countRows(partition: number): number {
    return this.state(partition).rows.size;
  }

  commit(writes: readonly ReplicaWrite[]): CommitOutcome {
    assert(!this.isClosed, "store is closed");
    const copies = new Map<number, PartitionState>();
    const working = (p: number): PartitionState => {
      let copy = copies.get(p);
      if (copy === undefined) {
        copy = clonePartition(this.state(p));
        copies.set(p, copy);
      }
      return copy;
    };
    const statuses: ChangeStatus[][] = [];
    for (const write of writes) {
      const s = working(write.partition);
      if (write.type === "append") statuses.push(appendChanges(s, write.partition, write.changes));
      else applyWrite(s, write);
    }
    for (const [p, s] of copies) {
      this.partitions.set(p, s);
      for (const key of s.rows.keys()) this.partitionOfKey.set(key, p);
    }
    return { statuses };
  }

  close(): void {
    this.isClosed = true;
  }

  private state(partition: number): PartitionState {
    assert(Number.isSafeInteger(partition) && partition >= 0, `bad partition ${partition}`);
    let s = this.partitions.get(partition);
    if (s === undefined) {
      s = { fenced: 0, base: positionZero, log: [], rows: new Map(), isCopying: false };
      this.partitions.set(partition, s);
    }
    return s;
  }
}

function clonePartition(s: PartitionState): PartitionState {
  return { ...s, log: [...s.log], rows: new Map(s.rows) };
}

function lastOf(s: PartitionState): LogPosition {
  const last = s.log[s.log.length - 1];
  return last === undefined ? s.base : { epoch: last.change.epoch, seq: last.change.seq };
}

function summarize(s: PartitionState): LogSummary {
  const epochs: EpochStart[] = [];
  for (const { change } of s.log) {
    const top = epochs[epochs.length - 1];
    if (top === undefined || top.epoch !== change.epoch) {
      epochs.push({ epoch: change.epoch, seq: change.seq });
    }
  }
  return { base: s.base, last: lastOf(s), epochs, isCopying: s.isCopying };
}

function appendChanges(
  s: PartitionState,
  partition: number,
  changes: readonly ChangeRecord[],
): ChangeStatus[] {
  assert(!s.isCopying, `append to partition ${partition} while a copy is running`);
  const out: ChangeStatus[] = [];
  for (const change of changes) {
    const last = lastOf(s);
    assert(change.seq === last.seq + 1, `append seq ${change.seq} after ${last.seq}`);
    assert(change.epoch >= last.epoch, `append epoch ${change.epoch} below ${last.epoch}`);
    const row = s.rows.get(change.key);
    const status = statusOf(row !== undefined, change.value !== null);
    if (change.value === null) s.rows.delete(change.key);
    else s.rows.set(change.key, rowOf(partition, change, change.value));
    s.log.push({ change: { ...change, status }, before: { row } });
    out.push(status);
  }
  return out;
}

export function statusOf(existed: boolean, isSet: boolean): ChangeStatus {
  if (isSet) return existed ? "updated" : "created";
  return existed ? "deleted" : "not_found";
}

function rowOf(partition: number, change: ChangeRecord, value: string): DataRow {
  const row = {
    key: change.key,
    partition,
    seq: change.seq,
    epoch: change.epoch,
    value,
    writer: change.writer,
  };
  return change.expiresAt === undefined ? row : { ...row, expiresAt: change.expiresAt };
}

function applyWrite(s: PartitionState, write: Exclude<ReplicaWrite, { type: "append" }>): void {
  switch (write.type) {
    case "fence":
      s.fenced = Math.max(s.fenced, write.epoch);
      return;
    case "truncate": {
      assert(write.afterSeq >= s.base.seq, `truncate below the base of ${write.partition}`);
      while (lastOf(s).seq > write.afterSeq) {
        const undone = s.log.pop() as LoggedChange;
        const { row } = undone.before;
        if (row === undefined) s.rows.delete(undone.change.key);
        else s.rows.set(undone.change.key, row);
      }
      return;
    }
    case "trim": {
      const last = lastOf(s);
      assert(write.uptoSeq <= last.seq, `trim past the end of ${write.partition}`);
      const count = write.uptoSeq - s.base.seq;
      if (count <= 0) return;
      const newBase = s.log[count - 1] as LoggedChange;
      s.base = { epoch: newBase.change.epoch, seq: newBase.change.seq };
      s.log = s.log.slice(count);
      return;
    }
    case "copy-start":
      s.base = write.base;
      s.log = [];
      s.rows = new Map();
      s.isCopying = true;
      return;
    case "copy-rows":
      assert(s.isCopying, `copy rows into ${write.partition} with no copy running`);
      for (const row of write.rows) s.rows.set(row.key, row);
      return;
    case "copy-end":
      assert(s.isCopying, `copy end of ${write.partition} with no copy running`);
      s.isCopying = false;
      return;
    case "drop":
      s.base = positionZero;
      s.log = [];
      s.rows = new Map();
      s.isCopying = false;
      return;
  }
}
