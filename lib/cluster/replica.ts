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

/** One SCAN page from a replica. */
export interface PartitionPage {
  readonly rows: readonly StoredRow[];
  readonly hasMore: boolean;
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

  /** SCAN's page of `partition`: live rows after `afterKey` in key order, at most `limit` rows
   * and, past the first row, at most `bytesMax` of values, so a reply always fits a message.
   * `hasMore` is false only when the partition holds nothing after the rows returned. */
  scan(partition: number, afterKey: string, limit: number, bytesMax: number): PartitionPage {
    const fetched = this.store.scanPartition(partition, afterKey, limit);
    let bytes = 0;
    const rows: StoredRow[] = [];
    for (const row of fetched) {
      bytes += Buffer.byteLength(row.value ?? "");
      if (rows.length > 0 && bytes > bytesMax) break;
      rows.push(row);
    }
    return { rows, hasMore: fetched.length === limit || rows.length < fetched.length };
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
