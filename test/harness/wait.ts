// Waiting on conditions with deadlines: the one place tests wait, so no test sleeps or picks
// its own timeouts.

/** The harness's single place for timeouts: tests never pick their own. */
export const timeouts = {
  readyMs: 15_000,
  conditionMs: 10_000,
} as const;

export interface WaitOptions {
  timeoutMs?: number;
  what: string;
  intervalMs?: number;
}

/** Polls `condition` until it is truthy; fails naming `what` at the deadline. */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? timeouts.conditionMs);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await Bun.sleep(options.intervalMs ?? 5);
  }
  throw new Error(`timed out waiting for ${options.what}${lastError ? `: ${String(lastError)}` : ""}`);
}

/** Calls `onLine` with every non-blank line of `stream` (without its newline) until it ends. */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim() !== "") onLine(line);
    }
  }
}

/**
 * Reads `stream` until `find` recognises what it waits for in the text read so far (anything but
 * undefined), the stream ends, or `deadlineMs` passes. The reader's lock is released at the end,
 * so the caller can go on draining the stream.
 */
export async function readUntil<T>(
  stream: ReadableStream<Uint8Array>,
  deadlineMs: number,
  find: (text: string) => T | undefined,
): Promise<{ found: T | undefined; text: string }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + deadlineMs;
  try {
    while (Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<{ done: true; value: undefined }>((resolve) => {
        timer = setTimeout(() => resolve({ done: true, value: undefined }),
          Math.max(1, deadline - Date.now()));
      });
      // The timer is cleared so a script using the harness is not kept alive by it.
      const chunk = await Promise.race([reader.read(), expired]).finally(() => clearTimeout(timer));
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
      const found = find(text);
      if (found !== undefined) return { found, text };
    }
    return { found: undefined, text };
  } finally {
    reader.releaseLock();
  }
}
