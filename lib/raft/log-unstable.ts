// The unstable tail of the log: entries (and at most one snapshot) accepted by the core but not
// yet reported durable through advance(). Pure data structure, no I/O.
import { assert } from "./assert.ts";
import type { Entry, Snapshot } from "./types.ts";

export class UnstableLog {
  /** A snapshot received from the leader, not yet persisted. */
  snapshot: Snapshot | null = null;
  /** Entries with contiguous indexes starting at `offset`. */
  entries: Entry[] = [];
  /** Index of entries[0]; every index below it is in stable storage (or the snapshot). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  lastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.meta.index;
    return null;
  }

  firstIndex(): number | null {
    return this.snapshot === null ? null : this.snapshot.meta.index + 1;
  }

  /** Term of `index` if this tail knows it; null means "ask stable storage" (or unknown). */
  term(index: number): number | null {
    if (index < this.offset) {
      if (this.snapshot !== null && this.snapshot.meta.index === index) {
        return this.snapshot.meta.term;
      }
      return null;
    }
    const entry = this.entries[index - this.offset];
    return entry === undefined ? null : entry.term;
  }

  /** Appends entries, replacing any entry at or after the first new index (§5.3). */
  truncateAndAppend(entries: Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      for (const entry of entries) this.entries.push(entry);
    } else if (after <= this.offset) {
      // Replaces everything unstable, and tells storage to drop its own entries from `after`.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
  }

  /** Entries [lo, hi), all inside this tail. */
  slice(lo: number, hi: number): Entry[] {
    assert(lo >= this.offset, `unstable slice ${lo} below offset ${this.offset}`);
    assert(hi <= this.offset + this.entries.length, `unstable slice ${hi} beyond the tail`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  /** Entries up to `index` (of `term`) are durable: drop them, unless they were replaced. */
  stableTo(index: number, term: number): void {
    if (this.term(index) !== term || index < this.offset) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.meta.index === index) this.snapshot = null;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.meta.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }
}
