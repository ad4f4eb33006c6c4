// Hostile peers for the limit tests: raw TCP connections that speak just enough ZMTP to be
// served, write as fast as the kernel takes bytes, and never read what comes back (their socket
// is paused, so the node's replies pile up in the kernel and then in the node). Also the RSS of
// a process, read from /proc.
import { readFileSync } from "node:fs";
import type { Socket } from "bun";
import { encodeCommand, encodeGreeting, encodeMessage, encodeReady } from "../../lib/zmtp/codec.ts";

/** Resident set size of a process, in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

export const MiB = 1024 * 1024;

/** `count` GET requests for `key` as one buffer of short ZMTP messages, ids from `firstId`. */
export function gets(key: string, count: number, firstId: number): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const body = encoder.encode(JSON.stringify({ id: firstId + i, op: "GET", key }));
    parts.push(Uint8Array.of(0, body.length), body);
  }
  return Buffer.concat(parts);
}

/** A raw ZMTP peer under the test's control. */
export class RawPeer {
  isClosed = false;
  /** Bytes received while reading (only when created with `reads`). */
  received = 0;
  private socket: Socket<undefined> | undefined;
  private queue: Uint8Array[] = [];
  private drainWaiters: (() => void)[] = [];

  /**
   * Connects; with `reads` false the socket is paused at once and never reads. `handshake`
   * sends our greeting and READY for `socketType` first (the node's greeting is never needed).
   */
  static async connect(
    port: number,
    options: { reads?: boolean; socketType?: string; handshake?: boolean } = {},
  ): Promise<RawPeer> {
    const peer = new RawPeer();
    peer.socket = await Bun.connect<undefined>({
      hostname: "127.0.0.1",
      port,
      data: undefined,
      socket: {
        data: (_s, chunk) => void (peer.received += chunk.length),
        drain: () => peer.flush(),
        close: () => peer.onClosed(),
        error: () => peer.onClosed(),
      },
    });
    if (options.reads !== true) peer.socket.pause();
    if (options.handshake !== false) {
      peer.send(encodeGreeting());
      peer.send(encodeReady(options.socketType ?? "DEALER", new Uint8Array(0)));
    }
    return peer;
  }

  /** Queues bytes; they go out as fast as the kernel takes them. */
  send(bytes: Uint8Array): void {
    if (this.isClosed) return;
    this.queue.push(bytes);
    if (this.queue.length === 1) this.flush();
  }

  sendMessage(frames: (string | Uint8Array)[]): void {
    const encoder = new TextEncoder();
    this.send(encodeMessage(frames.map((f) => (typeof f === "string" ? encoder.encode(f) : f))));
  }

  sendCommand(name: string, data: Uint8Array): void {
    this.send(encodeCommand(name, data));
  }

  /** Starts reading (what the node sent meanwhile waited in the kernel). */
  startReading(): void {
    this.socket?.resume();
  }

  /** Bytes not yet taken by the kernel. */
  get unsentBytes(): number {
    let n = 0;
    for (const chunk of this.queue) n += chunk.length;
    return n;
  }

  /** Resolves once the kernel has taken everything queued (or the connection closed). */
  drained(): Promise<void> {
    if (this.queue.length === 0 || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  close(): void {
    this.socket?.terminate();
    this.onClosed();
  }

  private flush(): void {
    while (this.queue.length > 0 && !this.isClosed) {
      const head = this.queue[0] as Uint8Array;
      const n = this.socket?.write(head) ?? -1;
      if (n < 0) return this.onClosed();
      if (n < head.length) {
        this.queue[0] = head.subarray(n);
        return;
      }
      this.queue.shift();
    }
    this.wakeDrainWaiters();
  }

  private onClosed(): void {
    this.isClosed = true;
    this.queue = [];
    this.wakeDrainWaiters();
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}

/** Samples a process's RSS every `intervalMs` until stopped; keeps the largest. */
export class RssSampler {
  peak = 0;
  readonly samples: number[] = [];
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(pid: number, intervalMs = 100) {
    const sample = (): void => {
      try {
        const rss = rssBytes(pid);
        this.samples.push(rss);
        this.peak = Math.max(this.peak, rss);
      } catch {
        // The process is gone; the test notices on its own.
      }
    };
    sample();
    this.timer = setInterval(sample, intervalMs);
  }

  stop(): number {
    clearInterval(this.timer);
    return this.peak;
  }
}
