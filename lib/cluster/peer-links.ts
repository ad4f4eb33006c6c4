// One PeerRpc per member, replaced when a member's endpoint changes, and the typed calls the
// coordinator and catch-up make over them.
import { KvError } from "../util/errors.ts";
import type { OpsRecorder } from "../ops/index.ts";
import type { StoredRow, Version } from "../store/index.ts";
import { type PeerLink, StaleTermError } from "./coordinator.ts";
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

  constructor(private readonly recorder: OpsRecorder) {}

  set(id: number, endpoint: string): void {
    const existing = this.rpcs.get(id);
    if (existing?.endpoint === endpoint) return;
    void existing?.close();
    this.rpcs.set(id, new PeerRpc(endpoint));
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
    this.rpcs.set(id, new PeerRpc(existing.endpoint));
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
    const op = typeof body["op"] === "string" ? body["op"] : "unknown";
    const started = performance.now();
    let reply: PeerReply;
    try {
      reply = await rpc.request(body, timeoutMs);
    } catch (error) {
      const code = error instanceof KvError ? error.code : "ERROR";
      this.recorder.peerRequest(id, op, code, (performance.now() - started) / 1000);
      throw error;
    }
    const outcome = reply.ok ? "ok" : reply.error.code;
    this.recorder.peerRequest(id, op, outcome, (performance.now() - started) / 1000);
    if (!reply.ok && reply.error.code === "STALE_TERM") {
      throw new StaleTermError(`node ${id} has seen a newer leader: ${reply.error.message}`);
    }
    if (!reply.ok) throw new KvError("UNAVAILABLE", `node ${id} refused: ${reply.error.message}`);
    return reply;
  }

  /** Requests sent to each peer and not answered yet. */
  pendingCounts(): Map<number, number> {
    return new Map([...this.rpcs].map(([id, rpc]) => [id, rpc.pendingCount]));
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
          this.recorder.replicated(id, rows.length, "ok");
          rows.forEach((q, i) => {
            const r = results[i] as { applied?: unknown; existed?: unknown } | undefined;
            q.resolve({ applied: r?.applied === true, existed: r?.existed === true });
          });
        })
        .catch((error: unknown) => {
          this.recorder.replicated(id, rows.length, "failed");
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
