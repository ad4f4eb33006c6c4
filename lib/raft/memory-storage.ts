// In-memory RaftStorage: what the simulation and tests persist to, and the reference for the
// sqlite store. The core only reads it; the shell writes it from each Ready. No I/O.
import { assert } from "./assert.ts";
import { encodeConfChange } from "./messages.ts";
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from "./types.ts";

export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private latest: Snapshot = { meta: { index: 0, term: 0, confState: { voters: [] } }, data: "" };
  /** entries[0] is a dummy holding the snapshot's index and term. */
  private log: Entry[] = [{ term: 0, index: 0, type: "normal", data: "" }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return {
      hardState: { ...this.hardState },
      confState: { voters: this.latest.meta.confState.voters.slice() },
    };
  }

  private get offset(): number {
    return (this.log[0] as Entry).index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.log.length - 1;
  }

  term(index: number): number | null {
    if (index < this.offset || index > this.lastIndex()) return null;
    return (this.log[index - this.offset] as Entry).term;
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    assert(lo > this.offset, `entries from ${lo} are compacted (first index ${this.firstIndex()})`);
    assert(hi <= this.lastIndex() + 1, `entries up to ${hi} beyond the last index`);
    const result = this.log.slice(lo - this.offset, hi - this.offset);
    if (maxBytes === undefined) return result;
    let size = 0;
    for (let i = 0; i < result.length; i++) {
      size += (result[i] as Entry).data.length + 32;
      if (size > maxBytes && i > 0) return result.slice(0, i);
    }
    return result;
  }

  snapshot(): Snapshot {
    return this.latest;
  }

  setHardState(state: HardState): void {
    this.hardState = { ...state };
  }

  /** Appends, replacing any stored entry at or after the first new index. */
  append(entries: Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    // Entries at or below the snapshot are already covered by it.
    const fresh = entries.filter((e) => e.index > this.offset);
    const start = fresh[0];
    if (start === undefined) return;
    assert(start.index <= this.lastIndex() + 1, `gap before entry ${start.index}`);
    // Drop a replaced suffix, then append in place (appending at the end is the common case).
    this.log.length = start.index - this.offset;
    for (const entry of fresh) this.log.push(entry);
  }

  /** Replaces everything with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.latest.meta.index) return;
    this.latest = snapshot;
    const { index, term } = snapshot.meta;
    this.log = [{ term, index, type: "normal", data: "" }];
  }

  /** Records a snapshot the application took at `index` (which must be in the log). */
  createSnapshot(index: number, confState: ConfState, data: string): Snapshot {
    assert(index >= this.latest.meta.index, `snapshot at ${index} is older than the latest`);
    const term = this.term(index);
    assert(term !== null, `no entry at ${index} to snapshot`);
    this.latest = { meta: { index, term, confState: { voters: confState.voters.slice() } }, data };
    return this.latest;
  }

  /** Discards entries up to and including `index`; they must be covered by a snapshot. */
  compact(index: number): void {
    if (index <= this.offset) return;
    assert(index <= this.latest.meta.index, `compacting ${index} past the snapshot`);
    this.log = this.log.slice(index - this.offset);
    const dummy = this.log[0] as Entry;
    this.log[0] = { term: dummy.term, index: dummy.index, type: "normal", data: "" };
  }

  /** Stores a compaction snapshot from a Ready: keep it and drop the entries it covers. */
  saveCompaction(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.latest.meta.index) return;
    this.latest = snapshot;
    this.compact(snapshot.meta.index);
  }
}

/**
 * Bootstraps a brand-new member of a new cluster: its log starts with one committed add-voter
 * entry per initial voter (term 1), identically on every initial member, so a node that joins
 * later replays the whole configuration history from the log.
 */
export function bootstrapEntries(voters: number[]): { entries: Entry[]; hardState: HardState } {
  const sorted = voters.slice().sort((a, b) => a - b);
  const entries = sorted.map((nodeId, i): Entry => ({
    term: 1,
    index: i + 1,
    type: "conf-change",
    data: encodeConfChange({ type: "add-voter", nodeId, context: "" }),
  }));
  return { entries, hardState: { term: 1, vote: 0, commit: entries.length } };
}

export function bootstrapMemoryStorage(voters: number[]): MemoryStorage {
  const storage = new MemoryStorage();
  const { entries, hardState } = bootstrapEntries(voters);
  storage.append(entries);
  storage.setHardState(hardState);
  return storage;
}
