// Reaping a script that starts node processes itself (a benchmark, `npm start`): its children
// are found through /proc, so a test can kill them even when the script hangs or fails.
import { readFileSync } from "node:fs";

/** The process ids of `pid`'s children, or none once it is gone. */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
    return text === "" ? [] : text.split(" ").map(Number);
  } catch {
    return [];
  }
}

/** Stops the script (so it starts nothing more), kills the processes it started, then it. */
export function killTree(pid: number): void {
  try {
    process.kill(pid, "SIGSTOP");
  } catch {
    return; // already gone, and its children with it (the scripts kill them before they exit)
  }
  for (const child of childrenOf(pid)) {
    try {
      process.kill(child, "SIGKILL");
    } catch {
      // exited on its own meanwhile
    }
  }
  process.kill(pid, "SIGKILL");
}

export interface ScriptOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `args` in `cwd` to its end and returns what it printed; past `deadlineMs` it fails. Either
 * way the script and every process it started are killed before this returns.
 */
export async function runScript(args: string[], cwd: string, deadlineMs: number)
  : Promise<ScriptOutcome> {
  const proc = Bun.spawn(args, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${args.join(" ")} ran over ${deadlineMs} ms`)),
        deadlineMs);
    });
    const [stdout, stderr, code] = await Promise.race([
      Promise.all([
        new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited,
      ]),
      deadline,
    ]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    killTree(proc.pid);
  }
}
