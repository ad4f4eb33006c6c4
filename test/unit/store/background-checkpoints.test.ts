// A node's database is checkpointed by a worker thread: its commits reach the database file
// although its own connection checkpoints only past 40,000 WAL pages, and a worker that cannot
// do its job says why.

import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../../../lib/raft/types.ts";
import { BackgroundCheckpoints } from "../../../lib/store/background-checkpoints.ts";
import { databaseFileName, NodeStorage } from "../../../lib/store/node-storage.ts";
import { waitFor } from "../../harness/wait.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-checkpoints-"));
  dirs.push(dir);
  return dir;
}

function entry(index: number): Entry {
  return { index, term: 1, type: "normal", data: "x".repeat(2000) };
}

test("a node's commits are copied into the database file off its connection", async () => {
  const dir = tempDir();
  const stopped: string[] = [];
  const storage = NodeStorage.open(dir, { onCheckpointsStopped: (reason) => stopped.push(reason) });
  try {
    const file = join(dir, databaseFileName);
    const before = statSync(file).size;
    // About 50 WAL pages: far below the connection's own checkpoint threshold.
    for (let index = 1; index <= 50; index++) {
      const hardState = { term: 1, vote: 0, commit: index };
      storage.persist({ hardState, entries: [entry(index)], snapshot: null, compaction: null }, []);
    }
    await waitFor(() => statSync(file).size > before + 50 * 2000, {
      what: "the database file to take the checkpointed pages",
    });
    expect(stopped).toEqual([]);
    expect(storage.raft.lastIndex()).toBe(50);
  } finally {
    storage.close();
  }
});

test("a worker that cannot open the database says why", async () => {
  const reasons: string[] = [];
  const checkpoints = new BackgroundCheckpoints(join(tempDir(), "missing.sqlite"), (reason) =>
    reasons.push(reason),
  );
  try {
    await waitFor(() => reasons.length > 0, { what: "the worker to report its failure" });
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toContain("unable to open database file");
  } finally {
    checkpoints.stop();
  }
});
