// Runs the ReplicaStorage contract against the in-memory reference store and sqlite, in
// memory and in a file in a temp dir (reopened to check durability).

import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { openDatabase } from "../../../lib/store/database.ts";
import { schemaVersion } from "../../../lib/store/schema.ts";
import { MemoryReplicaStore } from "../../../lib/store/memory-replica-store.ts";
import { SqliteReplicaStore } from "../../../lib/store/sqlite-replica-store.ts";
import { replicaStoreContract } from "./replica-store.contract.ts";
import { keyOf } from "./rows.ts";

replicaStoreContract({ name: "memory", open: () => new MemoryReplicaStore() });

replicaStoreContract({ name: "sqlite :memory:", open: () => new SqliteReplicaStore(":memory:") });

let dir = "";
replicaStoreContract({
  name: "sqlite file",
  open: () => {
    dir = mkdtempSync(join(tmpdir(), "warehouse-replica-"));
    return new SqliteReplicaStore(join(dir, "warehouse.sqlite"));
  },
  reopen: (store) => {
    store.close();
    return new SqliteReplicaStore(join(dir, "warehouse.sqlite"));
  },
  cleanup: () => rmSync(dir, { recursive: true, force: true }),
});

describe("SqliteReplicaStore schemas 4 and 5", () => {
  // kv and changes as schema 3 made them (later migrations in lib/store/schema.ts never edit old
  // steps): schema 4 adds the expiry columns, schema 5 rebuilds kv.
  const schema3Kv = `
    CREATE TABLE kv (
      key TEXT PRIMARY KEY NOT NULL,
      partition INTEGER NOT NULL CHECK (partition >= 0),
      seq INTEGER NOT NULL CHECK (seq >= 1),
      epoch INTEGER NOT NULL CHECK (epoch >= 1),
      value TEXT NOT NULL,
      writer TEXT
    ) STRICT;
    CREATE INDEX kv_by_partition ON kv (partition, key);`;

  test("a schema-3 file's rows move to a kv table found through its partition index only", () => {
    const path = join(mkdtempSync(join(tmpdir(), "warehouse-replica-")), "warehouse.sqlite");
    try {
      const db = openDatabase(path, { busyTimeoutMs: 0 });
      db.run(`DROP TABLE kv; ${schema3Kv}`);
      db.run("ALTER TABLE changes DROP COLUMN expires_at");
      db.run("ALTER TABLE changes DROP COLUMN before_expires_at");
      const insert = db.prepare(
        "INSERT INTO kv (key, partition, seq, epoch, value, writer) VALUES (?, ?, ?, ?, ?, ?)");
      for (let n = 0; n < 50; n++) {
        insert.run(keyOf(n), n % 3, n + 1, 2, `v${n}`, n % 2 === 1 ? `w/${n}` : null);
      }
      db.run("PRAGMA user_version = 3");
      db.close();

      const store = new SqliteReplicaStore(path);
      expect(store.get(0, keyOf(7))).toBeUndefined();
      expect(store.get(1, keyOf(7))).toEqual(
        { key: keyOf(7), partition: 1, seq: 8, epoch: 2, value: "v7", writer: "w/7" });
      expect(store.countRows(2)).toBe(16);
      expect(store.expiringAfter(1, "", 100)).toEqual([]);
      expect(store.rowsAfter(0, "", 100).map((r) => r.key)).toEqual(
        Array.from({ length: 17 }, (_, i) => keyOf(i * 3)).sort());
      store.close();

      const check = new Database(path);
      expect(check.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version)
        .toBe(schemaVersion);
      const indexes = check.query<{ name: string; sql: string | null }, []>(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'kv'").all();
      // No index on the key alone any more: the unique partition index finds every row.
      expect(indexes).toEqual([
        { name: "kv_by_partition", sql: "CREATE UNIQUE INDEX kv_by_partition ON kv (partition, key)" },
        { name: "kv_expiring",
          sql: "CREATE INDEX kv_expiring ON kv (partition, key) WHERE expires_at IS NOT NULL" },
      ]);
      // Retries are looked up by writer alone: a client's writers sort together, so its changes
      // extend one run of the index instead of one run per partition.
      const byWriter = check.query<{ sql: string }, []>(
        "SELECT sql FROM sqlite_schema WHERE name = 'changes_by_writer'").get();
      expect(byWriter?.sql).toBe(
        "CREATE INDEX changes_by_writer ON changes (writer) WHERE writer IS NOT NULL");
      check.close();
    } finally {
      rmSync(dirname(path), { recursive: true, force: true });
    }
  });
});

describe("SqliteReplicaStore schema 6", () => {
  // The change log as schemas 2 to 5 left it: keyed by (partition, seq), WITHOUT ROWID.
  const schema5Changes = `
    CREATE TABLE changes (
      partition INTEGER NOT NULL CHECK (partition >= 0),
      seq INTEGER NOT NULL CHECK (seq >= 1),
      epoch INTEGER NOT NULL CHECK (epoch >= 1),
      key TEXT NOT NULL,
      value TEXT,
      writer TEXT,
      status TEXT NOT NULL CHECK (status IN ('created', 'updated', 'deleted', 'not_found')),
      before_seq INTEGER,
      before_epoch INTEGER,
      before_value TEXT,
      before_writer TEXT,
      expires_at INTEGER,
      before_expires_at INTEGER,
      CHECK ((before_seq IS NULL) = (before_value IS NULL)),
      PRIMARY KEY (partition, seq)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX changes_by_writer ON changes (writer) WHERE writer IS NOT NULL;`;

  test("a schema-5 change log moves to a rowid table keyed by partition and seq", () => {
    const path = join(mkdtempSync(join(tmpdir(), "warehouse-replica-")), "warehouse.sqlite");
    try {
      const db = openDatabase(path, { busyTimeoutMs: 0 });
      db.run(`DROP TABLE changes; ${schema5Changes}`);
      const insert = db.prepare(
        `INSERT INTO changes (partition, seq, epoch, key, value, writer, status, before_seq,
           before_epoch, before_value, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      const logs = db.prepare(
        "INSERT INTO partition_logs (partition, fenced, base_seq, base_epoch, is_copying) " +
          "VALUES (?, 3, 0, 0, 0)");
      // Partition 4095 (the most there may be) checks that the id's partition bits hold it.
      for (const partition of [0, 1, 4095]) {
        logs.run(partition);
        for (let seq = 1; seq <= 30; seq++) {
          const epoch = seq <= 10 ? 2 : 3;
          const update = seq % 7 === 0;
          insert.run(partition, seq, epoch, keyOf(seq % 7 === 0 ? 1 : seq), `v${seq}`,
            `w/${partition}/${seq}`, update ? "updated" : "created", update ? 1 : null,
            update ? 2 : null, update ? "v1" : null, seq === 30 ? 99 : null);
        }
      }
      db.run("PRAGMA user_version = 5");
      db.close();

      const store = new SqliteReplicaStore(path);
      for (const partition of [0, 1, 4095]) {
        expect(store.summary(partition)).toEqual({
          base: { epoch: 0, seq: 0 },
          last: { epoch: 3, seq: 30 },
          epochs: [{ epoch: 2, seq: 1 }, { epoch: 3, seq: 11 }],
          isCopying: false,
        });
        expect(store.changesAfter(partition, 27, 10).map((c) => c.seq)).toEqual([28, 29, 30]);
        expect(store.changesAfter(partition, 29, 10)).toEqual([{ seq: 30, epoch: 3,
          key: keyOf(30), value: "v30", writer: `w/${partition}/30`, status: "created",
          expiresAt: 99 }]);
        expect(store.changeByWriter(partition, `w/${partition}/14`)).toEqual({ seq: 14,
          epoch: 3, key: keyOf(1), value: "v14", writer: `w/${partition}/14`, status: "updated" });
        expect(store.keyChangesAfter(partition, keyOf(1), 0, 10).map((c) => c.seq))
          .toEqual([1, 7, 14, 21, 28]);
      }
      // Another partition's writer is not this one's.
      expect(store.changeByWriter(1, "w/0/14")).toBeUndefined();
      store.close();

      const check = new Database(path);
      expect(check.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version)
        .toBe(schemaVersion);
      const ids = check.query<{ id: number }, []>(
        "SELECT id FROM changes WHERE seq = 30 ORDER BY id").all().map((r) => r.id);
      expect(ids).toEqual([30, 2 ** 48 + 30, 4095 * 2 ** 48 + 30]);
      const table = check.query<{ sql: string }, []>(
        "SELECT sql FROM sqlite_schema WHERE name = 'changes'").get();
      expect(table?.sql).not.toContain("WITHOUT ROWID");
      const byWriter = check.query<{ sql: string }, []>(
        "SELECT sql FROM sqlite_schema WHERE name = 'changes_by_writer'").get();
      expect(byWriter?.sql).toBe(
        "CREATE INDEX changes_by_writer ON changes (writer) WHERE writer IS NOT NULL");
      check.close();
    } finally {
      rmSync(dirname(path), { recursive: true, force: true });
    }
  });
});
