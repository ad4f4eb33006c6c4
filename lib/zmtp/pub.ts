// PUB (RFC 29): filters by topic prefix here, at the publisher, per subscriber connection.
// Never blocks and never reports an error: a subscriber whose queue is full, or that has not
// subscribed yet, simply misses the message; for a gapless topic (options.gaplessTopics) a full
// subscriber is disconnected instead, so it learns that it missed something.
import type { Connection } from "./connection.ts";
import { type FrameInput, messageBodyBytes, type Pipe, SocketBase } from "./socket-base.ts";
import type { SocketType } from "./socket-types.ts";

function startsWith(frame: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > frame.length) return false;
  for (let i = 0; i < prefix.length; i++) if (frame[i] !== prefix[i]) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && startsWith(a, b);
}

export class Publisher extends SocketBase {
  protected readonly socketType: SocketType = "PUB";

  async send(frames: readonly FrameInput[]): Promise<void> {
    this.assertOpen();
    const message = this.toMessage(frames);
    const topic = message[0] as Uint8Array;
    const bytes = messageBodyBytes(message);
    const isGapless = this.options.gaplessTopics.some((prefix) => startsWith(topic, prefix));
    const lagging: Connection[] = [];
    for (const pipe of this.pipes) {
      const conn = pipe.conn;
      if (conn === null || !conn.isReady) continue;
      if (!pipe.subscriptions.some((prefix) => startsWith(topic, prefix))) continue;
      if (pipe.hasRoomFor(bytes)) pipe.push(message);
      else if (isGapless) lagging.push(conn);
    }
    // Closed after the loop: closing detaches the pipe from the list being walked.
    for (const conn of lagging) conn.close({ kind: "lagging" });
  }

  /** Connected subscribers (for tests and diagnostics). */
  get subscriberCount(): number {
    let n = 0;
    for (const pipe of this.pipes) if (pipe.conn?.isReady && pipe.subscriptions.length > 0) n++;
    return n;
  }

  protected attach(_pipe: Pipe, _conn: Connection): boolean {
    return true;
  }

  protected detach(pipe: Pipe): void {
    pipe.subscriptions.length = 0;
    pipe.clear();
  }

  /** ZMTP 3.0 subscribers send subscriptions as messages starting with 1 or 0
   * (docs/zmtp.md 4.1). */
  protected onPeerMessage(pipe: Pipe, frames: Uint8Array[]): void {
    for (const frame of frames) {
      const flag = frame[0];
      if (flag === 1 || flag === 0) this.onPeerSubscription(pipe, frame.slice(1), flag === 1);
    }
  }

  /** A set per connection, as libzmq keeps it: a counter would leak (docs/zmtp.md 5.4). */
  protected override onPeerSubscription(
    pipe: Pipe,
    prefix: Uint8Array,
    isSubscribe: boolean,
  ): void {
    const index = pipe.subscriptions.findIndex((p) => sameBytes(p, prefix));
    if (isSubscribe && index < 0) {
      // Bounded, so a subscriber cannot make every publish scan a huge list.
      const { subscriptionsMax, subscriptionBytesMax } = this.options;
      if (pipe.subscriptions.length >= subscriptionsMax || prefix.length > subscriptionBytesMax) {
        this.warnOnce("zmtp.subscription_refused", {
          endpoint: pipe.endpoint,
          limits: { subscriptionsMax, subscriptionBytesMax },
        });
        return;
      }
      pipe.subscriptions.push(prefix.slice());
    }
    if (!isSubscribe && index >= 0) pipe.subscriptions.splice(index, 1);
  }
}
