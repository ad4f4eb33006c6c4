// The Raft log as the core sees it: stable storage plus the unstable tail, with the commit and
// apply marks. Invariant: applied <= committed <= lastIndex (committed may run ahead of what is
// persisted only on a follower that learned it from its leader, within the same batch).
import { assert } from "./assert.ts";
import { UnstableLog } from "./log-unstable.ts";
import type { Entry, RaftStorage, Snapshot } from "./types.ts";

export class RaftLog {
  readonly storage: RaftStorage;
  readonly unstable: UnstableLog;
  /** Highest index known committed (§5.3). */
  committed: number;
  /** Highest index the application has applied (acknowledged through advance()). */
  applied: number;

  constructor(storage: RaftStorage, committed: number, applied: number) {
    this.storage = storage;
    this.unstable = new UnstableLog(storage.lastIndex() + 1);
    this.committed = committed;
    this.applied = applied;
  }

  firstIndex(): number {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  /** Term at `index`, or null when it is compacted away or beyond the log. */
  term(index: number): number | null {
    const fromTail = this.unstable.term(index);
    if (fromTail !== null) return fromTail;
    if (index >= this.unstable.offset) return null;
    const dummy = this.firstIndex() - 1;
    if (index < dummy) return null;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== null, `no term for the last index ${this.lastIndex()}`);
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi), at most `countMax` of them; null when lo is compacted away. */
  entries(lo: number, hi: number, countMax = Number.MAX_SAFE_INTEGER): Entry[] | null {
    if (lo < this.firstIndex()) return null;
    const end = Math.min(hi, this.lastIndex() + 1, lo + countMax);
    if (lo >= end) return [];
    const offset = this.unstable.offset;
    let result: Entry[] = [];
    if (lo < offset) {
      result = this.storage.entries(lo, Math.min(end, offset));
      if (result.length < Math.min(end, offset) - lo) return result;
    }
    if (end > offset) {
      const tail = this.unstable.slice(Math.max(lo, offset), end);
      result = result.length === 0 ? tail : result.concat(tail);
    }
    return result;
  }

  /** Index of the first entry that conflicts with our log (§5.3), or 0 when none is new. */
  findConflict(entries: Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with its term: where a leader whose
   * log has `term` at some point can next probe (fast back-off). Stops at compacted entries.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let at = Math.min(index, this.lastIndex());
    for (;;) {
      const ourTerm = this.term(at);
      if (ourTerm === null) return { index: at, term: 0 };
      if (ourTerm <= term) return { index: at, term: ourTerm };
      at -= 1;
    }
  }

  /**
   * A follower's append (§5.3), once the caller checked that our entry at `index` has the
   * leader's term: appends what is new; returns the last index the message covers and the
   * entries actually appended. The caller commits. Null when the message would rewrite a
   * committed entry (a broken or hostile leader), and nothing changes then.
   */
  maybeAppend(
    index: number, entries: Entry[],
  ): { lastNewIndex: number; appended: Entry[] } | null {
    const lastNewIndex = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict === 0) return { lastNewIndex, appended: [] };
    if (conflict <= this.committed) return null;
    const appended = entries.slice(conflict - index - 1);
    this.append(appended);
    return { lastNewIndex, appended };
  }

  append(entries: Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    assert(first.index > this.committed, `append at ${first.index} over committed entries`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond the last index`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    assert(index <= this.committed, `applied ${index} beyond committed ${this.committed}`);
    assert(index >= this.applied, `applied goes back from ${this.applied} to ${index}`);
    this.applied = index;
  }

  /** Replaces the whole log with a snapshot from the leader (§7). */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.meta.index;
    this.unstable.restore(snapshot);
  }

  /** The latest snapshot: an unstable one if pending, else storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }
}
