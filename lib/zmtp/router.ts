// ROUTER (RFC 28): prefixes each received message with the sending peer's routing id and routes
// each sent message by its first frame. Never blocks: unroutable or over-HWM messages are dropped,
// or rejected when routerMandatory is set.
import { HighWaterMarkError } from "../util/errors.ts";
import type { Connection } from "./connection.ts";
import { type FrameInput, type Message, type Pipe, SocketBase } from "./socket-base.ts";
import type { SocketType } from "./socket-types.ts";

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
    if (!pipe.hasRoom) {
      if (this.options.routerMandatory) throw this.queueFull(pipe);
      return;
    }
    pipe.push(message.slice(1));
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
  }

  protected onPeerMessage(pipe: Pipe, frames: Uint8Array[]): void {
    // A copy per message, so an application that mutates a frame cannot corrupt the route.
    frames.unshift(pipe.routingId.slice());
    this.deliver(pipe, frames);
  }
}
