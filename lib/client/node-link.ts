// One DEALER per node for the client library: sends requests and hands each reply to the
// pending attempt with its id. After a timeout or a cancel it is replaced, so that a request
// still queued in it (its node unreachable) is never delivered late, after the caller moved on;
// unless a later request on it was answered, which shows the connection carried the abandoned
// one already: then the other requests in flight on it keep their connection.
import { type Reply, parseReply } from "../protocol.ts";
import { type CurveOptions, Dealer } from "../zmtp/index.ts";

/** How one attempt ended: a reply, no reply in time, abandoned because the leader moved, or
 * abandoned because the caller cancelled. */
export type AttemptOutcome = Reply | "timeout" | "redirect" | "cancelled";

export interface Pending {
  resolve: (outcome: AttemptOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
  endpoint: string;
  /** Its place in its link's send order (NodeLink.send). */
  sent: number;
}

/** One DEALER per node; replaced after a timeout so a stale request is never delivered late. */
export class NodeLink {
  readonly endpoint: string;
  private dealer: Dealer;
  private readonly pending: Map<string, Pending>;

  private readonly curve: CurveOptions | undefined;
  private sentCount = 0;
  /** The latest place in the send order whose request was answered. */
  private answeredUpTo = 0;
  /** Why the node last refused our handshake (e.g. a CURVE key it does not admit), if it did. */
  handshakeFailure: string | undefined;

  constructor(endpoint: string, pending: Map<string, Pending>, curve?: CurveOptions) {
    this.endpoint = endpoint;
    this.pending = pending;
    this.curve = curve;
    this.dealer = this.open();
  }

  private open(): Dealer {
    const dealer = new Dealer({
      reconnectIvlMs: 50,
      reconnectIvlMaxMs: 500,
      lingerMs: 0,
      ...(this.curve === undefined ? {} : { curve: this.curve }),
    });
    dealer.on((event) => {
      if (event.type === "handshake-failed") this.handshakeFailure = event.reason;
    });
    dealer.connect(this.endpoint);
    void this.read(dealer);
    return dealer;
  }

  /** Sends one request; returns its place in this link's send order. */
  send(body: Uint8Array): number {
    void this.dealer.send([body]).catch(() => undefined);
    return ++this.sentCount;
  }

  reset(): void {
    void this.dealer.close();
    this.dealer = this.open();
  }

  /**
   * An attempt sent `sent`-th was abandoned: a fresh connection, unless a request sent after it
   * was answered (one connection delivers in order, so the abandoned one is no longer queued).
   */
  abandon(sent: number): void {
    if (this.answeredUpTo <= sent) this.reset();
  }

  close(): Promise<void> {
    return this.dealer.close();
  }

  private async read(dealer: Dealer): Promise<void> {
    for await (const frames of dealer) {
      const reply = parseReply(frames[frames.length - 1] ?? new Uint8Array(0));
      if (reply === null) continue;
      const pending = this.pending.get(String(reply.id));
      if (pending === undefined) continue;
      this.pending.delete(String(reply.id));
      if (pending.endpoint === this.endpoint) {
        this.answeredUpTo = Math.max(this.answeredUpTo, pending.sent);
      }
      clearTimeout(pending.timer);
      pending.resolve(reply);
    }
  }
}

