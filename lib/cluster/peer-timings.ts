// Round trips of data-plane requests to each peer, for the operator's metrics: when a request
// went out, matched to its reply by rid and sender. Pure (the caller passes the time); bounded,
// because a dead peer's requests are never answered.
import type { DataReply, DataRequest } from "./data-messages.ts";

/** Unanswered requests remembered at most; the oldest are forgotten first. */
const PENDING_MAX = 4096;
/** A request unanswered this long (ms) is taken as lost: the leader's own deadlines are shorter. */
const PENDING_TTL_MS = 10_000;

export interface PeerTiming {
  readonly peer: number;
  /** The request's type (`apply`, `fence`, ...). */
  readonly op: string;
  /** "ok", or the reply's refusal reason. */
  readonly outcome: string;
  readonly seconds: number;
}

interface Pending {
  readonly to: number;
  readonly op: string;
  readonly sentAt: number;
}

export class PeerTimings {
  private readonly pending = new Map<number, Pending>();

  /** `now` in milliseconds on a monotonic clock. */
  sent(to: number, request: DataRequest, now: number): void {
    this.pending.set(request.rid, { to, op: request.type, sentAt: now });
    // Insertion order is sending order: the expired and the surplus are at the front.
    for (const [rid, sent] of this.pending) {
      if (this.pending.size <= PENDING_MAX && now - sent.sentAt < PENDING_TTL_MS) break;
      this.pending.delete(rid);
    }
  }

  /** Requests still awaiting an answer, per peer (lost ones expire after 10 s). */
  pendingByPeer(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const sent of this.pending.values()) counts.set(sent.to, (counts.get(sent.to) ?? 0) + 1);
    return counts;
  }

  /** The round trip this reply ends, or null when it answers nothing we sent to `from`. */
  answered(from: number, reply: DataReply, now: number): PeerTiming | null {
    const sent = this.pending.get(reply.rid);
    if (sent === undefined || sent.to !== from) return null;
    this.pending.delete(reply.rid);
    const outcome = reply.type === "refused" ? reply.reason : "ok";
    return { peer: from, op: sent.op, outcome, seconds: Math.max(0, now - sent.sentAt) / 1000 };
  }

  get size(): number {
    return this.pending.size;
  }
}
