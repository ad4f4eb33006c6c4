// The node's read-only HTTP server (Bun.serve): /health, /ready, /metrics, /status, /history,
// /cluster and the status page at /. It starts before the node joins its cluster, so /health
// and /ready answer while the node starts; the node is attached once it runs. /cluster asks
// the other members' HTTP servers for their status and history, so the page works from any node.
import { ConfigError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { NodeMetrics } from "./node-metrics.ts";
import { type SeriesPoint, isSeriesPoint, mergeSeries, toChartPoints } from "./series.ts";
import { type NodeStatus, type NodeStatusSource, lagOf, readinessOf } from "./status.ts";
import statusPage from "./page/index.html";

/** How long /cluster waits for another node's answer: a dead node must not stall the page. */
const peerFetchTimeoutMs = 400;
const jsonHeaders = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
};
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8";

export interface OpsServerOptions {
  /** Address to bind. */
  readonly host: string;
  /** Port to bind; 0 picks a free one. */
  readonly port: number;
  /** Host other nodes and people use to reach this server. */
  readonly advertise: string;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
}

/** What one node says in /cluster: its status, or why it could not be asked. */
export interface ClusterNodeView {
  readonly id: number;
  readonly http: string | null;
  readonly alive: boolean;
  readonly status: NodeStatus | null;
  readonly error: string | null;
  /** Writes behind the leader over its partitions, when both answered. */
  readonly lag: number | null;
}

export class OpsServer {
  /** Base URL others use, e.g. http://10.0.0.1:7201. */
  readonly url: string;
  readonly port: number;
  private source: NodeStatusSource | null = null;
  /** The last history each other node sent: a node that died keeps its past on the charts. */
  private readonly peerHistories = new Map<number, SeriesPoint[]>();
  private readonly server: ReturnType<typeof Bun.serve>;
  private readonly timer: ReturnType<typeof setInterval>;

  private constructor(private readonly options: OpsServerOptions) {
    try {
      this.server = Bun.serve({
        hostname: options.host,
        port: options.port,
        development: false,
        routes: { "/": statusPage },
        fetch: (request) => this.answer(request),
        error: (error) => {
          options.log.error("http_handler_failed", { error: String(error) });
          return new Response("internal error\n", { status: 500 });
        },
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(
        `cannot serve HTTP on ${options.host}:${options.port} (--http-port): ${reason}; ` +
          "is another process using that port? (--http-port off serves no HTTP)",
      );
    }
    this.port = this.server.port ?? options.port;
    const host = options.advertise.includes(":") ? `[${options.advertise}]` : options.advertise;
    this.url = `http://${host}:${this.port}`;
    // The charts' per-second points; sampling here keeps the request path free of clock reads.
    const sample = (): void => options.metrics.sampleSecond(Math.floor(Date.now() / 1000));
    this.timer = setInterval(sample, 1000);
    sample();
  }

  static start(options: OpsServerOptions): OpsServer {
    return new OpsServer(options);
  }

  /** The running node: from now on /ready, /status and the gauges read it. */
  attach(source: NodeStatusSource): void {
    this.source = source;
    this.options.metrics.attach(source);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.server.stop(true);
  }

  private async answer(request: Request): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("read-only: only GET and HEAD\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/health":
        return Response.json({ status: "ok" }, { headers: jsonHeaders });
      case "/ready": {
        const readiness = readinessOf(this.source?.status() ?? null);
        const code = readiness.ready ? 200 : 503;
        return Response.json(readiness, { status: code, headers: jsonHeaders });
      }
      case "/metrics":
        return new Response(this.options.metrics.render(), {
          headers: { "content-type": metricsContentType },
        });
      case "/status":
        if (this.source === null) return this.notYet();
        return Response.json(this.source.status(), { headers: jsonHeaders });
      case "/history": {
        const series = this.options.metrics.series;
        return Response.json(
          { bounds: series.bounds, points: series.snapshot() },
          { headers: jsonHeaders },
        );
      }
      case "/cluster": {
        if (this.source === null) return this.notYet();
        const view = await this.clusterView(this.source.status());
        return Response.json(view, { headers: jsonHeaders });
      }
      default:
        return new Response(`no such page: ${path}\n`, { status: 404 });
    }
  }

  private notYet(): Response {
    return Response.json(
      { error: "this node is starting and has not joined its cluster yet" },
      { status: 503, headers: jsonHeaders },
    );
  }

  /** Every member's status (asked over HTTP), the merged charts and this node's events. */
  private async clusterView(self: NodeStatus): Promise<unknown> {
    const answers = await Promise.all(
      self.members.map(async (member): Promise<Omit<ClusterNodeView, "lag">> => {
        const base = { id: member.id, http: member.http, alive: member.alive };
        if (member.id === self.id) return { ...base, alive: true, status: self, error: null };
        if (member.http === null) return { ...base, status: null, error: "no HTTP address known" };
        if (!member.alive) return { ...base, status: null, error: "down" };
        try {
          const [status, history] = await Promise.all([
            fetchJson(`${member.http}/status`),
            fetchJson(`${member.http}/history`) as Promise<{ points?: unknown }>,
          ]);
          if (!looksLikeStatus(status, member.id)) {
            return { ...base, status: null, error: "answered something that is not a status" };
          }
          if (Array.isArray(history.points)) {
            this.peerHistories.set(member.id, history.points.filter(isSeriesPoint));
          }
          return { ...base, status, error: null };
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          return { ...base, status: null, error: reason };
        }
      }),
    );
    const leader = answers.find((n) => n.id === self.leader?.id)?.status ?? null;
    const nodes: ClusterNodeView[] = answers.map((n) => ({
      ...n, lag: n.status === null ? null : lagOf(n.status, leader),
    }));
    const bounds = this.options.metrics.series.bounds;
    const members = new Set(self.members.map((m) => m.id));
    for (const id of this.peerHistories.keys()) if (!members.has(id)) this.peerHistories.delete(id);
    const histories = [this.options.metrics.series.snapshot(), ...this.peerHistories.values()];
    return {
      self: self.id,
      version: this.options.metrics.version,
      nodes,
      chart: toChartPoints(bounds, mergeSeries(histories)),
      events: this.options.metrics.events.recent(),
    };
  }
}

// A light check of another node's /status: enough that the page can draw it.
function looksLikeStatus(value: unknown, id: number): value is NodeStatus {
  if (typeof value !== "object" || value === null) return false;
  const status = value as Record<string, unknown>;
  return status["id"] === id && typeof status["role"] === "string" &&
    Number.isSafeInteger(status["term"]) && Array.isArray(status["members"]) &&
    Array.isArray(status["partitions"]);
}

async function fetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(peerFetchTimeoutMs) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}
