// Owns the row and version types of the store and their invariants (pure: no I/O, no sqlite).
// The checks here are assertions: callers validate input at the boundary, so a bad row reaching
// the store is a programmer error.

import { assert } from "../util/errors.ts";
import { isCanonicalUuid4 } from "../util/uuid4.ts";

/** A write's place in its partition's history, ordered by term, then seq. */
export interface Version {
  readonly term: number;
  readonly seq: number;
}

/** One key's latest known state. `value === null` is a tombstone: the key was deleted. */
export interface StoredRow {
  readonly key: string;
  readonly partition: number;
  readonly term: number;
  readonly seq: number;
  readonly value: string | null;
}

/** The position of a partition nothing was ever applied to. Every real write is newer. */
export const versionZero: Version = Object.freeze({ term: 0, seq: 0 });

// Canonical form (docs/architecture.md, Placement): lower case, version nibble 4, RFC 4122
// variant.
export function isCanonicalKey(key: string): boolean {
  return isCanonicalUuid4(key);
}

/** Negative, zero or positive as `a` is older than, equal to or newer than `b`. */
export function compareVersions(a: Version, b: Version): number {
  if (a.term !== b.term) return a.term < b.term ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

export function isNewer(a: Version, than: Version): boolean {
  return compareVersions(a, than) > 0;
}

export function versionOf(row: Version): Version {
  return Object.freeze({ term: row.term, seq: row.seq });
}

/** A version a caller may ask about: `versionZero` or anything after it. */
export function assertVersion(version: Version, what: string): void {
  assert(Number.isSafeInteger(version.term), `${what}: term ${version.term} is not an integer`);
  assert(Number.isSafeInteger(version.seq), `${what}: seq ${version.seq} is not an integer`);
  assert(version.term >= 0, `${what}: term ${version.term} is negative`);
  assert(version.seq >= 0, `${what}: seq ${version.seq} is negative`);
}

export function assertPartition(partition: number, what: string): void {
  assert(Number.isSafeInteger(partition), `${what}: partition ${partition} is not an integer`);
  assert(partition >= 0, `${what}: partition ${partition} is negative`);
}

/** Checked before a row is written and again after it is read back (pair assertions). */
export function assertRow(row: StoredRow, what: string): void {
  assert(typeof row.key === "string", `${what}: key is not a string`);
  assert(isCanonicalKey(row.key), `${what}: key ${row.key} is not a canonical lowercase UUID4`);
  assertPartition(row.partition, what);
  assertVersion(row, what);
  // A written row is always newer than versionZero: terms and sequence numbers start at 1.
  assert(row.term >= 1, `${what}: term ${row.term} of key ${row.key} is below 1`);
  assert(row.seq >= 1, `${what}: seq ${row.seq} of key ${row.key} is below 1`);
  assert(
    row.value === null || typeof row.value === "string",
    `${what}: value of key ${row.key} is neither a string nor null`,
  );
}
