// Checks, on a node's system calls as strace recorded them, the rule every acknowledgement rests
// on: a node says nothing over TCP (a client's answer, a replica's ack, a Raft vote, a
// heartbeat) while something it wrote to its WAL is not yet on disk. A WAL write counts as on
// disk once an fsync or fdatasync of the WAL that began after the write has returned 0, on any
// of the process's threads. A SIGKILL cannot show a broken rule (the OS keeps the written pages),
// a power loss would; this shows it without one. Pure: parsing and counting only.
//
// Expected input: `strace -f -yy -e trace=<writes, syncs, sends>`, one system call per line,
// "<pid> <name>(<fd><<path>>, ...) = <result>", or split in two where threads interleave
// ("... <unfinished ...>" then "<pid> <... name resumed>... = <result>"). A -t/-tt/-ttt time
// after the pid is allowed.

/** System calls that write data: to the WAL they dirty it, to a TCP socket they send. */
const WRITES = new Set(["write", "writev", "pwrite64", "pwritev", "pwritev2", "sendto", "sendmsg"]);
const SYNCS = new Set(["fsync", "fdatasync"]);

export interface DurableSendReport {
  /** WAL writes that returned success. */
  readonly walWrites: number;
  /** WAL syncs that returned 0. */
  readonly walSyncs: number;
  /** Sends to TCP sockets checked. */
  readonly sends: number;
  /** Each send made while a WAL write was not yet synced: the line, and how many were not. */
  readonly violations: readonly string[];
}

interface Call {
  readonly pid: string;
  readonly name: string;
  /** The first argument's descriptor annotation (path or socket), or "". */
  readonly target: string;
}

// The annotation ends at the ">" before the next argument: a socket's holds "->" itself.
const ENTRY = /^(\d+)\s+(?:[\d.:]+\s+)?([a-z0-9_]+)\((?:\d+<(.*?)>(?=[,)\s]))?/;
const RESUMED = /^(\d+)\s+(?:[\d.:]+\s+)?<\.\.\. ([a-z0-9_]+) resumed>(.*)$/;
const RESULT = /\)\s+=\s+(-?\d+)(?:\s.*)?$/;

function isWal(target: string): boolean {
  return target.endsWith("-wal");
}

function isTcp(target: string): boolean {
  return target.startsWith("TCP:") || target.startsWith("TCPv6:");
}

/** Checks one process's trace (every thread of it); see the top of this file. */
export function checkDurableSends(trace: string): DurableSendReport {
  let walWritesDone = 0;
  let synced = 0;
  let walSyncs = 0;
  let sends = 0;
  const violations: string[] = [];
  /** Calls entered but not yet returned, by thread. */
  const open = new Map<string, Call & { syncFrom: number }>();

  const enter = (call: Call, line: string): number => {
    if (isTcp(call.target) && WRITES.has(call.name)) {
      sends++;
      if (synced < walWritesDone) {
        violations.push(`${walWritesDone - synced} WAL write(s) not synced before: ${line}`);
      }
    }
    // What a sync entered now covers once it returns: every WAL write already done.
    return walWritesDone;
  };
  const finish = (call: Call, syncFrom: number, result: number): void => {
    if (!isWal(call.target)) return;
    if (WRITES.has(call.name) && result > 0) walWritesDone++;
    if (SYNCS.has(call.name) && result === 0) {
      walSyncs++;
      synced = Math.max(synced, syncFrom);
    }
  };

  for (const line of trace.split("\n")) {
    const resumed = RESUMED.exec(line);
    if (resumed !== null) {
      const pid = resumed[1] as string;
      const call = open.get(pid);
      open.delete(pid);
      const result = RESULT.exec(line);
      if (call !== undefined && result !== null) finish(call, call.syncFrom, Number(result[1]));
      continue;
    }
    const entry = ENTRY.exec(line);
    if (entry === null) continue; // signals, exits, attach notes
    const call: Call = { pid: entry[1] as string, name: entry[2] as string, target: entry[3] ?? "" };
    const syncFrom = enter(call, line);
    if (line.endsWith("<unfinished ...>")) {
      open.set(call.pid, { ...call, syncFrom });
      continue;
    }
    const result = RESULT.exec(line);
    if (result !== null) finish(call, syncFrom, Number(result[1]));
  }
  return { walWrites: walWritesDone, walSyncs, sends, violations };
}
