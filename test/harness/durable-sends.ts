// Reads a node's system calls as strace recorded them, for two checks of what every
// acknowledgement rests on (test/integration/cluster/durable-acks.test.ts):
// - checkDurableSends: a node says nothing over TCP (a client's answer, a replica's ack, a Raft
//   vote, a heartbeat) while something it wrote to its WAL is not yet on disk;
// - walSyncTimes: when each value written to the WAL was first on disk, to set against the time
//   its acknowledgement reached the client.
// A WAL write counts as on disk once an fsync or fdatasync of the WAL that began after the write
// has returned 0, on any of the process's threads. A SIGKILL cannot show a broken rule (the OS
// keeps the written pages), a power loss would; these show it without one. Pure: parsing only.
//
// Expected input: `strace -f -yy [-ttt -T -xx -s N] -e trace=<writes, syncs, sends>`, one system
// call per line, "<pid> [<time>] <name>(<fd><<path>>, ...) = <result> [<duration>]", or split in
// two where threads interleave ("... <unfinished ...>", then "<pid> [<time>] <... name
// resumed>... = <result> [<duration>]").

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

/** A system call as the trace shows it: its entry, its return, or both on one line. */
interface CallEvent {
  readonly pid: string;
  readonly name: string;
  /** The first argument's descriptor annotation (path or socket), or "". */
  readonly target: string;
  /** The line with the call's arguments (its entry's, when it was split). */
  readonly line: string;
  readonly enters: boolean;
  /** The return value, when this line shows the return. */
  readonly result: number | null;
  /** Wall clock seconds at which the call returned, when -ttt and -T give it. */
  readonly returnedAt: number | null;
}

// The annotation ends at the ">" before the next argument: a socket's holds "->" itself.
const ENTRY = /^(\d+)\s+(?:([\d.]+)\s+)?([a-z0-9_]+)\((?:\d+<(.*?)>(?=[,)\s]))?/;
const RESUMED = /^(\d+)\s+(?:([\d.]+)\s+)?<\.\.\. ([a-z0-9_]+) resumed>/;
const RESULT = /\)\s+=\s+(-?\d+)(?:\s[^<]*)?(?:<([\d.]+)>)?$/;

/** The calls of one process's trace in order; a resumed call carries its entry's target. */
function* callEvents(trace: string): Generator<CallEvent> {
  const open = new Map<string, { name: string; target: string; line: string }>();
  for (const line of trace.split("\n")) {
    const resumed = RESUMED.exec(line);
    if (resumed !== null) {
      const pid = resumed[1] as string;
      const entry = open.get(pid);
      open.delete(pid);
      const result = RESULT.exec(line);
      if (entry === undefined || result === null) continue;
      // A resumed line is printed when the call returns; its time is the return's. The
      // arguments (and the data written) are on the entry's line.
      const at = resumed[2] === undefined ? null : Number(resumed[2]);
      yield { pid, ...entry, enters: false, result: Number(result[1]), returnedAt: at };
      continue;
    }
    const entry = ENTRY.exec(line);
    if (entry === null) continue; // signals, exits, attach notes
    const pid = entry[1] as string;
    const name = entry[3] as string;
    const target = decodeHex(entry[4] ?? "");
    if (line.endsWith("<unfinished ...>")) {
      open.set(pid, { name, target, line });
      yield { pid, name, target, line, enters: true, result: null, returnedAt: null };
      continue;
    }
    const result = RESULT.exec(line);
    // A whole line's time is the call's start; -T adds how long it took.
    const returnedAt = entry[2] !== undefined && result?.[2] !== undefined
      ? Number(entry[2]) + Number(result[2])
      : null;
    yield {
      pid, name, target, line, enters: true,
      result: result === null ? null : Number(result[1]), returnedAt,
    };
  }
}

function isWal(target: string): boolean {
  return target.endsWith("-wal");
}

function isTcp(target: string): boolean {
  return target.startsWith("TCP:") || target.startsWith("TCPv6:");
}

const isWalWrite = (e: CallEvent) => isWal(e.target) && WRITES.has(e.name) && (e.result ?? 0) > 0;
const isWalSync = (e: CallEvent) => isWal(e.target) && SYNCS.has(e.name) && e.result === 0;

/** Checks one process's trace (every thread of it): see the top of this file. */
export function checkDurableSends(trace: string): DurableSendReport {
  let walWrites = 0;
  let synced = 0;
  let walSyncs = 0;
  let sends = 0;
  const violations: string[] = [];
  /** For a sync under way, by thread: the WAL writes done when it began, which it covers. */
  const syncFrom = new Map<string, number>();
  for (const event of callEvents(trace)) {
    if (event.enters) {
      if (isTcp(event.target) && WRITES.has(event.name)) {
        sends++;
        if (synced < walWrites) {
          // The call and its socket; the data (in hex with -xx) would only bury them.
          const call = event.line.slice(0, 120);
          violations.push(`${walWrites - synced} WAL write(s) not synced before: ${call}`);
        }
      }
      if (isWal(event.target) && SYNCS.has(event.name)) syncFrom.set(event.pid, walWrites);
    }
    if (event.result === null) continue;
    if (isWalWrite(event)) walWrites++;
    if (isWalSync(event)) {
      walSyncs++;
      synced = Math.max(synced, syncFrom.get(event.pid) ?? 0);
    }
  }
  return { walWrites, walSyncs, sends, violations };
}

/** The bytes of a call's first quoted argument, printed by strace -xx as "\x..\x..". */
function firstStringBytes(line: string): string {
  const quoted = /"((?:\\x[0-9a-f]{2})*)"/.exec(line);
  return quoted === null ? "" : decodeHex(quoted[1] as string);
}

/** Text with strace's "\xNN" escapes (-xx writes paths and data so) turned back into bytes. */
function decodeHex(text: string): string {
  return text.replace(/\\x([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * For each match of `pattern` (global) in the data the process wrote to its WAL: the wall clock
 * time, in seconds, at which it was first on disk (a successful WAL sync that began after the
 * write returned). A value written but never synced is absent. Needs -ttt -T -xx and an -s
 * larger than a page.
 */
export function walSyncTimes(trace: string, pattern: RegExp): Map<string, number> {
  const synced = new Map<string, number>();
  /** Values in WAL writes that returned and no sync has covered yet. */
  let pending: string[] = [];
  /** For a sync under way, by thread: the values it covers when it returns. */
  const covers = new Map<string, string[]>();
  for (const event of callEvents(trace)) {
    if (event.enters && isWal(event.target) && SYNCS.has(event.name)) {
      covers.set(event.pid, pending.slice());
    }
    if (event.result === null) continue;
    if (isWalWrite(event)) {
      for (const match of firstStringBytes(event.line).matchAll(pattern)) pending.push(match[0]);
    }
    if (isWalSync(event)) {
      const covered = covers.get(event.pid) ?? [];
      covers.delete(event.pid);
      if (event.returnedAt === null) throw new Error("walSyncTimes needs strace -ttt -T");
      for (const value of covered) {
        if (!synced.has(value)) synced.set(value, event.returnedAt);
      }
      // What it covered is on disk; what came after its start still waits for the next one.
      const done = new Set(covered);
      pending = pending.filter((value) => !done.has(value));
    }
  }
  return synced;
}
