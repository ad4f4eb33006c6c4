// What the sqlite Raft store adds to the RaftStorage contract: a Ready persisted in one
// transaction, the shared transaction with other stores' writes, StorageError on sqlite
// failures with nothing changed, assertions on programmer errors, and read-back checks that
// catch a damaged file.

import { afterEach, describe, expect, test } from "bun:test";
import { Database, SQLiteError } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry, HardState, Snapshot } from "../../../lib/raft/types.ts";
import { openDatabase } from "../../../lib/store/database.ts";
import { SqliteRaftStorage, type RaftPersist } from "../../../lib/store/raft-log-store.ts";
import { schemaVersion } from "../../../lib/store/schema.ts";
import { rewindChangeLogToSchema5 } from "./old-schemas.ts";
import { runTransaction } from "../../../lib/store/transaction.ts";
import { AssertionError, StorageError } from "../../../lib/util/errors.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-raftlog-"));
  dirs.push(dir);
  return join(dir, "node.sqlite");
}

function entry(index: number, term: number): Entry {
  return { index, term, type: "normal", data: `e${index}` };
}

function run(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push(entry(index, term));
  return out;
}

function snapshotAt(index: number, term: number, voters = [1, 2, 3]): Snapshot {
  return { meta: { index, term, confState: { voters } }, data: `state@${index}` };
}

function ready(parts: Partial<RaftPersist>): RaftPersist {
  return { hardState: null, entries: [], snapshot: null, compaction: null, ...parts };
}

/** Everything a reader can see, to compare before and after a write that must change nothing. */
function view(store: SqliteRaftStorage) {
  const first = store.firstIndex();
  const last = store.lastIndex();
  return {
    first,
    last,
    entries: store.entries(first, last + 1),
    snapshot: store.snapshot(),
    initial: store.initialState(),
  };
}

function metaValue(db: Database, name: string): string | null {
  const row = db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE name = ?");
  return row.get(name)?.value ?? null;
}

describe("SqliteRaftStorage persist", () => {
  test("one Ready's snapshot, entries, hard state and compaction land together", () => {
    const path = tempPath();
    const store = new SqliteRaftStorage(path);
    store.append(run(1, 4, 1));
    const hardState: HardState = { term: 3, vote: 2, commit: 13 };
    const compaction = snapshotAt(12, 3, [2, 3]);
    store.persist(
      ready({ snapshot: snapshotAt(10, 2), entries: run(11, 15, 3), hardState, compaction }),
    );
    const expected = {
      first: 13,
      last: 15,
      entries: run(13, 15, 3),
      snapshot: compaction,
      initial: { hardState, confState: { voters: [2, 3] } },
    };
    expect(view(store)).toEqual(expected);
    store.close();
    const reopened = new SqliteRaftStorage(path);
    expect(view(reopened)).toEqual(expected);
    expect(reopened.term(12)).toBe(3);
    reopened.close();
  });

  test("a Ready whose last part is refused stores none of its parts", () => {
    const path = tempPath();
    const store = new SqliteRaftStorage(path);
    store.append(run(1, 3, 1));
    store.setHardState({ term: 1, vote: 1, commit: 2 });
    const before = view(store);
    // The compaction's term disagrees with the entry at its index: a programmer error, found
    // after the entries and the hard state were already written inside the transaction.
    const bad = ready({
      entries: run(4, 6, 2),
      hardState: { term: 2, vote: 0, commit: 5 },
      compaction: snapshotAt(5, 1),
    });
    expect(() => store.persist(bad)).toThrow(AssertionError);
    expect(view(store)).toEqual(before);
    store.close();
    const reopened = new SqliteRaftStorage(path);
    expect(view(reopened)).toEqual(before);
    reopened.close();
  });

  test("a sqlite failure is a StorageError and changes neither the file nor the caches", () => {
    const path = tempPath();
    const db = openDatabase(path, { busyTimeoutMs: 0 });
    const store = new SqliteRaftStorage(path, db);
    store.append(run(1, 2, 1));
    const before = view(store);
    const other = new Database(path);
    other.run("BEGIN IMMEDIATE");
    let thrown: unknown;
    try {
      store.persist(ready({ entries: [entry(3, 1)], hardState: { term: 1, vote: 0, commit: 3 } }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StorageError);
    expect((thrown as StorageError).code).toBe("STORAGE");
    expect((thrown as StorageError).cause).toBeInstanceOf(SQLiteError);
    expect(view(store)).toEqual(before);
    other.run("ROLLBACK");
    other.close();
    store.append([entry(3, 1)]);
    expect(store.lastIndex()).toBe(3);
    store.close();
    db.close();
  });
});

describe("SqliteRaftStorage in a shared transaction", () => {
  test("Raft state and another store's writes commit together; caches move after", () => {
    const path = tempPath();
    const db = openDatabase(path, { busyTimeoutMs: 5000 });
    const store = new SqliteRaftStorage(path, db);
    runTransaction(db, path, (transaction) => {
      store.persistWithin(transaction, ready({ entries: run(1, 3, 1) }));
      // Two calls in one transaction apply in order, the second on top of the first.
      const hardState = { term: 1, vote: 1, commit: 3 };
      store.persistWithin(transaction, ready({ entries: [entry(4, 1)], hardState }));
      db.run("INSERT INTO meta (name, value) VALUES ('turn', '1')");
      expect(() => store.lastIndex()).toThrow(/staged/);
    });
    expect(store.lastIndex()).toBe(4);
    expect(store.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 3 });
    store.close();
    db.close();
    const reopenedDb = openDatabase(path, { busyTimeoutMs: 5000 });
    const reopened = new SqliteRaftStorage(path, reopenedDb);
    expect(reopened.entries(1, 5)).toEqual(run(1, 4, 1));
    expect(metaValue(reopenedDb, "turn")).toBe("1");
    reopened.close();
    reopenedDb.close();
  });

  test("when the other writes fail, the Raft writes roll back and the store carries on", () => {
    const path = tempPath();
    const db = openDatabase(path, { busyTimeoutMs: 5000 });
    const store = new SqliteRaftStorage(path, db);
    store.append(run(1, 2, 1));
    const before = view(store);
    const failing = () =>
      runTransaction(db, path, (transaction) => {
        store.persistWithin(transaction, ready({ entries: run(3, 5, 2) }));
        db.run("INSERT INTO meta (name, value) VALUES ('turn', NULL)");
      });
    expect(failing).toThrow(StorageError);
    expect(view(store)).toEqual(before);
    expect(() =>
      runTransaction(db, path, (transaction) => {
        store.persistWithin(transaction, ready({ entries: [entry(3, 2)] }));
        throw new RangeError("the node gave up on this turn");
      }),
    ).toThrow(RangeError);
    expect(view(store)).toEqual(before);
    // The rolled-back turn is forgotten: the next one starts from the committed state.
    runTransaction(db, path, (transaction) => {
      store.persistWithin(transaction, ready({ entries: [entry(3, 3)] }));
    });
    expect(store.entries(1, 4)).toEqual([...run(1, 2, 1), entry(3, 3)]);
    store.close();
    db.close();
    const reopened = new SqliteRaftStorage(path);
    expect(reopened.entries(1, 4)).toEqual([...run(1, 2, 1), entry(3, 3)]);
    reopened.close();
  });

  test("a refused persistWithin leaves nothing behind when the caller commits anyway", () => {
    const db = openDatabase(":memory:", { busyTimeoutMs: 0 });
    const store = new SqliteRaftStorage(":memory:", db);
    store.append(run(1, 2, 1));
    runTransaction(db, ":memory:", (transaction) => {
      // The snapshot is written before the entries' gap is found; the savepoint undoes it.
      const bad = ready({ snapshot: snapshotAt(5, 2), entries: [entry(9, 2)] });
      expect(() => store.persistWithin(transaction, bad)).toThrow(/gap/);
      store.persistWithin(transaction, ready({ entries: [entry(3, 1)] }));
    });
    expect(store.firstIndex()).toBe(1);
    expect(store.entries(1, 4)).toEqual(run(1, 3, 1));
    const rows = db.query<{ n: number }, []>("SELECT count(*) AS n FROM raft_snapshot").get();
    expect(rows?.n).toBe(0);
    store.close();
    db.close();
  });

  test("the seam refuses misuse: outside or after a transaction, another database", () => {
    const db = openDatabase(":memory:", { busyTimeoutMs: 0 });
    const store = new SqliteRaftStorage(":memory:", db);
    const other = openDatabase(":memory:", { busyTimeoutMs: 0 });
    let kept: Parameters<SqliteRaftStorage["persistWithin"]>[0] | undefined;
    runTransaction(db, ":memory:", (transaction) => {
      kept = transaction;
      expect(() => store.persist(ready({ entries: [entry(1, 1)] }))).toThrow(AssertionError);
    });
    expect(kept?.isCommitted).toBe(true);
    if (kept === undefined) throw new Error("the transaction never ran");
    const late = kept;
    expect(() => store.persistWithin(late, ready({ entries: [entry(1, 1)] }))).toThrow(
      /finished transaction/,
    );
    runTransaction(other, ":memory:", (transaction) => {
      expect(() => store.persistWithin(transaction, ready({}))).toThrow(/another database/);
    });
    expect(() => runTransaction(db, ":memory:", () => runTransaction(db, "", () => 0))).toThrow(
      /inside another transaction/,
    );
    expect(store.lastIndex()).toBe(0);
    store.close();
    db.close();
    other.close();
  });
});

describe("SqliteRaftStorage assertions", () => {
  const cases: [string, (store: SqliteRaftStorage) => void, RegExp][] = [
    ["a gap before the first new entry", (s) => s.append([entry(5, 1)]), /gap/],
    ["entries that skip an index", (s) => s.append([entry(4, 1), entry(6, 1)]), /contiguous/],
    ["terms that decrease in a batch", (s) => s.append([entry(4, 2), entry(5, 1)]), /decrease/],
    ["a term below the log's", (s) => s.append([entry(3, 1)]), /below its log/],
    ["a term of 0", (s) => s.append([entry(4, 0)]), /bad term/],
    ["compacting beyond the last index", (s) => s.compact(snapshotAt(4, 2)), /beyond the last/],
    ["compacting with another term", (s) => s.compact(snapshotAt(2, 1)), /has term 1, the log 2/],
    ["a term going back", (s) => s.setHardState({ term: 1, vote: 0, commit: 0 }), /back/],
    ["a commit beyond the log", (s) => s.setHardState({ term: 2, vote: 1, commit: 4 }), /commit/],
    ["a commit going back", (s) => s.setHardState({ term: 2, vote: 1, commit: 0 }), /goes back/],
    ["a second vote in a term", (s) => s.setHardState({ term: 2, vote: 3, commit: 1 }), /vote/],
    ["unsorted voters", (s) => s.applySnapshot(snapshotAt(9, 2, [3, 1])), /sorted/],
    ["entries beyond the last index", (s) => void s.entries(1, 5), /beyond the last/],
    ["a reversed range", (s) => void s.entries(3, 2), /reversed/],
  ];
  for (const [what, act, message] of cases) {
    test(`${what} is refused and changes nothing`, () => {
      const store = new SqliteRaftStorage(":memory:");
      store.append([entry(1, 1), entry(2, 2), entry(3, 2)]);
      store.setHardState({ term: 2, vote: 1, commit: 1 });
      const before = view(store);
      expect(() => act(store)).toThrow(AssertionError);
      expect(() => act(store)).toThrow(message);
      expect(view(store)).toEqual(before);
      store.close();
    });
  }
});

describe("SqliteRaftStorage read-back checks", () => {
  function damaged(damage: (db: Database) => void): string {
    const path = tempPath();
    const store = new SqliteRaftStorage(path);
    store.append(run(1, 6, 1));
    store.compact(snapshotAt(2, 1));
    store.close();
    const db = new Database(path);
    damage(db);
    db.close();
    return path;
  }

  test("a hole in the stored log is found when the file is opened", () => {
    const path = damaged((db) => db.run("DELETE FROM raft_entries WHERE log_index = 4"));
    expect(() => new SqliteRaftStorage(path)).toThrow(/holes/);
  });

  test("entries the snapshot covers, still stored, are found when the file is opened", () => {
    const path = damaged((db) => db.run("INSERT INTO raft_entries VALUES (2, 1, 'normal', '')"));
    expect(() => new SqliteRaftStorage(path)).toThrow(/raft log starts at 2/);
  });

  test("a conf state that is not {voters: [...]} is found when the file is opened", () => {
    const path = damaged((db) => db.run(`UPDATE raft_snapshot SET conf_state = '{"voters":"1"}'`));
    expect(() => new SqliteRaftStorage(path)).toThrow(/conf state/);
  });

  test("an entry removed behind an open store's back is found when it is read", () => {
    const path = tempPath();
    const store = new SqliteRaftStorage(path);
    store.append(run(1, 6, 1));
    const db = new Database(path);
    db.run("DELETE FROM raft_entries WHERE log_index = 3");
    db.close();
    expect(() => store.entries(1, 7)).toThrow(/raft entry 3 missing/);
    expect(() => store.term(3)).toThrow(/missing/);
    expect(store.entries(4, 7)).toEqual(run(4, 6, 1));
    store.close();
  });
});

describe("SqliteRaftStorage schema", () => {
  test("a schema-2 file gains the Raft tables, empty, and keeps its other data", () => {
    const path = tempPath();
    const db = openDatabase(path, { busyTimeoutMs: 0 });
    db.run("INSERT INTO meta (name, value) VALUES ('node_id', '7')");
    db.run("DROP TABLE raft_entries; DROP TABLE raft_hard_state; DROP TABLE raft_snapshot");
    // Schema 4's expiry columns did not exist in schema 2 either.
    db.run("DROP INDEX kv_expiring; ALTER TABLE kv DROP COLUMN expires_at");
    rewindChangeLogToSchema5(db);
    db.run("ALTER TABLE changes DROP COLUMN expires_at");
    db.run("ALTER TABLE changes DROP COLUMN before_expires_at");
    db.run("PRAGMA user_version = 2");
    db.close();
    const store = new SqliteRaftStorage(path);
    expect(view(store)).toEqual({
      first: 1,
      last: 0,
      entries: [],
      snapshot: { meta: { index: 0, term: 0, confState: { voters: [] } }, data: "" },
      initial: { hardState: { term: 0, vote: 0, commit: 0 }, confState: { voters: [] } },
    });
    store.append(run(1, 2, 1));
    store.close();
    const check = new Database(path);
    const version = check.query<{ user_version: number }, []>("PRAGMA user_version").get();
    // Later steps run too: the file ends at the current version.
    expect(version?.user_version).toBe(schemaVersion);
    expect(metaValue(check, "node_id")).toBe("7");
    check.close();
  });
});
