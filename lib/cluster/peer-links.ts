// One PeerRpc per member, replaced when a member's endpoint changes, and the typed calls the
// coordinator and catch-up make over them.
import { KvError } from "../util/errors.ts";
import type { StoredRow, Version } from "../store/index.ts";
import type { PeerLink } from "./coordinator.ts";
import { type PeerReply, PeerRpc } from "./peer-rpc.ts";
import { type ApplyResult, parseRow } from "./replica.ts";

/** Catch-up copies whole partitions; it may take far longer than one request. */
const CATCH_UP_TIMEOUT_MS = 60_000;

export class PeerLinks {
  private readonly rpcs = new Map<number, PeerRpc>();

  set(id: number, endpoint: string): void {
    const existing = this.rpcs.get(id);
    if (existing?.endpoint === endpoint) return;
    void existing?.close();
    this.rpcs.set(id, new PeerRpc(endpoint));
  }

  async close(): Promise<void> {
    await Promise.all([...this.rpcs.values()].map((r) => r.close()));
    this.rpcs.clear();
  }

  async call(id: number, body: Record<string, unknown>, timeoutMs: number): Promise<PeerReply & { ok: true }> {
    const rpc = this.rpcs.get(id);
    if (rpc === undefined) throw new KvError("UNAVAILABLE", `node ${id} is not a known member`);
    const reply = await rpc.request(body, timeoutMs);
    if (!reply.ok) throw new KvError("UNAVAILABLE", `node ${id} refused: ${reply.error.message}`);
    return reply;
  }

  async catchUp(leaderId: number, nodeId: number, partition: number): Promise<void> {
    await this.call(leaderId, { op: "PEER_CATCHUP", node: nodeId, partition }, CATCH_UP_TIMEOUT_MS);
  }

  link(timeoutMs: number): PeerLink {
    return {
      replicate: async (id, term, rows): Promise<ApplyResult[]> => {
        const reply = await this.call(id, { op: "PEER_REPLICATE", term, rows }, timeoutMs);
        const results = reply["results"];
        if (!Array.isArray(results) || results.length !== rows.length) {
          throw new KvError("UNAVAILABLE", `node ${id} sent a malformed replicate reply`);
        }
        return results.map((r) => ({ applied: r?.applied === true, existed: r?.existed === true }));
      },
      read: async (id, key): Promise<StoredRow | undefined> => {
        const reply = await this.call(id, { op: "PEER_READ", key }, timeoutMs);
        const row = reply["row"] === null ? undefined : parseRow(reply["row"], Number.MAX_SAFE_INTEGER);
        if (row === null) throw new KvError("UNAVAILABLE", `node ${id} sent a malformed row`);
        return row;
      },
      page: async (id, partition, after: Version, limit): Promise<StoredRow[]> => {
        const reply = await this.call(id, { op: "PEER_PAGE", partition, after, limit }, CATCH_UP_TIMEOUT_MS);
        const rows = reply["rows"];
        if (!Array.isArray(rows)) throw new KvError("UNAVAILABLE", `node ${id} sent a malformed page`);
        const parsed = rows.map((r) => parseRow(r, Number.MAX_SAFE_INTEGER));
        if (parsed.some((r) => r === null)) throw new KvError("UNAVAILABLE", `node ${id} sent a malformed row`);
        return parsed as StoredRow[];
      },
    };
  }
}
