// Node-to-node requests: one DEALER per peer, JSON requests with ids, replies matched by id,
// each with a deadline. A timeout or a lost peer rejects only the requests it concerns.
import { KvError } from "../util/errors.ts";
import { type CurveOptions, Dealer, bytesToString } from "../zmtp/index.ts";
import { encodeJson } from "../protocol.ts";

export type PeerReply =
  | { ok: true; [field: string]: unknown }
  | {
      ok: false;
      error: { code: string; message: string };
    };

interface Pending {
  resolve: (reply: PeerReply) => void;
  reject: (error: KvError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Requests a peer has not answered yet are bounded; beyond this they fail fast. */
const PENDING_PER_PEER_MAX = 65_536;

export class PeerRpc {
  readonly endpoint: string;
  private readonly dealer: Dealer;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** `curve`: connect with CURVE (curve-security.ts peerCurve); absent speaks NULL. */
  constructor(endpoint: string, curve?: CurveOptions) {
    this.endpoint = endpoint;
    // Short reconnect cap: a restarted peer should be reachable again within a heartbeat or two.
    this.dealer = new Dealer({
      reconnectIvlMs: 50,
      reconnectIvlMaxMs: 400,
      lingerMs: 0,
      ...(curve === undefined ? {} : { curve }),
    });
    this.dealer.connect(endpoint);
    void this.readReplies();
  }

  request(body: Record<string, unknown>, timeoutMs: number): Promise<PeerReply> {
    if (this.pending.size >= PENDING_PER_PEER_MAX) {
      return Promise.reject(
        new KvError("UNAVAILABLE", `too many requests pending to ${this.endpoint}`),
      );
    }
    const id = this.nextId++;
    return new Promise<PeerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new KvError("TIMEOUT", `no reply from ${this.endpoint} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.dealer.send([encodeJson({ ...body, id })]).catch((error: unknown) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new KvError("UNAVAILABLE", `cannot send to ${this.endpoint}`, { cause: error }));
      });
    });
  }

  async close(): Promise<void> {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new KvError("UNAVAILABLE", `connection to ${this.endpoint} closed`));
    }
    this.pending.clear();
    await this.dealer.close();
  }

  private async readReplies(): Promise<void> {
    for await (const frames of this.dealer) {
      const body = frames[frames.length - 1];
      if (body === undefined) continue;
      let reply: unknown;
      try {
        reply = JSON.parse(bytesToString(body));
      } catch {
        continue;
      }
      if (typeof reply !== "object" || reply === null) continue;
      const id = (reply as { id?: unknown }).id;
      if (typeof id !== "number") continue;
      const pending = this.pending.get(id);
      if (pending === undefined) continue;
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.resolve(reply as PeerReply);
    }
  }
}
