// One DEALER per node for the client library: sends requests and hands each reply to the
// pending attempt with its id. Replaced after a timeout or a cancel, so that a stale request is
// never answered late into a new attempt.
import { type Reply, parseReply } from "../protocol.ts";
import { type CurveOptions, Dealer } from "../zmtp/index.ts";

/** How one attempt ended: a reply, no reply in time, abandoned because the leader moved, or
 * abandoned because the caller cancelled. */
export type AttemptOutcome = Reply | "timeout" | "redirect" | "cancelled";

export interface Pending {
  resolve: (outcome: AttemptOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
  endpoint: string;
}

/** One DEALER per node; replaced after a timeout so a stale request is never delivered late. */
export class NodeLink {
  readonly endpoint: string;
  private dealer: Dealer;
  private readonly pending: Map<string, Pending>;

  private readonly curve: CurveOptions | undefined;
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

  send(body: Uint8Array): void {
    void this.dealer.send([body]).catch(() => undefined);
  }

  reset(): void {
    void this.dealer.close();
    this.dealer = this.open();
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
      clearTimeout(pending.timer);
      pending.resolve(reply);
    }
  }
}

