// Where the client's results and messages go. Every write is awaited until the bytes are handed
// to the operating system, so exiting right after the last one loses nothing: Bun's
// process.stdout reports a pipe as drained while 64 KiB of a larger write are still queued,
// and a process that exits then cuts its output short.
import type { Writable } from "node:stream";

export interface OutputSink {
  /** Resolves once `text` is written out. Writes are kept in order. */
  write(text: string): Promise<void>;
}

/** A sink on Bun's file handle of stdout or stderr: Bun.write resolves only when every byte has
 * gone to the descriptor, whatever it is (terminal, pipe with a slow reader, file). A reader
 * that goes away (EPIPE) ends the writing quietly: there is nobody left to tell. */
export function fileSink(file: Bun.BunFile): OutputSink {
  let tail: Promise<void> = Promise.resolve();
  let isBroken = false;
  return {
    write(text: string): Promise<void> {
      tail = tail.then(async () => {
        if (isBroken || text === "") return;
        try {
          await Bun.write(file, text);
        } catch {
          isBroken = true;
        }
      });
      return tail;
    },
  };
}

/** A sink on a Node stream (tests, and anything else that is not a file descriptor). */
export function streamSink(stream: NodeJS.WritableStream | Writable): OutputSink {
  return {
    write: (text) =>
      new Promise<void>((resolve) => {
        stream.write(text, () => resolve());
      }),
  };
}
