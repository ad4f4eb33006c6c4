// Raft's stable storage in the node's sqlite database: the log after the latest snapshot, the
// hard state and that snapshot (schema.ts, migration 3). The core reads it through RaftStorage;
// the node writes it from each Ready with persist() (its own transaction) or persistWithin()
// (a transaction shared with the data plane, see transaction.ts). The reference semantics are
// those of the core's MemoryStorage. Indexes, terms and the snapshot's meta are cached in
// memory and replaced only after a commit succeeds; entry bodies are read from sqlite.

import type { Database } from "bun:sqlite";
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  RaftStorage,
  Ready,
  Snapshot,
  SnapshotMeta,
} from "../raft/types.ts";
import { assert } from "../util/errors.ts";
import { guardSqlite, openDatabase } from "./database.ts";
import type { SharedTransaction } from "./transaction.ts";

/** What a Ready asks storage to make durable, in the order it is applied. */
export type RaftPersist = Pick<Ready, "hardState" | "entries" | "snapshot" | "compaction">;

/**
 * What one entry counts for against `entries()`' maxBytes: its data length plus a fixed
 * overhead for index, term and type on the wire. The same measure as the core's MemoryStorage.
 */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.length + entryOverheadBytes;
}

const entryOverheadBytes = 32;

const hardStateZero: HardState = { term: 0, vote: 0, commit: 0 };
const snapshotMetaZero: SnapshotMeta = { index: 0, term: 0, confState: { voters: [] } };

/** The cached view of the database; replaced as a whole after each commit. */
interface LogState {
  readonly hardState: HardState;
  readonly snapshot: SnapshotMeta;
  readonly lastIndex: number;
  /** Term at lastIndex: the snapshot's term while the log is empty. */
  readonly lastTerm: number;
}

interface EntryRow {
  log_index: number;
  term: number;
  type: string;
  data: string;
}

interface SnapshotRow {
  log_index: number;
  term: number;
  conf_state: string;
  data: string;
}

function prepare(db: Database) {
  return {
    insertEntry: db.prepare<null, [number, number, string, string]>(
      "INSERT INTO raft_entries (log_index, term, type, data) VALUES (?1, ?2, ?3, ?4)",
    ),
    deleteEntriesFrom: db.prepare<null, [number]>("DELETE FROM raft_entries WHERE log_index >= ?"),
    deleteEntriesUpTo: db.prepare<null, [number]>("DELETE FROM raft_entries WHERE log_index <= ?"),
    entriesFrom: db.prepare<EntryRow, [number, number]>(
      `SELECT log_index, term, type, data FROM raft_entries
       WHERE log_index >= ?1 AND log_index < ?2 ORDER BY log_index`,
    ),
    termAt: db.prepare<{ term: number }, [number]>(
      "SELECT term FROM raft_entries WHERE log_index = ?",
    ),
    logBounds: db.prepare<{ first: number | null; last: number | null; n: number }, []>(
      "SELECT min(log_index) AS first, max(log_index) AS last, count(*) AS n FROM raft_entries",
    ),
    hardState: db.prepare<{ term: number; vote: number; commit_index: number }, []>(
      "SELECT term, vote, commit_index FROM raft_hard_state WHERE id = 1",
    ),
    upsertHardState: db.prepare<null, [number, number, number]>(
      `INSERT INTO raft_hard_state (id, term, vote, commit_index) VALUES (1, ?1, ?2, ?3)
       ON CONFLICT (id) DO UPDATE SET term = excluded.term, vote = excluded.vote,
         commit_index = excluded.commit_index`,
    ),
    snapshot: db.prepare<SnapshotRow, []>(
      "SELECT log_index, term, conf_state, data FROM raft_snapshot WHERE id = 1",
    ),
    upsertSnapshot: db.prepare<null, [number, number, string, string]>(
      `INSERT INTO raft_snapshot (id, log_index, term, conf_state, data) VALUES (1, ?1, ?2, ?3, ?4)
       ON CONFLICT (id) DO UPDATE SET log_index = excluded.log_index, term = excluded.term,
         conf_state = excluded.conf_state, data = excluded.data`,
    ),
  };
}

type Statements = ReturnType<typeof prepare>;

export class SqliteRaftStorage implements RaftStorage {
  readonly path: string;
  private readonly db: Database;
  private readonly ownsDatabase: boolean;
  private readonly statements: Statements;
  private readonly persistTransaction: (persist: RaftPersist) => LogState;
  /** Inside an open transaction bun runs this as a SAVEPOINT: a throw undoes only this part. */
  private readonly persistSavepoint: (base: LogState, persist: RaftPersist) => LogState;
  private state: LogState;
  /** Written inside a shared transaction that has not finished yet. */
  private pending: { transaction: SharedTransaction; state: LogState } | null = null;
  private isClosed = false;

  /** Uses `db` (already opened by openDatabase) when given, else opens `path` itself. */
  constructor(path: string, db?: Database) {
    this.path = path;
    this.ownsDatabase = db === undefined;
    this.db = db ?? openDatabase(path, { busyTimeoutMs: 5000 });
    this.statements = guardSqlite(path, "prepare raft storage", () => prepare(this.db));
    this.persistTransaction = this.db.transaction((persist: RaftPersist) =>
      this.write(this.state, persist),
    ).immediate;
    this.persistSavepoint = this.db.transaction((base: LogState, persist: RaftPersist) =>
      this.write(base, persist),
    );
    this.state = guardSqlite(path, "load raft state", () => this.load());
  }

  // ---- RaftStorage: what the core reads ---------------------------------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    const state = this.readable();
    return {
      hardState: { ...state.hardState },
      confState: { voters: state.snapshot.confState.voters.slice() },
    };
  }

  firstIndex(): number {
    return this.readable().snapshot.index + 1;
  }

  lastIndex(): number {
    return this.readable().lastIndex;
  }

  term(index: number): number | null {
    const state = this.readable();
    if (index < state.snapshot.index || index > state.lastIndex) return null;
    if (index === state.snapshot.index) return state.snapshot.term;
    if (index === state.lastIndex) return state.lastTerm;
    const row = this.guard("term", () => this.statements.termAt.get(index));
    assert(row !== null, `raft entry ${index} is missing inside the log`);
    assert(isTerm(row.term), `raft entry ${index} has a bad term ${row.term}`);
    return row.term;
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    const state = this.readable();
    const first = state.snapshot.index + 1;
    assert(lo >= first, `entries from ${lo} are compacted (first index ${first})`);
    assert(hi <= state.lastIndex + 1, `entries up to ${hi} beyond the last index`);
    assert(lo <= hi, `entries from ${lo} to ${hi}: range is reversed`);
    const result: Entry[] = [];
    let sizeBytes = 0;
    let isCut = false;
    this.guard("entries", () => {
      for (const row of this.statements.entriesFrom.iterate(lo, hi)) {
        const entry = entryFromRow(row);
        assert(entry.index === lo + result.length, `raft entry ${lo + result.length} missing`);
        sizeBytes += entrySizeBytes(entry);
        // The first entry goes out whatever its size, so a large one cannot stall the log.
        isCut = maxBytes !== undefined && sizeBytes > maxBytes && result.length > 0;
        if (isCut) break;
        result.push(entry);
      }
    });
    assert(isCut || result.length === hi - lo, `raft entries ${lo}..${hi} are incomplete`);
    return result;
  }

  snapshot(): Snapshot {
    const meta = this.readable().snapshot;
    const copy = { ...meta, confState: { voters: meta.confState.voters.slice() } };
    if (meta.index === 0) return { meta: copy, data: "" };
    const row = this.guard("snapshot", () => this.statements.snapshot.get());
    assert(row !== null, "the raft snapshot row is missing");
    assert(row.log_index === meta.index, `raft snapshot at ${row.log_index}, cached ${meta.index}`);
    assert(row.term === meta.term, `raft snapshot term ${row.term}, cached ${meta.term}`);
    return { meta: copy, data: row.data };
  }

  // ---- writes -----------------------------------------------------------------------------

  /**
   * Makes a Ready's state durable in one IMMEDIATE transaction (one fsync): its snapshot, then
   * its entries, hard state and compaction, in that order. Throws StorageError when sqlite
   * fails, and then nothing of it is stored and the caches are unchanged.
   */
  persist(persist: RaftPersist): void {
    assert(!this.isClosed, `raft storage ${this.path} is closed`);
    if (isNothing(persist)) return;
    assert(!this.db.inTransaction, "persist inside an open transaction: use persistWithin");
    assert(this.pending === null || !this.pending.transaction.isOpen, "persist while staged");
    this.pending = null;
    this.state = guardSqlite(this.path, "persist raft state", () =>
      this.persistTransaction(persist),
    );
  }

  /**
   * Writes what persist() writes, inside a transaction the caller runs (runTransaction), so it
   * commits or rolls back with the caller's other writes. The caches change when the
   * transaction commits. Several calls in one transaction apply in call order. A call that
   * throws leaves nothing of itself behind (it runs in a savepoint), so the caller may still
   * commit what else it wrote. No read of this store may happen until the transaction ends.
   */
  persistWithin(transaction: SharedTransaction, persist: RaftPersist): void {
    assert(!this.isClosed, `raft storage ${this.path} is closed`);
    assert(transaction.isOpen, "persistWithin on a finished transaction");
    assert(transaction.db === this.db, "persistWithin on another database's transaction");
    assert(this.db.inTransaction, "persistWithin outside a sqlite transaction");
    // A pending write of an earlier transaction that rolled back is forgotten here.
    if (this.pending !== null && this.pending.transaction !== transaction) {
      assert(!this.pending.transaction.isOpen, "two shared transactions open at once");
      this.pending = null;
    }
    const base = this.pending?.state ?? this.state;
    const state = guardSqlite(this.path, "persist raft state", () =>
      this.persistSavepoint(base, persist),
    );
    const isFirst = this.pending === null;
    this.pending = { transaction, state };
    if (!isFirst) return;
    transaction.onCommit(() => {
      const pending = this.pending;
      assert(pending !== null && pending.transaction === transaction, "lost a staged write");
      this.state = pending.state;
      this.pending = null;
    });
  }

  /** Appends; an entry whose index is already stored replaces it and every later one. */
  append(entries: Entry[]): void {
    this.persist({ hardState: null, entries, snapshot: null, compaction: null });
  }

  setHardState(hardState: HardState): void {
    this.persist({ hardState, entries: [], snapshot: null, compaction: null });
  }

  /** Replaces everything with a snapshot from the leader; one no newer than ours is ignored. */
  applySnapshot(snapshot: Snapshot): void {
    this.persist({ hardState: null, entries: [], snapshot, compaction: null });
  }

  /**
   * Stores a snapshot the application took at an index of the log (at most lastIndex, with
   * that entry's term) and discards the entries it covers; one no newer than ours is ignored.
   */
  compact(snapshot: Snapshot): void {
    this.persist({ hardState: null, entries: [], snapshot: null, compaction: snapshot });
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.ownsDatabase) guardSqlite(this.path, "close", () => this.db.close());
  }

  // ---- inside a write transaction: a throw rolls every write back -------------------------

  private write(before: LogState, persist: RaftPersist): LogState {
    let state = before;
    if (persist.snapshot !== null) state = this.writeSnapshot(state, persist.snapshot);
    if (persist.entries.length > 0) state = this.writeEntries(state, persist.entries);
    if (persist.hardState !== null) state = this.writeHardState(state, persist.hardState);
    if (persist.compaction !== null) state = this.writeCompaction(state, persist.compaction);
    assert(state.hardState.commit <= state.lastIndex, `commit beyond the last index`);
    assert(state.snapshot.index <= state.lastIndex, `snapshot beyond the last index`);
    return state;
  }

  private writeSnapshot(state: LogState, snapshot: Snapshot): LogState {
    assertSnapshot(snapshot);
    if (snapshot.meta.index <= state.snapshot.index) return state;
    this.statements.deleteEntriesFrom.run(0);
    this.storeSnapshot(snapshot);
    const { index, term } = snapshot.meta;
    return { ...state, snapshot: copyMeta(snapshot.meta), lastIndex: index, lastTerm: term };
  }

  private writeEntries(state: LogState, entries: readonly Entry[]): LogState {
    assertEntries(entries);
    const fresh = entries.filter((entry) => entry.index > state.snapshot.index);
    const first = fresh[0];
    const last = fresh[fresh.length - 1];
    if (first === undefined || last === undefined) return state;
    assert(first.index <= state.lastIndex + 1, `gap before raft entry ${first.index}`);
    const previousTerm = this.termWithin(state, first.index - 1);
    assert(first.term >= previousTerm, `raft entry ${first.index} has a term below its log's`);
    if (first.index <= state.lastIndex) this.statements.deleteEntriesFrom.run(first.index);
    for (const entry of fresh) {
      this.statements.insertEntry.run(entry.index, entry.term, entry.type, entry.data);
    }
    return { ...state, lastIndex: last.index, lastTerm: last.term };
  }

  private writeHardState(state: LogState, hardState: HardState): LogState {
    assert(isCount(hardState.term), `bad hard state term ${hardState.term}`);
    assert(isCount(hardState.vote), `bad hard state vote ${hardState.vote}`);
    assert(isCount(hardState.commit), `bad hard state commit ${hardState.commit}`);
    const previous = state.hardState;
    assert(hardState.term >= previous.term, `hard state term goes back`);
    // One vote per term (§5.2): a vote once cast stays until the term changes.
    const isSameTerm = hardState.term === previous.term;
    assert(!isSameTerm || previous.vote === 0 || hardState.vote === previous.vote, "a second vote");
    assert(hardState.commit >= previous.commit, `hard state commit goes back`);
    const { term, vote, commit } = hardState;
    this.statements.upsertHardState.run(term, vote, commit);
    return { ...state, hardState: { term, vote, commit } };
  }

  private writeCompaction(state: LogState, snapshot: Snapshot): LogState {
    assertSnapshot(snapshot);
    const { index, term } = snapshot.meta;
    if (index <= state.snapshot.index) return state;
    assert(index <= state.lastIndex, `compacting at ${index} beyond the last index`);
    const storedTerm = this.termWithin(state, index);
    assert(storedTerm === term, `compaction at ${index} has term ${term}, the log ${storedTerm}`);
    this.statements.deleteEntriesUpTo.run(index);
    this.storeSnapshot(snapshot);
    return { ...state, snapshot: copyMeta(snapshot.meta) };
  }

  private storeSnapshot(snapshot: Snapshot): void {
    const { index, term, confState } = snapshot.meta;
    const confJson = JSON.stringify({ voters: confState.voters });
    this.statements.upsertSnapshot.run(index, term, confJson, snapshot.data);
  }

  /** Term at `index` within a transaction, where `state` is the working (unpublished) state. */
  private termWithin(state: LogState, index: number): number {
    if (index === state.snapshot.index) return state.snapshot.term;
    if (index === state.lastIndex) return state.lastTerm;
    const row = this.statements.termAt.get(index);
    assert(row !== null, `raft entry ${index} is missing inside the log`);
    return row.term;
  }

  // ---- loading ----------------------------------------------------------------------------

  private load(): LogState {
    const s = this.statements;
    const hardRow = s.hardState.get();
    const hardState =
      hardRow === null
        ? hardStateZero
        : { term: hardRow.term, vote: hardRow.vote, commit: hardRow.commit_index };
    const snapshotRow = s.snapshot.get();
    const snapshot = snapshotRow === null ? snapshotMetaZero : metaFromRow(snapshotRow);
    const bounds = s.logBounds.get();
    let lastIndex = snapshot.index;
    let lastTerm = snapshot.term;
    if (bounds !== null && bounds.first !== null && bounds.last !== null) {
      assert(bounds.first === snapshot.index + 1, `raft log starts at ${bounds.first}`);
      assert(bounds.n === bounds.last - bounds.first + 1, "raft log has holes");
      lastIndex = bounds.last;
      const last = s.termAt.get(lastIndex);
      assert(last !== null && isTerm(last.term), `bad term at the last raft entry`);
      assert(last.term >= snapshot.term, "the last raft entry's term is below the snapshot's");
      lastTerm = last.term;
    }
    assert(isCount(hardState.term) && isCount(hardState.vote), "bad stored hard state");
    assert(hardState.commit <= lastIndex, `stored commit ${hardState.commit} beyond the log`);
    return { hardState, snapshot, lastIndex, lastTerm };
  }

  /** The committed state, for a read; never in the middle of a shared transaction. */
  private readable(): LogState {
    assert(!this.isClosed, `raft storage ${this.path} is closed`);
    const pending = this.pending;
    assert(pending === null || !pending.transaction.isOpen, "read during a staged raft write");
    return this.state;
  }

  private guard<T>(operation: string, run: () => T): T {
    return guardSqlite(this.path, operation, run);
  }
}

function isNothing(persist: RaftPersist): boolean {
  const { hardState, entries, snapshot, compaction } = persist;
  return hardState === null && entries.length === 0 && snapshot === null && compaction === null;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function isTerm(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1;
}

function isEntryType(value: string): value is EntryType {
  return value === "normal" || value === "conf-change";
}

/** Before a write: every entry well formed, indexes contiguous, terms never decreasing. */
function assertEntries(entries: readonly Entry[]): void {
  let previous: Entry | undefined;
  for (const entry of entries) {
    assert(isTerm(entry.index), `bad raft entry index ${entry.index}`);
    assert(isTerm(entry.term), `bad term ${entry.term} of raft entry ${entry.index}`);
    assert(isEntryType(entry.type), `bad type of raft entry ${entry.index}`);
    assert(typeof entry.data === "string", `raft entry ${entry.index} data is not a string`);
    if (previous !== undefined) {
      assert(entry.index === previous.index + 1, `raft entries not contiguous at ${entry.index}`);
      assert(entry.term >= previous.term, `raft entry terms decrease at ${entry.index}`);
    }
    previous = entry;
  }
}

function assertSnapshot(snapshot: Snapshot): void {
  const { index, term, confState } = snapshot.meta;
  assert(isTerm(index), `bad raft snapshot index ${index}`);
  assert(isTerm(term), `bad raft snapshot term ${term}`);
  assertConfState(confState);
  assert(typeof snapshot.data === "string", "raft snapshot data is not a string");
}

function assertConfState(confState: ConfState): void {
  assert(Array.isArray(confState.voters), "conf state voters is not a list");
  let previous = 0;
  for (const voter of confState.voters) {
    assert(isTerm(voter), `bad voter id ${voter}`);
    assert(voter > previous, "conf state voters are not sorted and distinct");
    previous = voter;
  }
}

/** After a read: the row is an entry a write could have stored. */
function entryFromRow(row: EntryRow): Entry {
  assert(isTerm(row.log_index), `bad stored raft entry index ${row.log_index}`);
  assert(isTerm(row.term), `bad stored term of raft entry ${row.log_index}`);
  assert(isEntryType(row.type), `bad stored type of raft entry ${row.log_index}`);
  return { term: row.term, index: row.log_index, type: row.type, data: row.data };
}

function metaFromRow(row: SnapshotRow): SnapshotMeta {
  assert(isTerm(row.log_index), `bad stored raft snapshot index ${row.log_index}`);
  assert(isTerm(row.term), `bad stored raft snapshot term ${row.term}`);
  const voters = parseVoters(row.conf_state);
  assert(voters !== null, "the stored raft snapshot's conf state is not {voters: [...]}");
  const confState: ConfState = { voters };
  assertConfState(confState);
  return { index: row.log_index, term: row.term, confState };
}

function parseVoters(json: string): number[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const voters: unknown = (parsed as { voters?: unknown }).voters;
  if (!Array.isArray(voters)) return null;
  return voters.every((voter) => typeof voter === "number") ? (voters as number[]) : null;
}

function copyMeta(meta: SnapshotMeta): SnapshotMeta {
  const confState = { voters: meta.confState.voters.slice() };
  return { index: meta.index, term: meta.term, confState };
}
