// Per-test cleanup for tests that open sockets and peers: whatever a test registers is closed
// after it, newest first, whether it passed or failed.
import { afterEach } from "bun:test";

export interface Cleanups {
  /** Runs `cleanup` after the current test. */
  defer(cleanup: () => unknown): void;
  /** Closes `socket` after the current test; returns it for chaining. */
  track<T extends { close(): Promise<void> }>(socket: T): T;
  /** Disposes `resource` after the current test; returns it for chaining. */
  own<T extends AsyncDisposable>(resource: T): T;
}

/** Call once at the top level of a test file: registers the afterEach that runs the cleanups. */
export function useCleanups(): Cleanups {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    defer: (cleanup) => void cleanups.push(cleanup),
    track: (socket) => {
      cleanups.push(() => socket.close());
      return socket;
    },
    own: (resource) => {
      cleanups.push(() => resource[Symbol.asyncDispose]());
      return resource;
    },
  };
}
