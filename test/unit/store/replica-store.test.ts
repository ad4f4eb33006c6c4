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
import { rewindChangeLogToSchema5 } from "./old-schemas.ts";
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
      rewindChangeLogToSchema5(db);
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
      check.close();
    } finally {
      rmSync(dirname(path), { recursive: true, force: true });
    }
  });
});

describe("SqliteReplicaStore.readTogether", () => {
  const write = (store: SqliteReplicaStore, seq: number, value: string) =>
    store.commit([{ type: "append", partition: 1, changes: [
      { seq, epoch: 1, key: keyOf(1), value, writer: null }] }]);

  test("its reads share one transaction: a commit elsewhere meanwhile shows only after it", () => {
    const dir = mkdtempSync(join(tmpdir(), "warehouse-replica-"));
    const path = join(dir, "warehouse.sqlite");
    const reader = new SqliteReplicaStore(path);
    const writer = new SqliteReplicaStore(path);
    try {
      write(writer, 1, "old");
      const seen = reader.readTogether(() => {
        const first = reader.get(1, keyOf(1))?.value;
        write(writer, 2, "new");
        return [first, reader.get(1, keyOf(1))?.value];
      });
      expect(seen).toEqual(["old", "old"]);
      expect(reader.get(1, keyOf(1))?.value).toBe("new");
    } finally {
      reader.close();
      writer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("its transaction begins at the first read and ends with the batch", () => {
    const db = openDatabase(":memory:", { busyTimeoutMs: 0 });
    const store = new SqliteReplicaStore(":memory:", db);
    try {
      write(store, 1, "a");
      const states = store.readTogether(() => {
        const before = db.inTransaction;
        store.get(1, keyOf(1));
        return [before, db.inTransaction];
      });
      expect(states).toEqual([false, true]);
      expect(db.inTransaction).toBe(false);
      // A batch that reads nothing opens no transaction at all.
      expect(store.readTogether(() => db.inTransaction)).toBe(false);
    } finally {
      store.close();
      db.close();
    }
  });

  test("nothing commits inside it, and it ends when its reads throw", () => {
    const store = new SqliteReplicaStore(":memory:");
    try {
      write(store, 1, "a");
      expect(() => store.readTogether(() => write(store, 2, "b"))).toThrow();
      expect(store.get(1, keyOf(1))?.value).toBe("a");
      expect(() => store.readTogether(() => {
        store.get(1, keyOf(1));
        throw new Error("a failed read");
      })).toThrow("a failed read");
      // The transaction ended: a commit runs as usual.
      write(store, 2, "b");
      expect(store.get(1, keyOf(1))?.value).toBe("b");
    } finally {
      store.close();
    }
  });
});

describe("SqliteReplicaStore schemas 6 and 7", () => {
  test("a schema-5 change log moves to a table per partition; retries are found in it", () => {
    const path = join(mkdtempSync(join(tmpdir(), "warehouse-replica-")), "warehouse.sqlite");
    try {
      const db = openDatabase(path, { busyTimeoutMs: 0 });
      rewindChangeLogToSchema5(db);
      const insert = db.prepare(
        `INSERT INTO changes (partition, seq, epoch, key, value, writer, status, before_seq,
           before_epoch, before_value, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      const logs = db.prepare(
        "INSERT INTO partition_logs (partition, fenced, base_seq, base_epoch, is_copying) " +
          "VALUES (?, 3, 0, 0, 0)");
      // Partition 4095 is the last there may be (PARTITIONS_MAX).
      for (const partition of [0, 1, 4095]) {
        logs.run(partition);
        for (let seq = 1; seq <= 30; seq++) {
          const epoch = seq <= 10 ? 2 : 3;
          const update = seq % 7 === 0;
          insert.run(partition, seq, epoch, keyOf(update ? 1 : seq), `v${seq}`,
            seq === 3 ? null : `w/${partition}/${seq}`, update ? "updated" : "created",
            update ? 1 : null, update ? 2 : null, update ? "v1" : null, seq === 30 ? 99 : null);
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
        expect(store.changeByWriter(partition, keyOf(1), `w/${partition}/14`)).toEqual({ seq: 14,
          epoch: 3, key: keyOf(1), value: "v14", writer: `w/${partition}/14`, status: "updated" });
        expect(store.keyChangesAfter(partition, keyOf(1), 0, 10).map((c) => c.seq))
          .toEqual([1, 7, 14, 21, 28]);
      }
      // Another partition's writer is not this one's.
      expect(store.changeByWriter(1, keyOf(1), "w/0/14")).toBeUndefined();
      expect(store.changesAfter(2, 0, 10)).toEqual([]);
      store.close();

      const check = new Database(path);
      expect(check.query<{ user_version: number }, []>("PRAGMA user_version").get()?.user_version)
        .toBe(schemaVersion);
      const tables = check.query<{ name: string }, []>(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'changes%' " +
          "ORDER BY name").all().map((t) => t.name);
      expect(tables).toEqual(["changes_0", "changes_1", "changes_4095"]);
      // Schema 6's retry index is gone with schema 7.
      const writers = check.query<{ n: number }, []>(
        "SELECT count(*) AS n FROM sqlite_schema WHERE name = 'writers'").get();
      expect(writers?.n).toBe(0);
      check.close();
    } finally {
      rmSync(dirname(path), { recursive: true, force: true });
    }
  });

  test("truncating, trimming, copying and dropping a log take its retries' answers with it", () => {
    const store = new SqliteReplicaStore(":memory:");
    const change = (seq: number) =>
      ({ seq, epoch: 1, key: keyOf(seq), value: `v${seq}`, writer: `w/${seq}` });
    const appendTo = (partition: number, from: number, to: number) =>
      store.commit([{ type: "append", partition, changes:
        Array.from({ length: to - from + 1 }, (_, i) => change(from + i)) }]);
    appendTo(7, 1, 20);
    appendTo(8, 1, 5);
    store.commit([{ type: "truncate", partition: 7, afterSeq: 15 }]);
    const byWriter = (partition: number, seq: number, writer = `w/${seq}`) =>
      store.changeByWriter(partition, keyOf(seq), writer);
    expect(byWriter(7, 16)).toBeUndefined();
    expect(byWriter(7, 15)?.seq).toBe(15);
    store.commit([{ type: "trim", partition: 7, uptoSeq: 10 }]);
    expect(byWriter(7, 10)).toBeUndefined();
    expect(byWriter(7, 11)?.seq).toBe(11);
    // The same write again after a truncation: the later change is the one found.
    appendTo(7, 16, 16);
    store.commit([{ type: "append", partition: 7,
      changes: [{ ...change(17), key: keyOf(11), writer: "w/11" }] }]);
    expect(byWriter(7, 11)?.seq).toBe(17);
    store.commit([{ type: "copy-start", partition: 7, base: { epoch: 1, seq: 40 } }]);
    expect(byWriter(7, 11)).toBeUndefined();
    store.commit([{ type: "drop", partition: 8 }]);
    expect(byWriter(8, 3)).toBeUndefined();
    store.close();
  });
});
