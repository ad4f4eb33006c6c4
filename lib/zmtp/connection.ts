// The shell around one TCP connection: feeds bytes to the pure Session, writes what it asks,
// buffers what the kernel did not take, and enforces the handshake deadline and heartbeats.
// It knows nothing of socket semantics; it reports to its owner.
import type { Socket } from "bun";
import { ZmtpProtocolError } from "../util/errors.ts";
import {
  type CurveSecurity,
  encodePing,
  encodePong,
  type Oversized,
  type PeerInfo,
  Session,
} from "./session.ts";
import type { SocketType } from "./socket-types.ts";

export interface ConnectionOwner {
  onReady(conn: Connection): void;
  /** `oversized`: the message was over the limit and read past (Session's Oversized). */
  onMessage(conn: Connection, frames: Uint8Array[], oversized?: Oversized): void;
  onSubscription(conn: Connection, prefix: Uint8Array, isSubscribe: boolean): void;
  /** Room in the write buffer again after back-pressure. */
  onWritable(conn: Connection): void;
  /** The write buffer grew or shrank by `delta` bytes (for socket-wide byte limits). */
  onBacklogChange(conn: Connection, delta: number): void;
  onClose(conn: Connection, reason: CloseReason): void;
}

export type CloseReason =
  | { kind: "peer-closed" }
  | { kind: "local" }
  | { kind: "protocol"; error: ZmtpProtocolError }
  | { kind: "handshake-timeout" }
  | { kind: "heartbeat-timeout" }
  | { kind: "idle-timeout" }
  | { kind: "lagging" };

/** Why reading from a connection is paused; it resumes when no reason is left. */
export type PauseReason = "inbox" | "admission" | "turn";
const pauseBits: Record<PauseReason, number> = { inbox: 1, admission: 2, turn: 4 };
/**
 * Bytes one connection may hand in before it yields the event loop for a turn: a peer that
 * floods (PINGs, requests) must not keep the node from its timers and other peers.
 */
const TURN_BYTES_MAX = 64 * 1024;
/** How long a peer we hung up on for a protocol error may keep its side open. */
const CLOSE_GRACE_MS = 1000;

export interface ConnectionOptions {
  socketType: SocketType;
  identity: Uint8Array;
  maxMessageBytes: number;
  /** Messages up to this are read past and reported oversized (Session); 0: none. */
  oversizedBytesMax: number;
  handshakeTimeoutMs: number;
  /** Close a ready connection that has sent nothing for this long (0 = never). */
  idleTimeoutMs: number;
  /** PINGs allowed per second (and in one burst); more close the connection. */
  pingsPerSecondMax: number;
  heartbeatIvlMs: number;
  heartbeatTimeoutMs: number;
  /** Where this connection came from, for logs and events. */
  endpoint: string;
  /** Absent: the NULL mechanism. */
  curve?: CurveSecurity;
}

export type BunSocket = Socket<Connection | undefined>;

export class Connection {
  peer: PeerInfo | null = null;
  readonly endpoint: string;
  private readonly session: Session;
  private readonly socket: BunSocket;
  private readonly owner: ConnectionOwner;
  private readonly options: ConnectionOptions;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private closed = false;
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastReceivedMs = Date.now();
  private peerTtlMs = 0;
  private pausedBits = 0;
  private turnBytes = 0;
  /**
   * A PONG sits in the write buffer. Then further PINGs go unanswered until the buffer empties:
   * a peer that pings and never reads must not grow it (one pending PONG proves we are alive).
   */
  private isPongBuffered = false;
  /** PINGs the peer may still send now (a token bucket refilled at pingsPerSecondMax). */
  private pingTokens: number;
  private pingRefillMs = Date.now();

  constructor(socket: BunSocket, owner: ConnectionOwner, options: ConnectionOptions) {
    this.socket = socket;
    this.owner = owner;
    this.options = options;
    this.pingTokens = options.pingsPerSecondMax;
    this.endpoint = options.endpoint;
    this.session = new Session({
      socketType: options.socketType,
      identity: options.identity,
      maxMessageBytes: options.maxMessageBytes,
      oversizedBytesMax: options.oversizedBytesMax,
      ...(options.curve === undefined ? {} : { curve: options.curve }),
    });
    socket.setNoDelay(true);
    this.handshakeTimer = setTimeout(
      () => this.close({ kind: "handshake-timeout" }),
      options.handshakeTimeoutMs,
    );
    this.write(this.session.start());
  }

  get isReady(): boolean {
    return this.peer !== null && !this.closed;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get peerMinor(): number {
    return this.session.minor;
  }

  /** Bytes accepted for sending but not yet taken by the kernel. */
  get backlogBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Writes now what the kernel takes and keeps a copy of the rest, so callers may reuse
   * `bytes` as soon as this returns (Pipe.flush encodes into one shared scratch buffer).
   */
  write(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    let rest = bytes;
    if (this.pendingBytes === 0) {
      const n = this.socket.write(bytes);
      if (n === bytes.length) return;
      if (n < 0) return; // closing; the close handler reports it
      rest = bytes.subarray(n);
    }
    this.pending.push(rest.slice());
    this.pendingBytes += rest.length;
    this.owner.onBacklogChange(this, rest.length);
  }

  /** Encoded size of a message on this connection (CURVE boxes every frame). */
  messageBytes(frames: readonly Uint8Array[]): number {
    return this.session.messageBytes(frames);
  }

  /** Encodes a message for this connection into `out` at `at`; returns the end offset. */
  encodeMessage(frames: readonly Uint8Array[], out: Uint8Array, at: number): number {
    return this.session.writeMessage(frames, out, at);
  }

  /** Writes one encoded control frame (subscription, PING), boxed when the link is CURVE. */
  writeFrame(frame: Uint8Array): void {
    this.write(this.session.wrapFrame(frame));
  }

  /** Stops reading from the peer (TCP back-pressure) until every reason is lifted. */
  pause(reason: PauseReason = "inbox"): void {
    const before = this.pausedBits;
    this.pausedBits |= pauseBits[reason];
    if (before === 0 && !this.closed) this.socket.pause();
  }

  resume(reason: PauseReason = "inbox"): void {
    if (this.pausedBits === 0) return;
    this.pausedBits &= ~pauseBits[reason];
    if (this.pausedBits === 0 && !this.closed) this.socket.resume();
  }

  onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.lastReceivedMs = Date.now();
    this.turnBytes += chunk.length;
    if (this.turnBytes >= TURN_BYTES_MAX && (this.pausedBits & pauseBits.turn) === 0) {
      this.pause("turn");
      setImmediate(() => {
        this.turnBytes = 0;
        this.resume("turn");
      });
    }
    for (const event of this.session.push(chunk)) {
      if (this.closed) return;
      switch (event.type) {
        case "send":
          this.write(event.bytes);
          break;
        case "pong":
          // Every PING asks for a PONG: this is where the PING rate is counted.
          if (!this.takePingToken()) {
            const limit = this.options.pingsPerSecondMax;
            this.close({ kind: "protocol", error: new ZmtpProtocolError(
              `PING flood: more than ${limit} PINGs a second`) });
            return;
          }
          if (this.isPongBuffered) break;
          this.writeFrame(encodePong(event.context));
          this.isPongBuffered = this.pendingBytes > 0;
          break;
        case "ready":
          clearTimeout(this.handshakeTimer);
          this.peer = event.peer;
          this.startHeartbeats();
          this.armIdleTimer();
          this.owner.onReady(this);
          break;
        case "message":
          this.owner.onMessage(this, event.frames, event.oversized);
          break;
        case "subscribe":
        case "cancel":
          this.owner.onSubscription(this, event.prefix, event.type === "subscribe");
          break;
        case "ping":
          // The timer only changes with the TTL the peer asks for; re-arming it costs a flood.
          if (event.ttlMs !== this.peerTtlMs) {
            this.peerTtlMs = event.ttlMs;
            this.startHeartbeats();
          }
          break;
        case "error":
          this.close({ kind: "protocol", error: event.error });
          return;
      }
    }
  }

  onDrain(): void {
    while (this.pending.length > 0 && !this.closed) {
      const head = this.pending[0] as Uint8Array;
      const n = this.socket.write(head);
      if (n < 0) return;
      if (n > 0) {
        this.pendingBytes -= n;
        this.owner.onBacklogChange(this, -n);
      }
      if (n < head.length) {
        this.pending[0] = head.subarray(n);
        return;
      }
      this.pending.shift();
    }
    this.isPongBuffered = false;
    if (!this.closed) this.owner.onWritable(this);
  }

  /** The TCP connection is gone (either side closed it). */
  onSocketClosed(): void {
    this.close({ kind: "peer-closed" });
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.idleTimer);
    this.pending = [];
    if (this.pendingBytes > 0) this.owner.onBacklogChange(this, -this.pendingBytes);
    this.pendingBytes = 0;
    // A peer that went silent may never read our FIN: reset it, so its descriptor is freed now.
    // A local close ends gracefully, and so does a protocol error (an ERROR command may be on
    // its way), but a peer that does not close its side in time is reset then.
    if (reason.kind === "local") this.socket.end();
    else if (reason.kind === "protocol") this.endThenReset();
    else if (reason.kind !== "peer-closed") this.socket.terminate();
    this.owner.onClose(this, reason);
  }

  private endThenReset(): void {
    const socket = this.socket;
    socket.end();
    // Resetting a socket that closed meanwhile does nothing.
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Spends one PING token; false when the peer pings faster than pingsPerSecondMax. */
  private takePingToken(): boolean {
    const max = this.options.pingsPerSecondMax;
    const now = Date.now();
    this.pingTokens = Math.min(max, this.pingTokens + ((now - this.pingRefillMs) * max) / 1000);
    this.pingRefillMs = now;
    if (this.pingTokens < 1) return false;
    this.pingTokens--;
    return true;
  }

  /**
   * One timer per connection, only when heartbeats are on or the peer asked for a TTL:
   * PING every heartbeatIvlMs; close when nothing at all arrived within the timeout.
   */
  private startHeartbeats(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    const ivl = this.options.heartbeatIvlMs;
    const silenceMs = Math.max(
      ivl > 0 ? ivl + (this.options.heartbeatTimeoutMs || ivl) : 0,
      this.peerTtlMs,
    );
    if (silenceMs === 0) return;
    const tickMs = ivl > 0 ? ivl : Math.max(50, Math.floor(this.peerTtlMs / 4));
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastReceivedMs > silenceMs) {
        this.close({ kind: "heartbeat-timeout" });
        return;
      }
      // A peer that does not read our writes gets no more PINGs until it does.
      if (ivl > 0 && this.pendingBytes === 0) {
        this.writeFrame(encodePing(ivl + (this.options.heartbeatTimeoutMs || ivl)));
      }
    }, tickMs);
  }

  /**
   * One timeout per connection, re-armed for the remainder when it fires early: cheaper than
   * re-arming on every chunk received.
   */
  private armIdleTimer(): void {
    const idleMs = this.options.idleTimeoutMs;
    if (idleMs <= 0 || this.closed) return;
    const dueMs = this.lastReceivedMs + idleMs - Date.now();
    this.idleTimer = setTimeout(() => {
      if (Date.now() - this.lastReceivedMs >= idleMs) this.close({ kind: "idle-timeout" });
      else this.armIdleTimer();
    }, Math.max(dueMs, 1));
  }
}

export function describeClose(reason: CloseReason): string {
  switch (reason.kind) {
    case "peer-closed":
      return "peer closed the connection";
    case "local":
      return "closed locally";
    case "protocol":
      return reason.error.message;
    case "handshake-timeout":
      return "handshake did not complete in time";
    case "heartbeat-timeout":
      return "peer went silent (heartbeat timeout)";
    case "idle-timeout":
      return "peer sent nothing for the idle timeout";
    case "lagging":
      return "subscriber fell behind a feed it must not miss";
  }
}
