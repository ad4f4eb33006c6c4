// Owns opening a node's sqlite database (directories, durability pragmas, migrations) and the
// translation of sqlite and file-system failures into StorageError, for every store that lives
// in that database. Knows nothing of what the tables hold.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Database, SQLiteError } from "bun:sqlite";
import { StorageError } from "../util/errors.ts";
import { configureConnection, isMemoryPath, migrate, type ConnectionOptions } from "./schema.ts";

/**
 * Opens (creating if needed, with its parent directories) the database at `path`, or a
 * private in-memory database for ":memory:", durable and migrated to the current schema.
 * Throws StorageError when the file cannot be opened, made durable (WAL) or migrated.
 */
export function openDatabase(path: string, connection: ConnectionOptions): Database {
  let db: Database | undefined;
  try {
    if (!isMemoryPath(path)) mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { create: true, readwrite: true });
    configureConnection(db, path, connection);
    migrate(db, path);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof StorageError) throw error;
    if (error instanceof SQLiteError || isFsError(error)) {
      throw new StorageError(`cannot open database ${path}: ${describeError(error)}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Runs `run`, turning a sqlite failure into StorageError; other errors pass unchanged. */
export function guardSqlite<T>(path: string, operation: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof SQLiteError)) throw error;
    throw new StorageError(`${operation} failed on ${path}: ${describeError(error)}`, {
      cause: error,
    });
  }
}

function isFsError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string";
}

function describeError(error: unknown): string {
  if (error instanceof SQLiteError && error.code !== undefined) {
    return `${error.message} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}
