// Shared helpers for the ZMTP socket tests (integration and interop): waiting on conditions with
// deadlines, raw TCP peers, event and rejection capture. No sleeps: everything waits for a
// condition and names it when the deadline passes.
import {
  type DecodedFrame,
  FrameDecoder,
  encodeCommand,
  encodeGreeting,
  encodeMessage,
  encodeReady,
} from "../../lib/zmtp/codec.ts";
import type { Message, SocketEvent } from "../../lib/zmtp/index.ts";
import { waitFor } from "./wait.ts";

export { waitFor };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** "04 0e 05 45" -> bytes; also accepts ascii runs written as 'text'. */
export function hex(spec: string): Uint8Array {
  const out: number[] = [];
  for (const token of spec.match(/'[^']*'|[0-9a-f]{2}/g) ?? []) {
    if (token.startsWith("'")) out.push(...encoder.encode(token.slice(1, -1)));
    else out.push(Number.parseInt(token, 16));
  }
  return Uint8Array.from(out);
}

export function text(frame: Uint8Array | undefined): string {
  return frame === undefined ? "<missing>" : decoder.decode(frame);
}

export function texts(message: Message): string[] {
  return message.map((f) => text(f));
}

export function bytes(input: string): Uint8Array {
  return encoder.encode(input);
}

export function filled(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

export class DeadlineError extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.name = "DeadlineError";
  }
}

/** Resolves with `promise`, or rejects naming `what` once `timeoutMs` has passed. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, timeoutMs)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every few ms until it holds; fails naming `what` after `timeoutMs`. */

/** True when `promise` settles within `ms`; used to show that something did NOT happen. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(() => true, () => true);
  const result = await Promise.race([settled, expired]);
  clearTimeout(timer);
  return result;
}

/**
 * The slow-joiner rule (docs/zmtp.md 7.14): keep publishing until the first message arrives,
 * bounded by a deadline. `firstMessage` must be a single pending receive, created once by the caller.
 */
export async function publishUntilReceived<T>(
  publish: () => Promise<unknown> | unknown,
  firstMessage: Promise<T>,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let arrived: { value: T } | undefined;
  let failure: unknown;
  firstMessage.then((value) => (arrived = { value }), (error) => (failure = error ?? "rejected"));
  while (arrived === undefined) {
    if (failure !== undefined) throw failure;
    if (Date.now() > deadline) throw new DeadlineError(what, timeoutMs);
    await publish();
    await settlesWithin(firstMessage, 10);
  }
  return arrived.value;
}

/** Records every event a socket reports. */
export function recordEvents(socket: {
  on(listener: (e: SocketEvent) => void): () => void;
}): SocketEvent[] {
  const events: SocketEvent[] = [];
  socket.on((event) => events.push(event));
  return events;
}

/** Captures process-level unhandled rejections and uncaught exceptions during a test. */
export function trackUnhandled(): { seen: unknown[]; stop(): void } {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    seen.push(reason);
  };
  const onException = (error: unknown): void => {
    seen.push(error);
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return {
    seen,
    stop() {
      process.off("unhandledRejection", onRejection);
      process.off("uncaughtException", onException);
    },
  };
}

interface RawSocket {
  write(data: Uint8Array): number;
  end(): void;
}

/** A raw TCP connection (client or accepted) for speaking, or mis-speaking, ZMTP by hand. */
export class RawPeer {
  readonly received: Uint8Array[] = [];
  isClosed = false;
  private socket: RawSocket | undefined;

  static async connect(endpoint: string): Promise<RawPeer> {
    const peer = new RawPeer();
    const match = /^tcp:\/\/([^:]+):(\d+)$/.exec(endpoint);
    if (match === null) throw new RangeError(`bad endpoint ${endpoint}`);
    peer.socket = await Bun.connect<undefined>({
      hostname: match[1] as string,
      port: Number(match[2]),
      data: undefined,
      socket: {
        data: (_s, chunk) => peer.onData(chunk),
        close: () => peer.onClose(),
        error: () => peer.onClose(),
      },
    });
    return peer;
  }

  /** Wraps a socket accepted by RawListener. */
  static adopt(socket: RawSocket): RawPeer {
    const peer = new RawPeer();
    peer.socket = socket;
    return peer;
  }

  onData(chunk: Uint8Array): void {
    this.received.push(new Uint8Array(chunk));
  }

  onClose(): void {
    this.isClosed = true;
  }

  /** Writes everything, waiting out partial writes (small test payloads only). */
  async write(data: Uint8Array): Promise<void> {
    let rest = data;
    const deadline = Date.now() + 5_000;
    while (rest.length > 0 && !this.isClosed) {
      const n = this.socket?.write(rest) ?? -1;
      if (n < 0) return;
      rest = rest.subarray(n);
      if (rest.length > 0) {
        if (Date.now() > deadline) throw new DeadlineError("raw write", 5_000);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
  }

  get receivedBytes(): number {
    return this.received.reduce((n, c) => n + c.length, 0);
  }

  close(): void {
    this.socket?.end();
  }
}

/** A plain TCP listener on port 0 whose connections the test drives by hand. */
export class RawListener {
  readonly endpoint: string;
  private readonly listener: Bun.TCPSocketListener<RawPeer | undefined>;
  private readonly accepted: RawPeer[] = [];
  private readonly waiting: ((peer: RawPeer) => void)[] = [];

  constructor() {
    this.listener = Bun.listen<RawPeer | undefined>({
      hostname: "127.0.0.1",
      port: 0,
      data: undefined,
      socket: {
        open: (socket) => {
          const peer = RawPeer.adopt(socket);
          socket.data = peer;
          const waiter = this.waiting.shift();
          if (waiter !== undefined) waiter(peer);
          else this.accepted.push(peer);
        },
        data: (socket, chunk) => socket.data?.onData(chunk),
        close: (socket) => socket.data?.onClose(),
        error: (socket) => socket.data?.onClose(),
      },
    });
    this.endpoint = `tcp://127.0.0.1:${this.listener.port}`;
  }

  accept(timeoutMs = 5_000): Promise<RawPeer> {
    const ready = this.accepted.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    const { promise, resolve } = Promise.withResolvers<RawPeer>();
    this.waiting.push(resolve);
    return within(promise, timeoutMs, "a connection at the raw listener");
  }

  stop(): void {
    this.listener.stop(true);
  }
}

export interface RawZmtpOptions {
  socketType: string;
  identity?: string;
  minor?: number;
}

/**
 * A hand-driven ZMTP peer over RawPeer: sends a greeting (any minor) and READY, then lets the
 * test send raw frames and read back the frames our socket wrote, decoded with FrameDecoder.
 */
export class RawZmtpPeer {
  readonly raw: RawPeer;
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);
  private readonly frames: DecodedFrame[] = [];
  private consumedChunks = 0;
  private greetingLeft = 64;

  private constructor(raw: RawPeer) {
    this.raw = raw;
  }

  static async connect(endpoint: string, options: RawZmtpOptions): Promise<RawZmtpPeer> {
    return RawZmtpPeer.greet(await RawPeer.connect(endpoint), options);
  }

  /** Speaks ZMTP on an existing raw connection: greeting with `minor`, then READY. */
  static async greet(raw: RawPeer, options: RawZmtpOptions): Promise<RawZmtpPeer> {
    const peer = new RawZmtpPeer(raw);
    const greeting = encodeGreeting();
    greeting[11] = options.minor ?? 1;
    const identity = options.identity === undefined ? undefined : bytes(options.identity);
    await raw.write(greeting);
    await raw.write(encodeReady(options.socketType, identity));
    return peer;
  }
  /** Frames decoded so far (commands included), after the peer's 64-byte greeting. */
  received(): DecodedFrame[] {
    while (this.consumedChunks < this.raw.received.length) {
      let chunk = this.raw.received[this.consumedChunks++] as Uint8Array;
      const skip = Math.min(this.greetingLeft, chunk.length);
      this.greetingLeft -= skip;
      chunk = chunk.subarray(skip);
      const result = this.decoder.push(chunk);
      if (result instanceof Error) throw result;
      this.frames.push(...result);
    }
    return this.frames;
  }

  /** Message frames only (commands dropped), as text. */
  messageTexts(): string[] {
    return this.received().flatMap((f) => (f.kind === "frame" ? [text(f.body)] : []));
  }

  async waitForFrames(count: number, what: string): Promise<DecodedFrame[]> {
    await waitFor(() => this.received().length >= count, { what });
    return this.received();
  }

  sendMessage(frames: (Uint8Array | string)[]): Promise<void> {
    return this.raw.write(encodeMessage(frames.map((f) => (typeof f === "string" ? bytes(f) : f))));
  }

  sendCommand(name: string, data: Uint8Array | string = new Uint8Array(0)): Promise<void> {
    return this.raw.write(encodeCommand(name, typeof data === "string" ? bytes(data) : data));
  }
}
