// The rows a partition's leader knows to be current, so that a read of one needs no round trip
// to a replica. Pure: no I/O, no clock.
//
// Why it is safe (docs/agreement.md, Reads): a partition leader lives for one epoch, and every
// write to its keys in that epoch is ordered by it and acknowledged by it, in seq order, only
// once every in-sync replica has it. So the row a write leaves, once acknowledged, is the key's
// current row until the next write to the key is acknowledged, and that write replaces it here.
// A row read from an in-sync replica is current too when no write of the partition was ordered
// between sending the read and its answer (the reader checks; see PartitionLeader.read). The
// leader answers from here under the same leadership check as any read (lease or ReadIndex).

import type { DataRow } from "../store/replica-types.ts";

/** What a node's partition leaders keep together, in rowChars. */
const READ_CACHE_NODE_CHARS_MAX = 8 * 1024 * 1024;
/** The least share of a partition. */
const READ_CACHE_PARTITION_CHARS_MIN = 16 * 1024;
/** A row's cost beyond its key and value characters: the record and its map slot. */
const ROW_OVERHEAD_CHARS = 256;

/** A partition's share of the node's read cache, with `partitions` of them. */
export function readCacheCharsMaxFor(partitions: number): number {
  const share = Math.floor(READ_CACHE_NODE_CHARS_MAX / Math.max(1, partitions));
  return Math.max(READ_CACHE_PARTITION_CHARS_MIN, share);
}

function rowChars(key: string, row: DataRow | null): number {
  return key.length + (row?.value.length ?? 0) + ROW_OVERHEAD_CHARS;
}

export class ReadCache {
  private readonly charsMax: number;
  /** null: the key is known to be absent. Oldest insertion first: evicted first. */
  private readonly rows = new Map<string, DataRow | null>();
  private chars = 0;

  constructor(charsMax: number) {
    this.charsMax = charsMax;
  }

  /** The key's current row, null if it is known absent, undefined if it is not cached. */
  get(key: string): DataRow | null | undefined {
    return this.rows.get(key);
  }

  has(key: string): boolean {
    return this.rows.has(key);
  }

  set(key: string, row: DataRow | null): void {
    this.delete(key);
    const chars = rowChars(key, row);
    if (chars > this.charsMax) return;
    this.rows.set(key, row);
    this.chars += chars;
    for (const [oldest, oldRow] of this.rows) {
      if (this.chars <= this.charsMax) break;
      this.rows.delete(oldest);
      this.chars -= rowChars(oldest, oldRow);
    }
  }

  delete(key: string): void {
    if (!this.rows.has(key)) return;
    this.chars -= rowChars(key, this.rows.get(key) as DataRow | null);
    this.rows.delete(key);
  }

  /** Characters held (rowChars), for tests and metrics. */
  size(): { rows: number; chars: number } {
    return { rows: this.rows.size, chars: this.chars };
  }
}
