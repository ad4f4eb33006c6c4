// SUB (RFC 29): tells every publisher its subscriptions (on each new connection too) and filters
// received messages locally as well, as libzmq does.
import { toBytes } from "./codec.ts";
import type { Connection } from "./connection.ts";
import { encodeSubscription } from "./session.ts";
import { type Message, type Pipe, SocketBase } from "./socket-base.ts";
import type { SocketType } from "./socket-types.ts";

function keyOf(prefix: Uint8Array): string {
  return String.fromCharCode(...prefix);
}

export class Subscriber extends SocketBase {
  protected readonly socketType: SocketType = "SUB";
  /** Local count per prefix; the wire sees SUBSCRIBE on 0→1 and CANCEL on 1→0
   * (docs/zmtp.md 5.5). */
  private readonly counts = new Map<string, { prefix: Uint8Array; count: number }>();

  subscribe(prefix: Uint8Array | string = ""): void {
    this.assertOpen();
    const bytes = toBytes(prefix);
    const key = keyOf(bytes);
    const entry = this.counts.get(key);
    if (entry !== undefined) {
      entry.count++;
      return;
    }
    this.counts.set(key, { prefix: bytes.slice(), count: 1 });
    this.broadcast(bytes, true);
  }

  unsubscribe(prefix: Uint8Array | string = ""): void {
    this.assertOpen();
    const bytes = toBytes(prefix);
    const key = keyOf(bytes);
    const entry = this.counts.get(key);
    if (entry === undefined) return;
    if (--entry.count > 0) return;
    this.counts.delete(key);
    this.broadcast(bytes, false);
  }

  receive(): Promise<Message> {
    return this.receiveMessage();
  }

  [Symbol.asyncIterator](): AsyncGenerator<Message> {
    return this.iterate();
  }

  private broadcast(prefix: Uint8Array, isSubscribe: boolean): void {
    for (const pipe of this.pipes) {
      const conn = pipe.conn;
      if (conn?.isReady) conn.writeFrame(encodeSubscription(prefix, isSubscribe, conn.peerMinor));
    }
  }

  protected attach(_pipe: Pipe, conn: Connection): boolean {
    for (const { prefix } of this.counts.values()) {
      conn.writeFrame(encodeSubscription(prefix, true, conn.peerMinor));
    }
    return true;
  }

  protected detach(pipe: Pipe): void {
    pipe.clear();
  }

  protected onPeerMessage(pipe: Pipe, frames: Uint8Array[]): void {
    const topic = frames[0] as Uint8Array;
    for (const { prefix } of this.counts.values()) {
      if (prefix.length <= topic.length && prefix.every((b, i) => topic[i] === b)) {
        this.deliver(pipe, frames);
        return;
      }
    }
  }
}
