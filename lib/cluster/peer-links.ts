// One PeerRpc per member, replaced when a member's endpoint changes, and the typed calls the
// coordinator and catch-up make over them.
import { KvError } from "../util/errors.ts";
import type { StoredRow, Version } from "../store/index.ts";
import { type PeerLink, StaleTermError } from "./coordinator.ts";
import type { CurveOptions } from "../zmtp/index.ts";
import { type PeerReply, PeerRpc } from "./peer-rpc.ts";
import { type ApplyResult, parseRow } from "./replica.ts";

/** Catch-up copies whole partitions; it may take far longer than one request. */
const CATCH_UP_TIMEOUT_MS = 60_000;

/** Rows bound for one peer in one event-loop turn travel in one PEER_REPLICATE. */
const REPLICATE_BATCH_ROWS_MAX = 512;

interface QueuedRow {
  row: StoredRow;
  resolve: (result: ApplyResult) => void;
  reject: (error: unknown) => void;
}

export class PeerLinks {
  private readonly rpcs = new Map<number, PeerRpc>();
  private readonly outgoing = new Map<number, { term: number; rows: QueuedRow[] }[]>();
  private readonly curve: CurveOptions | undefined;

  constructor(curve?: CurveOptions) {
    this.curve = curve;
  }

  set(id: number, endpoint: string): void {
    const existing = this.rpcs.get(id);
    if (existing?.endpoint === endpoint) return;
    void existing?.close();
    this.rpcs.set(id, new PeerRpc(endpoint, this.curve));
  }

  /**
   * Starts over with a member that went down: its unanswered requests fail now instead of at
   * their deadlines, and requests still queued for it are dropped, never delivered to it late
   * (after a restart) as if they were new.
   */
  reset(id: number): void {
    const existing = this.rpcs.get(id);
    if (existing === undefined) return;
    void existing.close();
    this.rpcs.set(id, new PeerRpc(existing.endpoint, this.curve));
  }

  async close(): Promise<void> {
    await Promise.all([...this.rpcs.values()].map((r) => r.close()));
    this.rpcs.clear();
  }

  async call(
    id: number,
    body: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<PeerReply & { ok: true }> {
    const rpc = this.rpcs.get(id);
    if (rpc === undefined) throw new KvError("UNAVAILABLE", `node ${id} is not a known member`);
    const reply = await rpc.request(body, timeoutMs);
    if (!reply.ok && reply.error.code === "STALE_TERM") {
      throw new StaleTermError(`node ${id} has seen a newer leader: ${reply.error.message}`);
    }
    if (!reply.ok) throw new KvError("UNAVAILABLE", `node ${id} refused: ${reply.error.message}`);
    return reply;
  }

  async catchUp(leaderId: number, nodeId: number, partition: number): Promise<void> {
    await this.call(leaderId, { op: "PEER_CATCHUP", node: nodeId, partition }, CATCH_UP_TIMEOUT_MS);
  }

  /**
   * Queues rows for a peer; everything queued in the same turn goes out as one request, so the
   * replica parses, commits and answers a whole batch at once.
   */
  private replicate(
    id: number,
    term: number,
    rows: StoredRow[],
    timeoutMs: number,
  ): Promise<ApplyResult[]> {
    let batches = this.outgoing.get(id);
    if (batches === undefined) {
      batches = [];
      this.outgoing.set(id, batches);
      setImmediate(() => this.flushReplicate(id, timeoutMs));
    }
    let batch = batches[batches.length - 1];
    if (
      batch === undefined ||
      batch.term !== term ||
      batch.rows.length >= REPLICATE_BATCH_ROWS_MAX
    ) {
      batch = { term, rows: [] };
      batches.push(batch);
    }
    const target = batch;
    return Promise.all(
      rows.map(
        (row) =>
          new Promise<ApplyResult>((resolve, reject) => {
            target.rows.push({ row, resolve, reject });
          }),
      ),
    );
  }

  private flushReplicate(id: number, timeoutMs: number): void {
    const batches = this.outgoing.get(id) ?? [];
    this.outgoing.delete(id);
    for (const { term, rows } of batches) {
      this.call(id, { op: "PEER_REPLICATE", term, rows: rows.map((q) => q.row) }, timeoutMs)
        .then((reply) => {
          const results = reply["results"];
          if (!Array.isArray(results) || results.length !== rows.length) {
            throw new KvError("UNAVAILABLE", `node ${id} sent a malformed replicate reply`);
          }
          rows.forEach((q, i) => {
            const r = results[i] as { applied?: unknown; existed?: unknown } | undefined;
            q.resolve({ applied: r?.applied === true, existed: r?.existed === true });
          });
        })
        .catch((error: unknown) => {
          for (const q of rows) q.reject(error);
        });
    }
  }

  link(timeoutMs: number): PeerLink {
    return {
      replicate: (id, term, rows) => this.replicate(id, term, rows, timeoutMs),
      read: async (id, key): Promise<StoredRow | undefined> => {
        const reply = await this.call(id, { op: "PEER_READ", key }, timeoutMs);
        const row =
          reply["row"] === null ? undefined : parseRow(reply["row"], Number.MAX_SAFE_INTEGER);
        if (row === null) throw new KvError("UNAVAILABLE", `node ${id} sent a malformed row`);
        return row;
      },
      page: async (id, partition, after: Version, limit): Promise<StoredRow[]> => {
        const reply = await this.call(
          id,
          { op: "PEER_PAGE", partition, after, limit },
          CATCH_UP_TIMEOUT_MS,
        );
        const rows = reply["rows"];
        if (!Array.isArray(rows))
          throw new KvError("UNAVAILABLE", `node ${id} sent a malformed page`);
        const parsed = rows.map((r) => parseRow(r, Number.MAX_SAFE_INTEGER));
        if (parsed.some((r) => r === null))
          throw new KvError("UNAVAILABLE", `node ${id} sent a malformed row`);
        return parsed as StoredRow[];
      },
    };
  }
}
