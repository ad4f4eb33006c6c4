// Test helpers for lib/store's migrations: the change log as schemas 2 to 5 made it, so a test
// can turn a freshly made (current) file back into an older one. No I/O of its own.

import type { Database } from "bun:sqlite";

/** The change log of schema 5: one table keyed by (partition, seq), and its writer index. */
export const schema5Changes = `
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

/**
 * Gives a new, empty file schema 5's change log (no log tables yet; the current schema has no
 * `writers` table, which schema 6 added and schema 7 dropped).
 */
export function rewindChangeLogToSchema5(db: Database): void {
  db.run(schema5Changes);
}
