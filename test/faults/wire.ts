// Speaking the client protocol (README "Protocol") directly over one DEALER per node, one
// attempt at a time: no retries, no leader tracking, so the fault suite records exactly what
// each attempt did. After a timeout the DEALER is replaced, so the abandoned request is not
// sent again on a reconnect (it may still arrive: its outcome stays unknown).
import { Dealer } from "../../lib/zmtp/index.ts";

export type Reply = Record<string, unknown>;
export type Attempt =
  | { readonly kind: "reply"; readonly reply: Reply }
  | { readonly kind: "timeout" };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let nextWireId = 1;

interface Waiting {
  resolve: (attempt: Attempt) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class NodeLink {
  readonly endpoint: string;
  private dealer: Dealer;
  private readonly waiting = new Map<number, Waiting>();
  private isClosed = false;

  constructor(endpoint: string) {
    this.endpoint = endpoint;
    this.dealer = this.open();
  }

  /** Sends `body` with a fresh id; resolves with the reply, or "timeout" after `timeoutMs`. */
  request(body: Reply, timeoutMs: number): Promise<Attempt> {
    const id = nextWireId++;
    const { promise, resolve } = Promise.withResolvers<Attempt>();
    const timer = setTimeout(() => {
      this.waiting.delete(id);
      this.reset();
      resolve({ kind: "timeout" });
    }, timeoutMs);
    this.waiting.set(id, { resolve, timer });
    void this.dealer.send([encoder.encode(JSON.stringify({ ...body, id }))]).catch(() => undefined);
    return promise;
  }

  async close(): Promise<void> {
    this.isClosed = true;
    for (const [id, waiting] of this.waiting) {
      clearTimeout(waiting.timer);
      waiting.resolve({ kind: "timeout" });
      this.waiting.delete(id);
    }
    await this.dealer.close();
  }

  private open(): Dealer {
    const dealer = new Dealer({ reconnectIvlMs: 50, reconnectIvlMaxMs: 500, lingerMs: 0 });
    dealer.connect(this.endpoint);
    void this.read(dealer);
    return dealer;
  }

  private reset(): void {
    if (this.isClosed) return;
    void this.dealer.close();
    this.dealer = this.open();
  }

  private async read(dealer: Dealer): Promise<void> {
    for await (const frames of dealer) {
      let reply: Reply;
      try {
        reply = JSON.parse(decoder.decode(frames[frames.length - 1])) as Reply;
      } catch {
        continue;
      }
      const id = reply["id"];
      const waiting = typeof id === "number" ? this.waiting.get(id) : undefined;
      if (waiting === undefined) continue;
      this.waiting.delete(id as number);
      clearTimeout(waiting.timer);
      waiting.resolve({ kind: "reply", reply });
    }
  }
}

/** What a node says about itself in its HEARTBEAT reply (only the fields the suite uses). */
export interface NodeView {
  readonly id: number;
  readonly role: string;
  readonly term: number;
  readonly leaderId: number | null;
  readonly aliveMembers: number;
  /** Partitions whose in-sync set is smaller than `rf`, when the reply says (leaders only). */
  readonly partitionsShort: number | null;
}

export function parseHeartbeat(reply: Reply): NodeView | null {
  if (reply["ok"] !== true) return null;
  const node = reply["node"] as { id?: unknown } | undefined;
  const members = reply["members"];
  if (typeof node?.id !== "number" || !Array.isArray(members)) return null;
  const leader = reply["leader"] as { id?: unknown } | null | undefined;
  const insync = reply["insync"];
  const rf = reply["rf"];
  return {
    id: node.id,
    role: String(reply["role"]),
    term: typeof reply["term"] === "number" ? reply["term"] : 0,
    leaderId: typeof leader?.id === "number" ? leader.id : null,
    aliveMembers: members.filter((m) => (m as { alive?: unknown }).alive === true).length,
    partitionsShort: Array.isArray(insync) && typeof rf === "number"
      ? insync.filter((held) => !Array.isArray(held) || held.length < rf).length : null,
  };
}
