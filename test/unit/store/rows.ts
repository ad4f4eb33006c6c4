// Test helpers for lib/store: deterministic canonical UUID4 keys and rows. No I/O.

import type { StoredRow } from "../../../lib/store/index.ts";

/** The n-th test key: a canonical lowercase UUID4 whose first 8 hex digits encode n. */
export function keyOf(n: number): string {
  const head = n.toString(16).padStart(8, "0");
  const tail = (n * 2654435761 % 0x1000000000000).toString(16).padStart(12, "0");
  return `${head}-0000-4000-8000-${tail}`;
}

export function rowOf(
  n: number,
  partition: number,
  term: number,
  seq: number,
  value: string | null = `v${n}@${term}.${seq}`,
): StoredRow {
  return { key: keyOf(n), partition, term, seq, value };
}
