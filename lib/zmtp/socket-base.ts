// What every socket type shares: binding, connecting with reconnect, per-peer pipes with
// bounded outgoing queues, a bounded incoming queue with back-pressure, events, and close with
// linger. Socket types override the hooks to give the semantics of ROUTER, DEALER, PUB and SUB.
import type { TCPSocketListener } from "bun";
import { HighWaterMarkError, SocketClosedError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { toBytes } from "./codec.ts";
import {
  type BunSocket,
  type CloseReason,
  Connection,
  type ConnectionOwner,
  describeClose,
} from "./connection.ts";
import { formatEndpoint, parseEndpoint } from "./endpoint.ts";
import { FairQueue } from "./fair-queue.ts";
import {
  type CurveOptions,
  type ResolvedOptions,
  type SocketOptions,
  socketDefaults,
} from "./options.ts";
import type { SocketType } from "./socket-types.ts";
import type { CurveSecurity, Oversized } from "./session.ts";
import { ZmtpProtocolError } from "../util/errors.ts";
import { nullLogger } from "../util/log.ts";

export type Message = Uint8Array[];
export type FrameInput = Uint8Array | string;

export type SocketEvent =
  | { type: "listening"; endpoint: string }
  | { type: "accepted"; endpoint: string }
  | { type: "connected"; endpoint: string }
  /** A dial failed or a connection was lost: the next dial in `delayMs` (CONNECT_RETRIED). */
  | { type: "connect-retry"; endpoint: string; delayMs: number }
  | { type: "disconnected"; endpoint: string; reason: string }
  | { type: "handshake-failed"; endpoint: string; reason: string }
  | { type: "protocol-error"; endpoint: string; reason: string };

/** Bytes we let a connection's write buffer hold before we stop feeding it from the queue. */
const WRITE_BACKLOG_BYTES_MAX = 256 * 1024;
/** Messages are coalesced into writes of about this size. */
const WRITE_BATCH_BYTES = 64 * 1024;
/** A pipe holding this many messages is flushed at once instead of at the end of the tick. */
const EAGER_FLUSH_MESSAGES = 256;
/** Reused for every batch that fits (a batch overshoots the target by at most one message). */
const scratch = new Uint8Array(2 * WRITE_BATCH_BYTES);
/**
 * Messages this small are queued whatever the byte limits say (the message-count HWM still
 * holds): an error answer must get through to a peer whose big replies no longer fit.
 */
export const SMALL_MESSAGE_BYTES = 1024;

/** Bytes a message holds in memory: its frames' bodies. */
export function messageBodyBytes(message: readonly Uint8Array[]): number {
  let n = 0;
  for (const frame of message) n += frame.length;
  return n;
}

const EMPTY_MESSAGE: Message = [];

/** A peer's outgoing queue. On the connecting side it outlives connections (docs/zmtp.md 6). */
export class Pipe {
  readonly queue: Message[] = [];
  private head = 0;
  conn: Connection | null = null;
  /** Set by the socket type: ROUTER routing key, PUB subscriptions. */
  routingKey = "";
  /** ROUTER: the same id as bytes, kept to avoid rebuilding it for every received message. */
  routingId: Uint8Array = new Uint8Array(0);
  readonly subscriptions: Uint8Array[] = [];
  /** Bytes of the messages in `queue` not yet handed to the connection. */
  private queuedBytes = 0;
  /** ROUTER serving requests: requests delivered and not yet answered, and their bytes. */
  inFlight = 0;
  inFlightBytes = 0;
  /** ROUTER serving requests: received but not admitted yet (reading is paused meanwhile). */
  readonly held: Message[] = [];
  private flushScheduled = false;
  private readonly owner: SocketBase;
  readonly endpoint: string;
  readonly isPersistent: boolean;

  constructor(owner: SocketBase, endpoint: string, isPersistent: boolean) {
    this.owner = owner;
    this.endpoint = endpoint;
    this.isPersistent = isPersistent;
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  get hasRoom(): boolean {
    return this.hasRoomFor(Number.POSITIVE_INFINITY);
  }

  /** Bytes this peer holds here: queued, in the write buffer, and requests in flight. */
  get outstandingBytes(): number {
    return this.queuedBytes + (this.conn?.backlogBytes ?? 0) + this.inFlightBytes;
  }

  /**
   * Whether a message of `bytes` may be queued: under the message HWM, and (unless it is
   * small) while this peer and the whole socket are under their byte limits. The check is made
   * before adding, so each overshoots by at most one message.
   */
  hasRoomFor(bytes: number, released = 0): boolean {
    const { sendHwm, sendHwmBytes, sendBytesMax } = this.owner.options;
    if (this.length >= sendHwm) return false;
    if (bytes <= SMALL_MESSAGE_BYTES) return true;
    return (
      this.outstandingBytes - released < sendHwmBytes &&
      this.owner.bytesTotal - released < sendBytesMax
    );
  }

  get isIdle(): boolean {
    return this.length === 0 && (this.conn === null || this.conn.backlogBytes === 0);
  }

  push(message: Message): void {
    this.queue.push(message);
    const bytes = messageBodyBytes(message);
    this.queuedBytes += bytes;
    this.owner.adjustBytes(bytes);
    // A burst written in one tick goes out in batches before it can reach the HWM, so the HWM
    // still means "the network is not keeping up", not "the application sent quickly".
    if (this.length >= this.eagerFlushLength) this.flush();
    else this.scheduleFlush();
  }

  private get eagerFlushLength(): number {
    const halfHwm = Math.floor(this.owner.options.sendHwm / 2);
    return Math.max(1, Math.min(EAGER_FLUSH_MESSAGES, halfHwm));
  }

  clear(): void {
    this.queue.length = 0;
    this.head = 0;
    this.owner.adjustBytes(-this.queuedBytes);
    this.queuedBytes = 0;
  }

  /**
   * Flushes after the current tick's work (setImmediate, not a microtask): everything the
   * application sends while handling one batch of input then leaves in one write. A write per
   * message made the kernel call 90% of the cost of pipelined traffic.
   */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Moves queued messages into the connection, several per write, while it has room. */
  flush(): void {
    const conn = this.conn;
    if (conn === null || !conn.isReady) return;
    const before = this.length;
    while (this.length > 0 && conn.backlogBytes < WRITE_BACKLOG_BYTES_MAX && !conn.isClosed) {
      let end = this.head;
      let bytes = 0;
      let bodyBytes = 0;
      while (end < this.queue.length && bytes < WRITE_BATCH_BYTES) {
        const message = this.queue[end] as Message;
        bytes += conn.messageBytes(message);
        bodyBytes += messageBodyBytes(message);
        end++;
      }
      // Encode into the shared scratch buffer: Connection.write copies whatever it must keep.
      const out = bytes <= scratch.length ? scratch.subarray(0, bytes) : new Uint8Array(bytes);
      let at = 0;
      for (let i = this.head; i < end; i++) {
        at = conn.encodeMessage(this.queue[i] as Message, out, at);
      }
      // Every queued message is dropped from the queue (a reference per slot would pin it).
      for (let i = this.head; i < end; i++) this.queue[i] = EMPTY_MESSAGE;
      this.head = end;
      this.queuedBytes -= bodyBytes;
      this.owner.adjustBytes(-bodyBytes);
      conn.write(out);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    } else if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    if (this.length < before) this.owner.onPipeRoom(this);
  }
}

interface ConnectTarget {
  endpoint: string;
  host: string;
  port: number;
  pipe: Pipe;
  attempt: number;
  /** Set while waiting to dial again (reconnect backoff), undefined otherwise. */
  timer: ReturnType<typeof setTimeout> | undefined;
  isActive: boolean;
}

export abstract class SocketBase implements ConnectionOwner {
  readonly options: ResolvedOptions;
  protected readonly log: Logger;
  protected readonly pipes = new Set<Pipe>();
  private readonly listeners: TCPSocketListener<Connection | undefined>[] = [];
  private readonly targets = new Map<string, ConnectTarget>();
  private readonly pipeOf = new Map<Connection, Pipe>();
  private readonly eventListeners = new Set<(event: SocketEvent) => void>();
  /** Received messages, fair-queued per pipe (RFC 28: one message per peer in turn). */
  private readonly inbox = new FairQueue<Pipe, Message>();
  private receivers: { resolve: (m: Message) => void; reject: (e: Error) => void }[] = [];
  private isReadingPaused = false;
  private roomWaiters: (() => void)[] = [];
  /** Bytes held for all peers: queued, in write buffers, requests in flight (Pipe). */
  private bytesHeld = 0;
  /** Connections accepted on our listeners and still open, handshaking or not. */
  private acceptedCount = 0;
  private readonly acceptedConns = new Set<Connection>();
  /** Warnings already logged, so a flood logs each kind once per interval. */
  private readonly warnedAt = new Map<string, number>();
  private isClosed = false;
  protected abstract readonly socketType: SocketType;

  constructor(options: SocketOptions = {}) {
    const routingId =
      options.routingId === undefined ? new Uint8Array(0) : toBytes(options.routingId);
    if (routingId.length > 255) throw new RangeError("routingId longer than 255 bytes");
    if (options.curve !== undefined) {
      checkCurveOptions(options.curve, options.handshakeTimeoutMs);
    }
    this.options = {
      ...socketDefaults,
      ...stripUndefined(options),
      routingId,
      logger: options.logger ?? nullLogger,
    };
    this.log = this.options.logger;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes held for all peers (see Pipe.outstandingBytes); compared with sendBytesMax. */
  get bytesTotal(): number {
    return this.bytesHeld;
  }

  /** Called by pipes, connections and socket types as the bytes they hold change. */
  adjustBytes(delta: number): void {
    this.bytesHeld += delta;
  }

  /** Connections accepted and not yet closed, including those still in their handshake. */
  get acceptedConnectionCount(): number {
    return this.acceptedCount;
  }

  /** Connections open now, accepted and dialled. */
  get connectionCount(): number {
    return this.pipeOf.size;
  }

  on(listener: (event: SocketEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Binds a TCP endpoint; port 0 picks a free port. Resolves to the endpoint actually bound. */
  async bind(endpoint: string): Promise<string> {
    this.assertOpen();
    const { host, port } = parseEndpoint(endpoint);
    const listener = Bun.listen<Connection | undefined>({
      hostname: host,
      port,
      socket: this.socketHandlers(() => undefined),
      data: undefined,
    });
    this.listeners.push(listener);
    const bound = formatEndpoint(host, listener.port);
    this.emit({ type: "listening", endpoint: bound });
    return bound;
  }

  /** Connects to an endpoint, now or whenever it appears; reconnects after every loss. */
  connect(endpoint: string): void {
    this.assertOpen();
    if (this.targets.has(endpoint)) return;
    const { host, port } = parseEndpoint(endpoint);
    const pipe = new Pipe(this, endpoint, true);
    const target: ConnectTarget = {
      endpoint,
      host,
      port,
      pipe,
      attempt: 0,
      timer: undefined,
      isActive: true,
    };
    this.targets.set(endpoint, target);
    this.addPipe(pipe);
    this.dial(target);
  }

  /**
   * Dials `endpoint` now if it is waiting out a reconnect backoff, for a caller that has just
   * learned the peer is back by another way (it heard from it). The backoff is not reset: if
   * this dial fails too, the next wait is as long as it would have been.
   */
  reconnectNow(endpoint: string): void {
    const target = this.targets.get(endpoint);
    if (target === undefined || target.timer === undefined || this.isClosed) return;
    clearTimeout(target.timer);
    target.timer = undefined;
    this.dial(target);
  }

  disconnect(endpoint: string): void {
    const target = this.targets.get(endpoint);
    if (target === undefined) return;
    target.isActive = false;
    clearTimeout(target.timer);
    this.targets.delete(endpoint);
    target.pipe.conn?.close({ kind: "local" });
    this.removePipe(target.pipe);
  }

  /**
   * Hands every queued message to the kernel now instead of at the end of the tick: for a caller
   * about to block the thread (a synchronous fsync) that wants its messages on the wire first.
   */
  flushNow(): void {
    for (const pipe of this.pipes) pipe.flush();
  }

  /** Flushes queued messages for up to lingerMs, then closes every connection and listener. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const listener of this.listeners) listener.stop(false);
    for (const target of this.targets.values()) {
      target.isActive = false;
      clearTimeout(target.timer);
    }
    // Hand what was sent before close() to the kernel now: flushes are otherwise deferred to
    // the end of the tick, and lingerMs 0 would discard them.
    for (const pipe of this.pipes) pipe.flush();
    const deadline = Date.now() + this.options.lingerMs;
    while (Date.now() < deadline && [...this.pipes].some((p) => p.conn?.isReady && !p.isIdle)) {
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const pipe of [...this.pipes]) pipe.conn?.close({ kind: "local" });
    for (const listener of this.listeners) listener.stop(true);
    this.pipes.clear();
    const error = new SocketClosedError();
    for (const r of this.receivers) r.reject(error);
    this.receivers = [];
    for (const w of this.roomWaiters) w();
    this.roomWaiters = [];
  }

  // ---- receiving -------------------------------------------------------------------------

  protected receiveMessage(): Promise<Message> {
    const message = this.inbox.shift();
    if (message !== undefined) {
      this.maybeResumeReading();
      return Promise.resolve(message);
    }
    if (this.isClosed) return Promise.reject(new SocketClosedError());
    return new Promise((resolve, reject) => this.receivers.push({ resolve, reject }));
  }

  protected async *iterate(): AsyncGenerator<Message> {
    while (true) {
      try {
        yield await this.receiveMessage();
      } catch (error) {
        if (error instanceof SocketClosedError) return;
        throw error;
      }
    }
  }

  /** Delivers a message to a waiting receive() or the inbox, pausing reads above receiveHwm. */
  protected deliver(pipe: Pipe, message: Message): void {
    const receiver = this.receivers.shift();
    if (receiver !== undefined) {
      receiver.resolve(message);
      return;
    }
    this.inbox.push(pipe, message);
    if (!this.isReadingPaused && this.inbox.size >= this.options.receiveHwm) {
      this.isReadingPaused = true;
      for (const pipe of this.pipes) pipe.conn?.pause("inbox");
    }
  }

  private maybeResumeReading(): void {
    if (!this.isReadingPaused) return;
    if (this.inbox.size > this.options.receiveHwm / 2) return;
    this.isReadingPaused = false;
    for (const pipe of this.pipes) pipe.conn?.resume("inbox");
  }

  // ---- sending helpers -------------------------------------------------------------------

  protected toMessage(frames: readonly FrameInput[]): Message {
    if (frames.length === 0) throw new RangeError("a message needs at least one frame");
    return frames.map(toBytes);
  }

  /** Resolves when some pipe may have room again (or the socket closed). */
  protected waitForRoom(): Promise<void> {
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  onPipeRoom(_pipe: Pipe): void {
    if (this.roomWaiters.length === 0) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  protected assertOpen(): void {
    if (this.isClosed) throw new SocketClosedError();
  }

  protected queueFull(pipe: Pipe): HighWaterMarkError {
    return new HighWaterMarkError(
      `queue to ${pipe.endpoint} is full (${this.options.sendHwm} messages)`,
    );
  }

  // ---- hooks for socket types --------------------------------------------------------------

  /** A pipe joined (connecting side: at connect(); binding side: when the handshake is done). */
  protected addPipe(pipe: Pipe): void {
    this.pipes.add(pipe);
  }

  protected removePipe(pipe: Pipe): void {
    this.pipes.delete(pipe);
    pipe.clear();
  }

  /** The peer's handshake completed on this pipe; return false to refuse it. */
  protected abstract attach(pipe: Pipe, conn: Connection): boolean;

  protected abstract detach(pipe: Pipe): void;

  protected abstract onPeerMessage(pipe: Pipe, frames: Uint8Array[]): void;

  /**
   * A message over maxMessageBytes was read past (oversizedBytesMax). Socket types that cannot
   * answer it close the connection, as for any message over the limit.
   */
  protected onPeerOversized(pipe: Pipe, _frames: Uint8Array[], oversized: Oversized): void {
    const error = new ZmtpProtocolError(
      `message of ${oversized.bytes} bytes exceeds the limit of ${oversized.limit}`,
    );
    pipe.conn?.close({ kind: "protocol", error });
  }

  protected onPeerSubscription(_pipe: Pipe, _prefix: Uint8Array, _isSubscribe: boolean): void {}

  // ---- ConnectionOwner --------------------------------------------------------------------

  onReady(conn: Connection): void {
    let pipe = this.pipeOf.get(conn);
    const isAccepted = pipe === undefined;
    if (pipe === undefined) {
      pipe = new Pipe(this, conn.endpoint, false);
      this.pipeOf.set(conn, pipe);
    }
    pipe.conn = conn;
    if (this.isReadingPaused) conn.pause("inbox");
    if (!this.attach(pipe, conn)) {
      pipe.conn = null;
      this.pipeOf.delete(conn);
      conn.close({ kind: "local" });
      return;
    }
    if (isAccepted) this.addPipe(pipe);
    const target = this.targets.get(conn.endpoint);
    if (target !== undefined && target.pipe === pipe) target.attempt = 0;
    this.emit({ type: isAccepted ? "accepted" : "connected", endpoint: conn.endpoint });
    pipe.flush();
  }

  onMessage(conn: Connection, frames: Uint8Array[], oversized?: Oversized): void {
    const pipe = this.pipeOf.get(conn);
    if (pipe === undefined || this.isClosed) return;
    if (oversized === undefined) this.onPeerMessage(pipe, frames);
    else this.onPeerOversized(pipe, frames, oversized);
  }

  onBacklogChange(_conn: Connection, delta: number): void {
    this.bytesHeld += delta;
  }

  onSubscription(conn: Connection, prefix: Uint8Array, isSubscribe: boolean): void {
    const pipe = this.pipeOf.get(conn);
    if (pipe !== undefined) this.onPeerSubscription(pipe, prefix, isSubscribe);
  }

  /** The pipe a connection serves, if it has one yet. */
  protected pipeOfConnection(conn: Connection): Pipe | undefined {
    return this.pipeOf.get(conn);
  }

  onWritable(conn: Connection): void {
    this.pipeOf.get(conn)?.flush();
  }

  onClose(conn: Connection, reason: CloseReason): void {
    if (this.acceptedConns.delete(conn)) this.acceptedCount--;
    const pipe = this.pipeOf.get(conn);
    this.pipeOf.delete(conn);
    const text = describeClose(reason);
    const wasReady = conn.peer !== null;
    if (reason.kind === "protocol" || reason.kind === "handshake-timeout") {
      // Rate-limited: a flood of half-open connections would otherwise flood the log.
      this.warnOnce(
        "zmtp.connection_closed",
        { endpoint: conn.endpoint, reason: text },
        `closed.${reason.kind}`,
      );
      this.emit({
        type: wasReady ? "protocol-error" : "handshake-failed",
        endpoint: conn.endpoint,
        reason: text,
      });
    } else if (wasReady) {
      this.emit({ type: "disconnected", endpoint: conn.endpoint, reason: text });
    }
    if (pipe !== undefined && pipe.conn === conn) {
      pipe.conn = null;
      if (wasReady) this.detach(pipe);
      // A bound-side pipe dies with its connection; a connecting-side one waits for the next.
      if (!pipe.isPersistent) this.removePipe(pipe);
    }
    const target = this.targets.get(conn.endpoint);
    if (target !== undefined && target.pipe === pipe && target.isActive && !this.isClosed) {
      this.scheduleReconnect(target);
    }
  }

  // ---- TCP plumbing ------------------------------------------------------------------------

  private socketHandlers(endpointOf: () => string | undefined) {
    return {
      open: (socket: BunSocket) => {
        const dialled = endpointOf();
        const endpoint = dialled ?? formatEndpoint(socket.remoteAddress, socket.remotePort);
        if (this.isClosed) {
          socket.end();
          return;
        }
        if (dialled === undefined && this.acceptedCount >= this.options.connectionsMax) {
          // Over the connection limit: hang up at once, before any state is kept for it.
          this.warnOnce("zmtp.connection_limit", { limit: this.options.connectionsMax });
          socket.terminate();
          return;
        }
        const conn = new Connection(socket, this, {
          socketType: this.socketType,
          identity: this.options.routingId,
          maxMessageBytes: this.options.maxMessageBytes,
          oversizedBytesMax: this.options.oversizedBytesMax,
          idleTimeoutMs: this.options.idleTimeoutMs,
          pingsPerSecondMax: this.options.pingsPerSecondMax,
          handshakeTimeoutMs: this.options.handshakeTimeoutMs,
          heartbeatIvlMs: this.options.heartbeatIvlMs,
          heartbeatTimeoutMs: this.options.heartbeatTimeoutMs,
          endpoint,
          ...this.curveFor(endpoint),
        });
        socket.data = conn;
        if (dialled === undefined) {
          this.acceptedConns.add(conn);
          this.acceptedCount++;
        }
        const target = this.targets.get(endpoint);
        if (target !== undefined) this.pipeOf.set(conn, target.pipe);
      },
      data: (socket: BunSocket, chunk: Uint8Array) => socket.data?.onData(chunk),
      drain: (socket: BunSocket) => socket.data?.onDrain(),
      close: (socket: BunSocket) => socket.data?.onSocketClosed(),
      error: (socket: BunSocket, error: Error) => {
        this.log.debug("zmtp.socket_error", { error: error.message });
        socket.data?.onSocketClosed();
      },
    };
  }

  /** The connection's CURVE settings, with the authenticator bound to the peer's address. */
  private curveFor(peerAddress: string): { curve?: CurveSecurity } {
    const curve = this.options.curve;
    if (curve === undefined) return {};
    const { authenticate, random, ...keys } = curve;
    const security: CurveSecurity = { ...keys, random: random ?? randomBytes };
    if (authenticate !== undefined) {
      security.authenticate = (key) => {
        try {
          return authenticate(key, peerAddress);
        } catch (error) {
          this.log.error("zmtp.authenticate_failed", { error: String(error) });
          return false;
        }
      };
    }
    return { curve: security };
  }

  private dial(target: ConnectTarget): void {
    if (!target.isActive || this.isClosed) return;
    const handlers = this.socketHandlers(() => target.endpoint);
    Bun.connect<Connection | undefined>({
      hostname: target.host,
      port: target.port,
      socket: handlers,
      data: undefined,
    }).catch(() => {
      if (target.isActive && !this.isClosed) this.scheduleReconnect(target);
    });
  }

  /** Waits ivl·2^attempt capped at ivlMax, plus up to ivl of jitter (docs/zmtp.md 6). */
  private scheduleReconnect(target: ConnectTarget): void {
    clearTimeout(target.timer);
    const ivl = this.options.reconnectIvlMs;
    const base = Math.min(ivl * 2 ** target.attempt, Math.max(ivl, this.options.reconnectIvlMaxMs));
    target.attempt = Math.min(target.attempt + 1, 16);
    const delayMs = base + Math.floor(Math.random() * ivl);
    target.timer = setTimeout(() => {
      target.timer = undefined;
      this.dial(target);
    }, delayMs);
    this.emit({ type: "connect-retry", endpoint: target.endpoint, delayMs });
  }

  /** Logs a warning at most once a minute per event name: floods must not flood the log. */
  protected warnOnce(event: string, fields: Record<string, unknown>, key = event): void {
    const now = Date.now();
    if (now - (this.warnedAt.get(key) ?? Number.NEGATIVE_INFINITY) < 60_000) return;
    this.warnedAt.set(key, now);
    this.log.warn(event, fields);
  }

  protected emit(event: SocketEvent): void {
    for (const listener of this.eventListeners) listener(event);
  }
}

function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** A CURVE server's cookie key lives until its handshake ends or times out. */
const COOKIE_LIFETIME_MS_MAX = 60_000;

function checkCurveOptions(curve: CurveOptions, handshakeTimeoutMs: number | undefined): void {
  // RFC 26: a server discards its cookie key within 60 s; the handshake deadline bounds it.
  if ((handshakeTimeoutMs ?? socketDefaults.handshakeTimeoutMs) > COOKIE_LIFETIME_MS_MAX) {
    throw new RangeError(`handshakeTimeoutMs above ${COOKIE_LIFETIME_MS_MAX} with CURVE`);
  }
  for (const [name, key] of Object.entries({
    publicKey: curve.publicKey,
    secretKey: curve.secretKey,
    serverKey: curve.serverKey,
  })) {
    if (key !== undefined && key.length !== 32) {
      throw new RangeError(`curve.${name} must be 32 bytes`);
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
