// ROUTER (RFC 28): prefixes each received message with the sending peer's routing id and routes
// each sent message by its first frame. Never blocks: unroutable or over-HWM messages are dropped,
// or rejected when routerMandatory is set. Serving requests (requestsInFlightMax), it admits each
// received message only while its peer and the socket are under their caps and byte limits, and
// pauses reading from a peer whose requests must wait: memory stays bounded whatever peers send.
import { HighWaterMarkError } from "../util/errors.ts";
import type { Connection } from "./connection.ts";
import type { Oversized } from "./session.ts";
import {
  type FrameInput,
  type Message,
  messageBodyBytes,
  type Pipe,
  SMALL_MESSAGE_BYTES,
  SocketBase,
} from "./socket-base.ts";
import type { SocketType } from "./socket-types.ts";

/** A delivered request: the bytes it counts until it is answered. */
interface Admitted {
  pipe: Pipe;
  bytes: number;
}

/** What Router.answer did with a reply. */
export type AnswerOutcome = "sent" | "no-room" | "gone";

/** Routing ids as map keys: one char per byte. A loop, not a spread: this runs per send. */
function keyOf(id: Uint8Array): string {
  let key = "";
  for (let i = 0; i < id.length; i++) key += String.fromCharCode(id[i] as number);
  return key;
}

function idOf(key: string): Uint8Array {
  return Uint8Array.from(key, (c) => c.charCodeAt(0));
}

export class Router extends SocketBase {
  protected readonly socketType: SocketType = "ROUTER";
  private readonly routes = new Map<string, Pipe>();
  /** Generated ids: 00 + u32 counter from a random start, as libzmq does (docs/zmtp.md 5.2). */
  private nextId = Math.floor(Math.random() * 0xffffffff);
  /** Requests delivered and not yet answered (only when serving requests). */
  private readonly admitted = new WeakMap<Message, Admitted>();
  private readonly oversizes = new WeakMap<Message, Oversized>();
  /**
   * Pipes with held requests, in the order they started waiting: those stopped by their own
   * caps (they move on their own events) and those stopped only by the socket-wide caps (any
   * release may let them on). Kept apart so a release does not scan every waiting peer.
   */
  private readonly waitingOwn = new Set<Pipe>();
  private readonly waitingShared = new Set<Pipe>();
  private inFlightTotal = 0;

  async send(frames: readonly FrameInput[]): Promise<void> {
    this.assertOpen();
    const message = this.toMessage(frames);
    if (message.length < 2) {
      if (this.options.routerMandatory)
        throw new RangeError("ROUTER messages need a routing id frame and a body");
      return;
    }
    const pipe = this.routes.get(keyOf(message[0] as Uint8Array));
    if (pipe === undefined) {
      if (this.options.routerMandatory)
        throw new HighWaterMarkError("no peer with that routing id (EHOSTUNREACH)");
      return;
    }
    if (!pipe.hasRoomFor(messageBodyBytes(message) - (message[0] as Uint8Array).length)) {
      if (this.options.routerMandatory) throw this.queueFull(pipe);
      return;
    }
    pipe.push(message.slice(1));
  }

  /**
   * Answers a request this ROUTER delivered: sends [...its envelope, body] and ends the
   * request's time in flight. "no-room": the reply is larger than SMALL_MESSAGE_BYTES and its
   * peer or the socket is over a limit; nothing was sent and the request is still in flight, so
   * the caller can answer with something small instead. A small answer always goes (requests
   * are only admitted while the peer's queue has room, so these overshoot it by at most
   * requestsInFlightMax). "gone": the peer left; the request is released.
   */
  answer(request: Message, body: FrameInput): AnswerOutcome {
    const admitted = this.admitted.get(request);
    const envelope = request.slice(0, -1);
    const reply = this.toMessage([...envelope, body]).slice(1);
    const bytes = messageBodyBytes(reply);
    if (bytes > SMALL_MESSAGE_BYTES && !this.hasRoomToAnswer(request, bytes)) return "no-room";
    if (admitted !== undefined) this.release(request, admitted);
    const pipe = this.routes.get(keyOf(request[0] as Uint8Array));
    if (pipe === undefined || this.closed) return "gone";
    pipe.push(reply);
    return "sent";
  }

  /**
   * Whether an answer of `bytes` to `request` would be queued now (see answer): lets the
   * caller skip building a large reply that would be refused.
   */
  hasRoomToAnswer(request: Message, bytes: number): boolean {
    const pipe = this.routes.get(keyOf(request[0] as Uint8Array));
    if (pipe === undefined || this.closed) return true;
    const admitted = this.admitted.get(request);
    return pipe.hasRoomFor(bytes, admitted?.pipe === pipe ? admitted.bytes : 0);
  }

  /** Set on a delivered message that was over maxMessageBytes and read past (excerpts only). */
  oversizeOf(message: Message): Oversized | undefined {
    return this.oversizes.get(message);
  }

  /** Requests delivered and not yet answered, over all peers. */
  get requestsInFlight(): number {
    return this.inFlightTotal;
  }

  receive(): Promise<Message> {
    return this.receiveMessage();
  }

  [Symbol.asyncIterator](): AsyncGenerator<Message> {
    return this.iterate();
  }

  /** Routing ids of the peers currently connected. */
  get peerIds(): Uint8Array[] {
    return [...this.routes.values()].map((p) => idOf(p.routingKey));
  }

  /**
   * The long-term public key a CURVE peer proved in its handshake (undefined under NULL or for
   * an unknown id): how a node tells a member from a client.
   */
  peerPublicKey(routingId: Uint8Array): Uint8Array | undefined {
    return this.routes.get(keyOf(routingId))?.conn?.peer?.publicKey;
  }

  protected attach(pipe: Pipe, conn: Connection): boolean {
    const identity = conn.peer?.identity ?? new Uint8Array(0);
    let key: string;
    if (identity.length > 0) {
      key = keyOf(identity);
      const existing = this.routes.get(key);
      if (existing !== undefined && existing !== pipe) {
        if (!this.options.routerHandover) {
          // libzmq keeps the existing connection and ignores the newcomer (docs/zmtp.md 5.2).
          this.log.warn("zmtp.duplicate_identity", { endpoint: conn.endpoint });
          return false;
        }
        this.routes.delete(key);
        existing.conn?.close({ kind: "local" });
      }
    } else {
      this.nextId = (this.nextId + 1) >>> 0;
      const id = this.nextId;
      key = keyOf(Uint8Array.of(0, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff));
    }
    pipe.routingKey = key;
    pipe.routingId = idOf(key);
    this.routes.set(key, pipe);
    return true;
  }

  protected detach(pipe: Pipe): void {
    if (this.routes.get(pipe.routingKey) === pipe) this.routes.delete(pipe.routingKey);
    // Messages queued for a peer that is gone cannot be routed to its successor.
    pipe.clear();
    // Its unanswered requests stop counting: answers to them will find no route.
    this.inFlightTotal -= pipe.inFlight;
    this.adjustBytes(-pipe.inFlightBytes);
    pipe.inFlight = 0;
    pipe.inFlightBytes = 0;
    pipe.held.length = 0;
    this.waitingOwn.delete(pipe);
    this.waitingShared.delete(pipe);
    this.admitSharedWaiters();
  }

  protected onPeerMessage(pipe: Pipe, frames: Uint8Array[]): void {
    // A copy per message, so an application that mutates a frame cannot corrupt the route.
    frames.unshift(pipe.routingId.slice());
    if (!this.isServing) {
      this.deliver(pipe, frames);
      return;
    }
    if (pipe.held.length > 0 || this.admission(pipe) !== "yes") {
      this.hold(pipe, frames);
      return;
    }
    this.admit(pipe, frames);
  }

  protected override onPeerOversized(pipe: Pipe, frames: Uint8Array[], oversized: Oversized): void {
    if (!this.isServing) {
      super.onPeerOversized(pipe, frames, oversized);
      return;
    }
    this.oversizes.set(frames, oversized);
    this.onPeerMessage(pipe, frames);
  }

  override onWritable(conn: Connection): void {
    super.onWritable(conn);
    const pipe = this.pipeOfConnection(conn);
    if (pipe !== undefined) this.admitHeld(pipe);
    this.admitSharedWaiters();
  }

  /** A flush moved queued bytes on: requests waiting for room may fit now. */
  override onPipeRoom(pipe: Pipe): void {
    super.onPipeRoom(pipe);
    this.admitHeld(pipe);
    this.admitSharedWaiters();
  }

  private get isServing(): boolean {
    return Number.isFinite(this.options.requestsInFlightMax);
  }

  /**
   * Whether a request from `pipe` may be delivered now: "own" when its peer's caps stop it,
   * "shared" when only the socket-wide ones do. Those do not stop a peer that holds nothing here
   * (nothing in flight, nothing unsent): peers that never read must not shut out one that does;
   * its single request is already in memory, and its answer still has to fit.
   */
  private admission(pipe: Pipe): "yes" | "own" | "shared" {
    const o = this.options;
    const isOwnRoom =
      pipe.inFlight < o.requestsInFlightMax &&
      pipe.length < o.sendHwm &&
      pipe.outstandingBytes < o.sendHwmBytes;
    if (!isOwnRoom) return "own";
    if (pipe.inFlight === 0 && pipe.outstandingBytes === 0) return "yes";
    return this.hasSharedRoom() ? "yes" : "shared";
  }

  private hasSharedRoom(): boolean {
    const o = this.options;
    return this.inFlightTotal < o.requestsInFlightTotalMax && this.bytesTotal < o.sendBytesMax;
  }

  private admit(pipe: Pipe, message: Message): void {
    const bytes = messageBodyBytes(message);
    this.admitted.set(message, { pipe, bytes });
    pipe.inFlight++;
    pipe.inFlightBytes += bytes;
    this.inFlightTotal++;
    this.adjustBytes(bytes);
    this.deliver(pipe, message);
  }

  private hold(pipe: Pipe, message: Message): void {
    pipe.held.push(message);
    if (pipe.held.length === 1) this.wait(pipe, this.admission(pipe) === "own");
    pipe.conn?.pause("admission");
  }

  private wait(pipe: Pipe, isOwn: boolean): void {
    (isOwn ? this.waitingShared : this.waitingOwn).delete(pipe);
    (isOwn ? this.waitingOwn : this.waitingShared).add(pipe);
  }

  private release(request: Message, admitted: Admitted): void {
    this.admitted.delete(request);
    const { pipe, bytes } = admitted;
    if (pipe.inFlight === 0) return; // detached meanwhile: already released
    pipe.inFlight--;
    pipe.inFlightBytes -= bytes;
    this.inFlightTotal--;
    this.adjustBytes(-bytes);
    this.admitHeld(pipe);
    this.admitSharedWaiters();
  }

  /** Admits `pipe`'s held requests while it may; it resumes reading once none is left. */
  private admitHeld(pipe: Pipe): void {
    if (pipe.held.length === 0) return;
    while (pipe.held.length > 0) {
      const verdict = this.admission(pipe);
      if (verdict !== "yes") return this.wait(pipe, verdict === "own");
      this.admit(pipe, pipe.held.shift() as Message);
    }
    this.waitingOwn.delete(pipe);
    this.waitingShared.delete(pipe);
    pipe.conn?.resume("admission");
  }

  /** Peers stopped only by the socket-wide caps, oldest first, while those have room. */
  private admitSharedWaiters(): void {
    for (const pipe of this.waitingShared) {
      if (!this.hasSharedRoom()) return;
      this.admitHeld(pipe);
    }
  }
}
