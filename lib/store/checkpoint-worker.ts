// The worker thread of background-checkpoints.ts: copies committed WAL frames into the database
// file (a PASSIVE checkpoint, which never waits for and never blocks the node's connection) and
// fsyncs it, so the node's own checkpoints find almost nothing left to copy. Runs only when the
// node committed since its last pass. Messages: CheckpointWorkerStart in, CheckpointWorkerReport
// out (only when it stops).

import { Database } from "bun:sqlite";

export interface CheckpointWorkerStart {
  readonly path: string;
  readonly intervalMs: number;
  /** Int32 slot 0: commits the node has made; the worker compares it with the last it saw. */
  readonly commits: SharedArrayBuffer;
}

export type CheckpointWorkerReport = { readonly error: string };

declare const self: Worker;

self.onmessage = (event: MessageEvent<CheckpointWorkerStart>) => {
  const { path, intervalMs } = event.data;
  const commits = new Int32Array(event.data.commits);
  let db: Database;
  try {
    // The node made the file; a missing one is an error here, not a new database.
    db = new Database(path, { readwrite: true, create: false });
    // The checkpoint fsyncs the WAL before copying and the database after: the node resets the
    // WAL only once every frame in it is durable in the database.
    db.run("PRAGMA synchronous = FULL");
  } catch (error) {
    self.postMessage({ error: String(error) } satisfies CheckpointWorkerReport);
    return;
  }
  const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
  // From 0, not the count now: commits made before this thread started are copied too.
  let seen = 0;
  const timer = setInterval(() => {
    const now = Atomics.load(commits, 0);
    if (now === seen) return;
    seen = now;
    try {
      checkpoint.get();
    } catch (error) {
      clearInterval(timer);
      db.close();
      self.postMessage({ error: String(error) } satisfies CheckpointWorkerReport);
    }
  }, intervalMs);
};
