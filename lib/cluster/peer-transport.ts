// Moves peer messages between members over the peer port: one DEALER to each member's peer
// endpoint for what this node sends, and one ROUTER bound on our peer port for what arrives.
// Messages are one-way (Raft and the data plane match answers by their own ids); only join and
// remove are answered on the connection they came in on, since the asker may not be a member.
// Sends never wait: Raft and the data plane recover from loss, so a send to a member that is
// down or not reading is dropped once its queue is full rather than piling up in memory.

import type { Logger } from "../util/log.ts";
import { type CurveOptions, Dealer, Router } from "../zmtp/index.ts";
import {
  encodePeerMessage,
  parsePeerMessage,
  type PeerLimits,
  type PeerMessage,
} from "./peer-protocol.ts";
import type { Message as RaftMessage } from "../raft/index.ts";

/** Sends to one member that may wait for room at once; more are dropped. */
const BLOCKED_SENDS_MAX = 1024;

/** Hearing from a member dials it early at most this often (the dealers' reconnect cap). */
const EARLY_DIAL_GAP_MS = 200;

export interface Incoming {
  readonly message: PeerMessage<RaftMessage>;
  /** Answers on the connection the message came in on (join and remove replies). */
  reply(message: PeerMessage<RaftMessage>): void;
}

interface Link {
  readonly endpoint: string;
  readonly dealer: Dealer;
  blocked: number;
  /** When hearing from the member last dialled it early (heard). */
  earlyDialAt: number;
}

export class PeerTransport {
  private readonly router: Router;
  /** The node's current limits (the partition count is known only once the state is). */
  private readonly limits: () => PeerLimits<RaftMessage>;
  private readonly log: Logger;
  private readonly links = new Map<number, Link>();
  private droppedCount = 0;

  /** CURVE toward other members, or undefined for NULL. */
  private readonly curve: CurveOptions | undefined;

  constructor(
    router: Router,
    limits: () => PeerLimits<RaftMessage>,
    log: Logger,
    curve?: CurveOptions,
  ) {
    this.router = router;
    this.limits = limits;
    this.log = log;
    this.curve = curve;
  }

  /** Points member `id` at `endpoint` (its peer endpoint); a changed endpoint reconnects. */
  setPeer(id: number, endpoint: string): void {
    const existing = this.links.get(id);
    if (existing?.endpoint === endpoint) return;
    if (existing !== undefined) void existing.dealer.close();
    const dealer = new Dealer({
      reconnectIvlMs: 20,
      reconnectIvlMaxMs: EARLY_DIAL_GAP_MS,
      lingerMs: 0,
      sendHwm: 10_000,
      maxMessageBytes: this.limits().frameBytesMax,
      ...(this.curve === undefined ? {} : { curve: this.curve }),
    });
    dealer.connect(endpoint);
    this.links.set(id, { endpoint, dealer, blocked: 0, earlyDialAt: Number.NEGATIVE_INFINITY });
  }

  removePeer(id: number): void {
    const link = this.links.get(id);
    if (link === undefined) return;
    this.links.delete(id);
    void link.dealer.close();
  }

  /** Messages dropped because a member's queue was full (for metrics and logs). */
  get dropped(): number {
    return this.droppedCount;
  }

  send(message: PeerMessage<RaftMessage>): void {
    const link = this.links.get(message.to);
    if (link === undefined || link.blocked >= BLOCKED_SENDS_MAX) {
      this.droppedCount++;
      return;
    }
    link.blocked++;
    link.dealer
      .send([encodePeerMessage(message)])
      .catch(() => undefined)
      .finally(() => link.blocked--);
  }

  /**
   * Member `id` was heard from on our peer port at `now` (ms). If our link to it is waiting out
   * a reconnect backoff, it dials now: a member coming back would otherwise get what we queued
   * for it up to 200 ms later, and every catch-up of it would wait that long to start.
   */
  heard(id: number, now: number): void {
    const link = this.links.get(id);
    if (link === undefined || now - link.earlyDialAt < EARLY_DIAL_GAP_MS) return;
    link.earlyDialAt = now;
    link.dealer.reconnectNow(link.endpoint);
  }

  /** Puts what was sent so far on the wire now (see SocketBase.flushNow). */
  flush(): void {
    for (const link of this.links.values()) link.dealer.flushNow();
  }

  /** Every well-formed message that arrives on the peer port; malformed ones are logged. */
  async *incoming(): AsyncGenerator<Incoming> {
    for await (const frames of this.router) {
      const body = frames[frames.length - 1];
      if (body === undefined) continue;
      const parsed = parsePeerMessage(body, this.limits());
      if (!parsed.ok) {
        this.log.warn("peer_message_refused", { reason: parsed.error, bytes: body.length });
        continue;
      }
      const envelope = frames.slice(0, -1);
      yield {
        message: parsed.message,
        reply: (message) => {
          void this.router.send([...envelope, encodePeerMessage(message)]).catch(() => undefined);
        },
      };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.dealer.close()));
    this.links.clear();
  }
}
