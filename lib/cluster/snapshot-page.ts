// One page of a full-partition copy, as the partition stood at one position of its log (the
// copy's base), read while writes go on. A page holds the current rows of a key range with each
// key that changed after the base put back as it was then (the before-image of its first later
// change), so pages read at different times add up to one state: the base's. The copy's target
// then applies the log after the base, as any catch-up does. Pure over the storage reads.
import type { DataRow, ReplicaStorage } from "../store/replica-types.ts";
import { countWithin, rowBytesAtMost } from "./batch-bytes.ts";

export interface SnapshotPage {
  /** Rows with keys in (afterKey, next], in key order, as they were at the base. */
  readonly rows: DataRow[];
  /** Where the next page starts (after this key); null when the partition is done. */
  readonly next: string | null;
}

/**
 * The page after `afterKey` of `partition` as it was at `atSeq`, from at most `rowsMax` current
 * rows and cut to one message's byte budget. The caller checks that the log still reaches back
 * to `atSeq`; otherwise the before-images are gone.
 */
export function readSnapshotPage(
  store: Pick<ReplicaStorage, "rowsAfter" | "rowsBeforeChangesAfter">,
  partition: number,
  atSeq: number,
  afterKey: string,
  rowsMax: number,
): SnapshotPage {
  const current = store.rowsAfter(partition, afterKey, rowsMax);
  // A full read may have rows beyond it: the page covers keys up to its last one only.
  const uptoKey = current.length >= rowsMax ? (current[current.length - 1] as DataRow).key : null;
  const before = store.rowsBeforeChangesAfter(partition, atSeq, afterKey, uptoKey);
  const rows = current.filter((row) => !before.has(row.key));
  for (const row of before.values()) if (row !== undefined) rows.push(row);
  rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const fit = countWithin(rows, rowBytesAtMost);
  if (fit < rows.length) return { rows: rows.slice(0, fit), next: (rows[fit - 1] as DataRow).key };
  return { rows, next: uptoKey };
}
