// Keeps sqlite's WAL checkpoints off the node's event loop. A checkpoint copies committed WAL
// frames into the database file and fsyncs it. sqlite runs one on the committing connection
// whenever the WAL passes wal_autocheckpoint pages: under SET load at 64 clients that stalled
// each node's loop for 10-20 ms about twice a second, the slowest 1 % of SETs. A worker thread
// with a connection of its own checkpoints every CHECKPOINT_INTERVAL_MS instead. The node's own
// automatic checkpoint still runs, rarely (schema.ts, WAL_AUTOCHECKPOINT_PAGES): it finds the
// frames already copied, but its fsync of the database file flushes what the worker copied
// since its own fsync, tens of ms under sustained writes. It is what lets the WAL start over
// from its beginning, which needs every frame copied with no commit in between, and only the
// node's connection (the one writer) can arrange that.
// If the worker cannot start or fails, the node goes on with its own checkpoints, as before.

import type { CheckpointWorkerReport, CheckpointWorkerStart } from "./checkpoint-worker.ts";

/** How often the worker looks for new commits; a pass copies what they wrote. */
export const CHECKPOINT_INTERVAL_MS = 50;

/**
 * The worker's module. Run from source, it sits beside this file. A compiled node (scripts/build
 * names the worker as a second entry point) runs every module from its root, where the worker
 * keeps its path in the repository.
 */
function workerUrl(): string {
  const isCompiled = import.meta.url.startsWith("file:///$bunfs/");
  const path = isCompiled ? "./lib/store/checkpoint-worker.ts" : "./checkpoint-worker.ts";
  return new URL(path, import.meta.url).href;
}

export class BackgroundCheckpoints {
  /** Null once stopped, or when the thread could not be made at all. */
  private worker: Worker | null = null;
  /** Slot 0 counts commits; the worker checkpoints only when it moved. */
  private readonly commits = new Int32Array(new SharedArrayBuffer(4));

  /** Starts the worker on the database at `path`; `onError` hears once why it stopped. */
  constructor(path: string, onError: (message: string) => void) {
    let worker: Worker;
    try {
      // ref false: the node's process must not stay alive for this thread alone.
      worker = new Worker(workerUrl(), { ref: false });
    } catch (error) {
      onError(String(error));
      return;
    }
    this.worker = worker;
    const fail = (message: string): void => {
      if (this.worker !== worker) return;
      this.stop();
      onError(message);
    };
    worker.addEventListener("error", (event) => fail(event.message));
    worker.addEventListener("message", (event: MessageEvent<CheckpointWorkerReport>) =>
      fail(event.data.error),
    );
    const start: CheckpointWorkerStart = {
      path,
      intervalMs: CHECKPOINT_INTERVAL_MS,
      commits: this.commits.buffer as SharedArrayBuffer,
    };
    worker.postMessage(start);
  }

  /** Tells the worker there is something to copy. */
  noteCommit(): void {
    Atomics.add(this.commits, 0, 1);
  }

  stop(): void {
    this.worker?.terminate();
    this.worker = null;
  }
}
