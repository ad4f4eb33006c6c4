// Runs a command to completion and collects its output, with a deadline, killing it whatever
// happens: for CLI tests of node.ts, client.ts, the compiled binaries and Node fixtures.
import type { Subprocess } from "bun";
import { timeouts } from "./wait.ts";

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Text piped to standard input (a pipe, so programs see no terminal). */
  stdin?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  deadlineMs?: number;
  /** Sees the process as soon as it is spawned (e.g. to kill it from elsewhere). */
  onSpawn?: (proc: Subprocess) => void;
}

export async function runToEnd(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const deadlineMs = options.deadlineMs ?? timeouts.conditionMs;
  const proc = Bun.spawn([...argv], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  options.onSpawn?.(proc);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${argv.join(" ")} did not finish within ${deadlineMs} ms`)),
      deadlineMs,
    );
  });
  try {
    const [stdout, stderr, code] = await Promise.race([
      Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]),
      deadline,
    ]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    proc.kill("SIGKILL");
  }
}
