// Records a running process's writes, syncs and sends with strace (attached to every thread),
// for the checks in durable-sends.ts. Debian's `strace` package; ptrace needs root or
// CAP_SYS_PTRACE, which CI has.

import type { Subprocess } from "bun";
import { readFileSync } from "node:fs";
import { forEachLine, readUntil, timeouts } from "./wait.ts";

const TRACED_CALLS = "write,writev,pwrite64,pwritev,pwritev2,sendto,sendmsg,fsync,fdatasync";

export interface SyscallTrace {
  /** The trace so far (strace writes it as it goes; complete once the process has exited). */
  text(): string;
  /** Resolves when strace has ended (it does when the traced process exits). */
  readonly ended: Promise<number>;
  /** Stops tracing (the traced process runs on). */
  stop(): void;
}

/** Attaches strace to `pid` and every thread of it; resolves once it is attached. */
export async function traceSyscalls(pid: number, file: string): Promise<SyscallTrace> {
  let strace: Subprocess<"ignore", "ignore", "pipe">;
  try {
    strace = Bun.spawn(
      // -yy names each descriptor's file or socket; -ttt -T give when each call began and how
      // long it took; -xx -s 8192 print the data written, whole pages included, in hex.
      ["strace", "-f", "-yy", "-ttt", "-T", "-xx", "-s", "8192", "-e", `trace=${TRACED_CALLS}`,
        "-o", file, "-p", String(pid)],
      { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
    );
  } catch (error) {
    throw new Error(`cannot run strace (apt-get install strace): ${String(error)}`);
  }
  // "Process <pid> attached with <n> threads": from here on every call is recorded. Nothing
  // found means strace ended (it could not attach) or the deadline passed.
  const { found, text } = await readUntil(strace.stderr, timeouts.conditionMs,
    (read) => (read.includes("attached") ? true : undefined));
  if (found === undefined) {
    strace.kill("SIGKILL");
    throw new Error(`strace did not attach to process ${pid}: ${text}`);
  }
  // Drained from here on, so strace never waits on a full pipe.
  void forEachLine(strace.stderr, () => {});
  return {
    text: () => readFileSync(file, "utf8"),
    ended: strace.exited,
    stop: () => strace.kill("SIGKILL"),
  };
}
