// Runs the KvStore contract against an in-memory database and a file in a temp dir, plus the
// file-only checks: durability settings, schema versions and unopenable paths.

import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KvStore, schemaVersion } from "../../../lib/store/index.ts";
import { StorageError } from "../../../lib/util/errors.ts";
import { kvStoreContract } from "./kv-store.contract.ts";
import { rowOf } from "./rows.ts";

const tempDirs: string[] = [];
function makeTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-store-"));
  tempDirs.push(dir);
  return dir;
}
function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

kvStoreContract({
  name: ":memory:",
  open: (options) => KvStore.open(":memory:", options),
});

let filePath = "";
kvStoreContract({
  name: "file in a temp dir",
  open: (options) => {
    if (filePath === "") filePath = join(makeTempDir(), "nested", "dir", "node.sqlite");
    return KvStore.open(filePath, options);
  },
  reopen: (store) => {
    store.close();
    return KvStore.open(store.path);
  },
  blockWrites: () => {
    const other = new Database(filePath);
    other.run("BEGIN IMMEDIATE");
    return () => {
      other.run("ROLLBACK");
      other.close();
    };
  },
  cleanup: () => {
    filePath = "";
    removeTempDirs();
  },
});

describe("KvStore file database", () => {
  afterEach(removeTempDirs);

  test("a new file is in WAL mode at the current schema version", () => {
    const path = join(makeTempDir(), "a", "node.sqlite");
    const store = KvStore.open(path);
    store.applyBatch([rowOf(1, 0, 1, 1)]);
    const other = new Database(path, { readonly: true });
    try {
      const mode = other.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get();
      const version = other.query<{ user_version: number }, []>("PRAGMA user_version").get();
      expect(mode?.journal_mode).toBe("wal");
      expect(version?.user_version).toBe(schemaVersion);
    } finally {
      other.close();
      store.close();
    }
  });

  test("a file from a newer schema is refused with StorageError", () => {
    const path = join(makeTempDir(), "node.sqlite");
    const db = new Database(path, { create: true });
    db.run(`PRAGMA user_version = ${schemaVersion + 1}`);
    db.close();
    expect(() => KvStore.open(path)).toThrow(StorageError);
    expect(() => KvStore.open(path)).toThrow(new RegExp(`schema version ${schemaVersion + 1}`));
  });

  test("a path that cannot hold a database is refused with StorageError", () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, "file"), "not a directory");
    expect(() => KvStore.open(join(dir, "file", "node.sqlite"))).toThrow(StorageError);
    writeFileSync(join(dir, "garbage.sqlite"), "x".repeat(4096));
    expect(() => KvStore.open(join(dir, "garbage.sqlite"))).toThrow(StorageError);
  });
});
