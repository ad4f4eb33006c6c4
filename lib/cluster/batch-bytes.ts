// Batches of rows and changes between members, sized in bytes so every message fits the
// receiver's frame limit (peer-protocol's frameBytesMax, 64 MiB) whatever the values hold. Pure.
import type { ChangeRecord, DataRow } from "../store/replica-types.ts";

/**
 * What one batch may take as JSON. A value of the largest size (8 MiB, 48 MiB as JSON) still
 * goes alone: a batch always holds at least one item.
 */
export const BATCH_BYTES_MAX = 16 * 1024 * 1024;
/** Field names, numbers and punctuation of one row or change as JSON, at most. */
const RECORD_OVERHEAD_BYTES = 200;

/** An upper bound of a string's JSON form in UTF-8: "\u0000" takes 6 bytes per UTF-16 unit. */
export function jsonBytesAtMost(text: string | null): number {
  return text === null ? 4 : 6 * text.length + 2;
}

export function rowBytesAtMost(row: DataRow): number {
  return RECORD_OVERHEAD_BYTES + jsonBytesAtMost(row.key) + jsonBytesAtMost(row.value) +
    jsonBytesAtMost(row.writer);
}

export function changeBytesAtMost(change: ChangeRecord): number {
  return RECORD_OVERHEAD_BYTES + jsonBytesAtMost(change.key) + jsonBytesAtMost(change.value) +
    jsonBytesAtMost(change.writer);
}

/** How many leading items fit in `budget` bytes; at least one when there is one. */
export function countWithin<T>(
  items: readonly T[],
  bytesOf: (item: T) => number,
  budget = BATCH_BYTES_MAX,
): number {
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    bytes += bytesOf(items[i] as T);
    if (bytes > budget) return Math.max(1, i);
  }
  return items.length;
}
