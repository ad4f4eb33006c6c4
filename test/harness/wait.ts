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
