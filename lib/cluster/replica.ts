// The replica side of replication: applies versioned rows durably (group commit), answers reads
// of its own store and serves pages of a partition for catch-up. Knows nothing of leadership.
import { isCanonicalUuid4 } from "../util/uuid4.ts";
import { type GroupCommitter, type KvStore, type StoredRow, type Version } from "../store/index.ts";

export interface ApplyResult {
  /** The row was newer than what this replica held and is now durable. */
  applied: boolean;
  /** The key had a live (non-deleted) value before this row. */
  existed: boolean;
}

/** One item of a SCAN page: a live key, and its value unless the scan asked for keys only. */
export interface ScanItem {
  readonly key: string;
  readonly value?: string;
}

/** One SCAN page from a replica. */
export interface PartitionPage {
  readonly items: readonly ScanItem[];
  readonly hasMore: boolean;
}

/** What one SCAN page may hold. */
export interface PageLimits {
  readonly limit: number;
  /** Bytes of values (keys when `keysOnly`), past the first item. */
  readonly bytesMax: number;
  readonly keysOnly: boolean;
}

export class Replica {
  private readonly store: KvStore;
  private readonly committer: GroupCommitter;

  constructor(store: KvStore, committer: GroupCommitter) {
    this.store = store;
    this.committer = committer;
  }

  async apply(rows: readonly StoredRow[]): Promise<ApplyResult[]> {
    return Promise.all(
      rows.map(async (row) => {
        const before = this.store.get(row.key);
        const existed = before !== undefined && before.value !== null;
        const applied = await this.committer.submit(row);
        return { applied, existed };
      }),
    );
  }

  read(key: string): StoredRow | undefined {
    return this.store.get(key);
  }

  page(partition: number, after: Version, limit: number): StoredRow[] {
    return this.store.rowsSince(partition, after, limit);
  }

  /** SCAN's page of `partition`: live keys after `afterKey` in key order, with their values
   * unless `keysOnly`, at most `limit` of them and, past the first, at most `bytesMax` bytes, so
   * a reply always fits a message. `hasMore` is false only when the partition holds nothing
   * after the items returned. */
  scan(partition: number, afterKey: string, limits: PageLimits): PartitionPage {
    const fetched: ScanItem[] = limits.keysOnly
      ? this.store.scanPartitionKeys(partition, afterKey, limits.limit).map((key) => ({ key }))
      : this.store.scanPartition(partition, afterKey, limits.limit).flatMap((row) =>
          row.value === null ? [] : [{ key: row.key, value: row.value }]);
    let bytes = 0;
    const items: ScanItem[] = [];
    for (const item of fetched) {
      bytes += Buffer.byteLength(item.value ?? item.key);
      if (items.length > 0 && bytes > limits.bytesMax) break;
      items.push(item);
    }
    return { items, hasMore: fetched.length === limits.limit || items.length < fetched.length };
  }

  /** Live keys per partition, for COUNT. */
  count(partitions: readonly number[]): number[] {
    return partitions.map((partition) => this.store.countPartition(partition));
  }

  position(partition: number): Version {
    return this.store.position(partition);
  }

  dropPartition(partition: number): number {
    return this.store.dropPartition(partition);
  }

  hasRows(partition: number): boolean {
    return this.store.rowsSince(partition, { term: 0, seq: 0 }, 1).length > 0;
  }
}

/** Rows travel between nodes as plain JSON objects; this checks one from the network. */
export function parseRow(value: unknown, partitions: number): StoredRow | null {
  if (typeof value !== "object" || value === null) return null;
  const { key, partition, term, seq, value: v } = value as Record<string, unknown>;
  if (!isCanonicalUuid4(key)) return null;
  if (
    !Number.isSafeInteger(partition) ||
    (partition as number) < 0 ||
    (partition as number) >= partitions
  ) {
    return null;
  }
  if (!Number.isSafeInteger(term) || (term as number) < 0) return null;
  if (!Number.isSafeInteger(seq) || (seq as number) < 0) return null;
  if (v !== null && typeof v !== "string") return null;
  return {
    key,
    partition: partition as number,
    term: term as number,
    seq: seq as number,
    value: v,
  };
}
