// A node's turn as the cluster shell will run it: the Raft store's persistWithin and the replica
// store's commitWithin in one runTransaction on one database. Both land, or neither does, and
// neither store's in-memory view moves before the commit.

import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../../../lib/raft/types.ts";
import {
  openDatabase,
  runTransaction,
  SqliteRaftStorage,
  SqliteReplicaStore,
  type RaftPersist,
  type ReplicaWrite,
  WAL_AUTOCHECKPOINT_PAGES,
} from "../../../lib/store/index.ts";
import { AssertionError, StorageError } from "../../../lib/util/errors.ts";
import { keyOf } from "./rows.ts";

const P = 5;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Node {
  path: string;
  db: Database;
  raft: SqliteRaftStorage;
  replicas: SqliteReplicaStore;
  close(): void;
}

function openNode(path: string, busyTimeoutMs = 5000): Node {
  const db = openDatabase(path, { busyTimeoutMs });
  const raft = new SqliteRaftStorage(path, db);
  const replicas = new SqliteReplicaStore(path, db);
  return {
    path,
    db,
    raft,
    replicas,
    close: () => {
      raft.close();
      replicas.close();
      db.close();
    },
  };
}

function newPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-turn-"));
  dirs.push(dir);
  return join(dir, "node.sqlite");
}

function raftTurn(index: number, term: number): RaftPersist {
  const entries: Entry[] = [{ index, term, type: "normal", data: `cmd${index}` }];
  return { hardState: { term, vote: 1, commit: index }, entries, snapshot: null, compaction: null };
}

function write(seq: number, epoch: number, value: string): ReplicaWrite {
  const change = { seq, epoch, key: keyOf(seq), value, writer: `c:${seq}` };
  return { type: "append", partition: P, changes: [change] };
}

/** What each store shows of itself, to compare across a turn that must change nothing. */
function views(node: Node) {
  return {
    raftLast: node.raft.lastIndex(),
    hardState: node.raft.initialState().hardState,
    fenced: node.replicas.fencedEpoch(P),
    summary: node.replicas.summary(P),
  };
}

describe("one transaction per turn: Raft state and data-plane writes", () => {
  test("both land together, and both stores see them after the commit", () => {
    const path = newPath();
    const node = openNode(path);
    node.replicas.createLogs([write(1, 1, "a")]);
    const outcome = runTransaction(node.db, path, (transaction) => {
      node.raft.persistWithin(transaction, raftTurn(1, 1));
      const statuses = node.replicas.commitWithin(transaction, [
        { type: "fence", partition: P, epoch: 1 },
        write(1, 1, "a"),
      ]);
      expect(() => node.raft.lastIndex()).toThrow(/staged/);
      expect(node.replicas.summary(P).last).toEqual({ epoch: 0, seq: 0 });
      return statuses;
    });
    expect(outcome).toEqual({ statuses: [["created"]] });
    const expected = {
      raftLast: 1,
      hardState: { term: 1, vote: 1, commit: 1 },
      fenced: 1,
      summary: {
        base: { epoch: 0, seq: 0 },
        last: { epoch: 1, seq: 1 },
        epochs: [{ epoch: 1, seq: 1 }],
        isCopying: false,
      },
    };
    expect(views(node)).toEqual(expected);
    node.close();
    const reopened = openNode(path);
    expect(views(reopened)).toEqual(expected);
    expect(reopened.replicas.get(P, keyOf(1))?.value).toBe("a");
    expect(reopened.raft.entries(1, 2)).toEqual(raftTurn(1, 1).entries);
    reopened.close();
  });

  test("a refused data-plane write rolls the Raft state back with it", () => {
    const path = newPath();
    const node = openNode(path);
    node.replicas.createLogs([write(1, 1, "a")]);
    runTransaction(node.db, path, (transaction) => {
      node.raft.persistWithin(transaction, raftTurn(1, 1));
      node.replicas.commitWithin(transaction, [write(1, 1, "a")]);
    });
    const before = views(node);
    // seq 3 after 1 is a gap: a programmer error the replica store asserts on.
    const turn = () =>
      runTransaction(node.db, path, (transaction) => {
        node.raft.persistWithin(transaction, raftTurn(2, 1));
        node.replicas.commitWithin(transaction, [write(3, 1, "c")]);
      });
    expect(turn).toThrow(AssertionError);
    expect(views(node)).toEqual(before);
    node.close();
    const reopened = openNode(path);
    expect(views(reopened)).toEqual(before);
    expect(reopened.replicas.get(P, keyOf(3))).toBeUndefined();
    reopened.close();
  });

  test("a database another connection holds: StorageError, and the turn never ran", () => {
    const path = newPath();
    const node = openNode(path, 0);
    const other = new Database(path);
    other.run("BEGIN IMMEDIATE");
    let ran = false;
    const turn = () =>
      runTransaction(node.db, path, (transaction) => {
        ran = true;
        node.raft.persistWithin(transaction, raftTurn(1, 1));
      });
    expect(turn).toThrow(StorageError);
    expect(ran).toBe(false);
    other.run("ROLLBACK");
    other.close();
    turn();
    expect(node.raft.lastIndex()).toBe(1);
    node.close();
  });

  test("a partition's first change needs its log table made before the transaction", () => {
    const path = newPath();
    const node = openNode(path);
    const before = views(node);
    // The table is made in a transaction of its own: one made inside this turn would vanish
    // with a rollback while the store went on believing in it.
    const turn = () =>
      runTransaction(node.db, path, (transaction) => {
        node.raft.persistWithin(transaction, raftTurn(1, 1));
        node.replicas.commitWithin(transaction, [write(1, 1, "a")]);
      });
    expect(turn).toThrow(/before createLogs/);
    expect(views(node)).toEqual(before);
    node.replicas.createLogs([write(1, 1, "a")]);
    turn();
    expect(node.replicas.summary(P).last).toEqual({ epoch: 1, seq: 1 });
    node.close();
  });

  test("the replica store writes once per transaction, and never after it ended", () => {
    const path = newPath();
    const node = openNode(path);
    let ended: Parameters<SqliteReplicaStore["commitWithin"]>[0] | null = null;
    node.replicas.createLogs([write(1, 1, "a")]);
    runTransaction(node.db, path, (transaction) => {
      node.replicas.commitWithin(transaction, [write(1, 1, "a")]);
      expect(() => node.replicas.commitWithin(transaction, [write(2, 1, "b")])).toThrow(/twice/);
      ended = transaction;
    });
    if (ended === null) throw new Error("the transaction never ran");
    const late = ended;
    expect(() => node.replicas.commitWithin(late, [write(2, 1, "b")])).toThrow(/finished/);
    expect(node.replicas.summary(P).last).toEqual({ epoch: 1, seq: 1 });
    node.close();
  });
});

describe("the connection a turn commits on", () => {
  test("syncs every commit (FULL) and keeps savepoint undo pages in memory, not temp files", () => {
    const node = openNode(newPath());
    const pragma = (name: string) =>
      node.db.query<Record<string, number>, []>(`PRAGMA ${name}`).get()?.[name];
    // 2 is FULL for synchronous and MEMORY for temp_store.
    expect(pragma("synchronous")).toBe(2);
    expect(pragma("temp_store")).toBe(2);
    expect(pragma("wal_autocheckpoint")).toBe(WAL_AUTOCHECKPOINT_PAGES);
    node.close();
  });
});
