// Owns the one allocator setting a node runs with, which can only be given before the process
// starts: Bun's allocator (mimalloc) reads MIMALLOC_* variables once, at start-up. A node that
// finds the setting missing replaces itself (process.execve: same pid, same open files, same
// arguments) with a copy of itself that has it, before it has done anything else.
//
// Why: mimalloc gives memory a page held free for 100 ms back to the kernel, and takes it back
// with page faults when it is needed again. A node under writes frees and reuses such pages
// all the time, and every give-back is an madvise whose TLB flush interrupts the other core: in
// bench:cluster's SET case at 64 clients this churn cost about a quarter of the CPU. Never giving
// memory back keeps a node's RSS at its peak instead (docs/benchmarks.md, Cluster).

import { isCompiledEntry } from "../util/program.ts";

/** The variable and the value a node runs with (-1: never return freed pages to the kernel). */
export const allocatorEnv = { name: "MIMALLOC_PURGE_DELAY", value: "-1" } as const;

/**
 * The program and arguments that start this same program again, from `process.argv` (the
 * runtime, the entry point, then the arguments): a compiled executable is its own program and
 * takes the arguments alone; under `bun`, the runtime's own flags come before the script.
 */
export function restartCommand(
  execPath: string,
  argv: readonly string[],
  execArgv: readonly string[],
): string[] {
  return isCompiledEntry(argv[1] ?? "")
    ? [execPath, ...argv.slice(2)]
    : [execPath, ...execArgv, ...argv.slice(1)];
}

/**
 * Re-executes this process with the allocator setting unless the variable is already set (by
 * the user, to any value, or by an earlier pass through here). Returns only when it did not
 * re-execute: not on Linux (the setting was measured there only), or execve refused.
 */
export function reexecWithAllocatorEnv(): void {
  if (process.platform !== "linux" || process.env[allocatorEnv.name] !== undefined) return;
  if (typeof process.execve !== "function") return;
  const command = restartCommand(process.execPath, process.argv, process.execArgv);
  try {
    process.execve(process.execPath, command, {
      ...process.env,
      [allocatorEnv.name]: allocatorEnv.value,
    });
  } catch {
    // execve refused (the program moved, a limit): nothing has started yet, so run as we are.
  }
}
