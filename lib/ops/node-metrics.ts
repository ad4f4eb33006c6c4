// Everything one node counts: the Prometheus registry behind /metrics, the per-second request
// series behind the live charts, and the recent cluster events behind the page. It is the
// OpsRecorder the request, replication and storage code report to; gauges (term, in-sync
// replicas, queues, connections, memory) are read from the NodeStatusSource when rendered.
import { type Counter, type CounterChild, type Histogram, type HistogramChild, HistogramCell,
  Registry } from "./metrics.ts";
import type { OpsRecorder } from "./recorder.ts";
import { RequestSeries } from "./series.ts";
import { type ClusterEventKind, EventLog, type NodeStatusSource, readinessOf } from "./status.ts";

/** Latency bucket bounds in seconds, 1-2-5 steps from 50 µs to 5 s. */
export const latencyBoundsSeconds: readonly number[] = [
  0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
];

/** Five minutes of one-second points for the charts. */
const seriesPointsMax = 300;
const eventsMax = 100;
const dataOps = new Set(["SET", "GET", "DELETE"]);

export class NodeMetrics implements OpsRecorder {
  readonly registry = new Registry();
  readonly events = new EventLog(eventsMax);
  readonly series = new RequestSeries(latencyBoundsSeconds, seriesPointsMax);
  private source: NodeStatusSource | null = null;
  private readonly requests: Counter;
  private readonly requestSeconds: Histogram;
  private readonly peerRequests: Counter;
  private readonly peerSeconds: Histogram;
  private readonly replicatedRows: Counter;
  private readonly readCacheReads: Counter;
  private readonly catchUps: Counter;
  private readonly commits: Counter;
  private readonly committedRows: Counter;
  private readonly commitSeconds: HistogramChild;
  private readonly leaderChanges: Counter;
  // Children bound once per label set: the hot path then does a map lookup and an addition.
  private readonly requestChildren =
    new Map<string, Map<string, { n: CounterChild; s: HistogramChild }>>();
  private readonly peerChildren = new Map<string, { n: CounterChild; s: HistogramChild }>();
  /** SET/GET/DELETE only, all ops together: what the charts draw. */
  private readonly chartLatency = new HistogramCell(latencyBoundsSeconds);
  private chartErrors = 0;

  constructor(
    readonly version: string,
    private readonly now: () => number = Date.now,
  ) {
    const r = this.registry;
    r.gauge("warehouse_build_info", "Version of this node; the value is always 1.", ["version"],
      () => [[[version], 1]]);
    this.requests = r.counter("warehouse_requests_total",
      "Client requests answered, by op and outcome (ok or the error code).", ["op", "outcome"]);
    this.requestSeconds = r.histogram("warehouse_request_duration_seconds",
      "Time from receiving a client request to sending its reply.", ["op"], latencyBoundsSeconds);
    this.peerRequests = r.counter("warehouse_peer_requests_total",
      "Requests this node sent to other nodes, by peer, op and outcome.",
      ["peer", "op", "outcome"]);
    this.peerSeconds = r.histogram("warehouse_peer_request_duration_seconds",
      "Round-trip time of requests to other nodes, by peer and op.", ["peer", "op"],
      latencyBoundsSeconds);
    this.replicatedRows = r.counter("warehouse_replicated_rows_total",
      "Rows the leader sent to replicas, by peer and outcome.", ["peer", "outcome"]);
    this.readCacheReads = r.counter("warehouse_read_cache_reads_total",
      "Reads of partitions this node leads but does not hold, by outcome: hit (answered from " +
        "the leader's read cache) or miss (read from a replica).", ["outcome"]);
    this.catchUps = r.counter("warehouse_catch_ups_total",
      "Replicas that re-entered a partition's in-sync set while this node led " +
        "(catch-ups it completed), by outcome.", ["outcome"]);
    this.commits = r.counter("warehouse_storage_commits_total",
      "Group commits (sqlite transactions) on this node.");
    this.committedRows = r.counter("warehouse_storage_committed_rows_total",
      "Rows written by those commits.");
    this.commitSeconds = r.histogram("warehouse_storage_commit_duration_seconds",
      "Time of one group commit, its fsync included (synchronous=FULL).", [],
      latencyBoundsSeconds).labels();
    this.leaderChanges = r.counter("warehouse_leader_changes_total",
      "Times this node saw the leader change.");
    this.registerGauges();
  }

  /** The node to read gauges from, once it runs. */
  attach(source: NodeStatusSource): void {
    this.source = source;
  }

  render(): string {
    return this.registry.render();
  }

  /** Called once a second with the wall-clock second: closes one point of the charts. */
  sampleSecond(t: number): void {
    this.series.sample(t, {
      count: this.chartLatency.count,
      errors: this.chartErrors,
      buckets: this.chartLatency.counts,
    });
  }

  // ---- OpsRecorder ------------------------------------------------------------------------

  request(op: string, outcome: string, seconds: number): void {
    // Nested maps rather than a joined key: no string is built per request.
    let byOutcome = this.requestChildren.get(op);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.requestChildren.set(op, byOutcome);
    }
    let child = byOutcome.get(outcome);
    if (child === undefined) {
      child = { n: this.requests.labels(op, outcome), s: this.requestSeconds.labels(op) };
      byOutcome.set(outcome, child);
    }
    child.n.inc();
    child.s.observe(seconds);
    if (dataOps.has(op)) {
      this.chartLatency.observe(seconds);
      if (outcome !== "ok") this.chartErrors += 1;
    }
  }

  peerRequest(peer: number, op: string, outcome: string, seconds: number): void {
    const key = `${peer} ${op} ${outcome}`;
    let child = this.peerChildren.get(key);
    if (child === undefined) {
      child = {
        n: this.peerRequests.labels(String(peer), op, outcome),
        s: this.peerSeconds.labels(String(peer), op),
      };
      this.peerChildren.set(key, child);
    }
    child.n.inc();
    child.s.observe(seconds);
  }

  replicated(peer: number, rows: number, outcome: "ok" | "failed"): void {
    this.replicatedRows.labels(String(peer), outcome).inc(rows);
  }

  readCached(outcome: "hit" | "miss"): void {
    this.readCacheReads.labels(outcome).inc();
  }

  catchUp(outcome: "ok" | "failed"): void {
    this.catchUps.labels(outcome).inc();
  }

  storageCommit(rows: number, seconds: number): void {
    this.commits.labels().inc();
    this.committedRows.labels().inc(rows);
    this.commitSeconds.observe(seconds);
  }

  leaderChanged(leader: number | null, term: number): void {
    this.leaderChanges.labels().inc();
    const text =
      leader === null ? `no leader (term ${term})` : `node ${leader} leads, term ${term}`;
    this.event("leader_changed", text);
  }

  memberAdded(member: number, endpoint: string): void {
    this.event("member_added", `node ${member} joined at ${endpoint}`);
  }

  memberUp(member: number): void {
    this.event("member_up", `node ${member} is up`);
  }

  memberDown(member: number): void {
    this.event("member_down", `node ${member} is down`);
  }

  /** Records an event of this node's own (e.g. that it started). */
  event(kind: ClusterEventKind, text: string): void {
    this.events.add({ ts: this.now(), kind, text });
  }

  // ---- gauges -----------------------------------------------------------------------------

  private registerGauges(): void {
    const r = this.registry;
    const status = () => this.source?.status() ?? null;
    const gauges = () => this.source?.gauges() ?? null;
    const one = (value: number | undefined) =>
      value === undefined ? [] : [[[], value] as const];
    r.gauge("warehouse_ready", "1 when /ready answers 200.", [],
      () => one(readinessOf(status()).ready ? 1 : 0));
    r.gauge("warehouse_term", "The term this node is in.", [], () => one(status()?.term));
    r.gauge("warehouse_is_leader", "1 on the leader, 0 elsewhere.", [],
      () => one(status() === null ? undefined : status()?.role === "leader" ? 1 : 0));
    r.gauge("warehouse_members", "Members this node knows, by state.", ["state"], () => {
      const members = status()?.members ?? [];
      const alive = members.filter((m) => m.alive).length;
      return [[["alive"], alive], [["down"], members.length - alive]] as const;
    });
    r.gauge("warehouse_replication_factor", "Replicas each partition should have.", [],
      () => one(status()?.rf));
    r.gauge("warehouse_partition_insync_replicas",
      "Replicas of each partition known to hold every acknowledged write.", ["partition"],
      () => (status()?.partitions ?? [])
        .map((p) => [[String(p.partition)], p.insync.length] as const));
    r.gauge("warehouse_lagging_partitions",
      "Partitions placed on this node that it does not hold in sync yet.", [],
      () => one(status()?.laggingPartitions));
    r.gauge("warehouse_commit_queue_rows", "Writes waiting for the next group commit.", [],
      () => one(gauges()?.commitQueueRows));
    r.gauge("warehouse_peer_pending_requests",
      "Requests sent to each peer and not answered yet.", ["peer"],
      () => [...(gauges()?.peerPendingRequests ?? new Map<number, number>())]
        .map(([peer, n]) => [[String(peer)], n] as const));
    r.gauge("warehouse_connections", "Open connections, by socket.", ["socket"], () => {
      const g = gauges();
      if (g === null) return [];
      return [[["request"], g.requestConnections], [["publish"], g.publishConnections]] as const;
    });
    r.gauge("warehouse_client_requests_in_flight",
      "Client requests read and not answered yet (reading pauses at the caps).", [],
      () => one(gauges()?.clientRequestsInFlight));
    r.gauge("warehouse_client_buffer_bytes",
      "Bytes held for clients: requests in flight and replies not yet written.", [],
      () => one(gauges()?.clientBufferBytes));
    r.gauge("process_resident_memory_bytes", "Resident memory of this process.", [],
      () => one(process.memoryUsage().rss));
    r.gauge("warehouse_heap_used_bytes", "JavaScript heap in use.", [],
      () => one(process.memoryUsage().heapUsed));
    const startSeconds = Math.floor(this.now() / 1000);
    r.gauge("process_start_time_seconds", "When this process started, Unix time.", [],
      () => one(startSeconds));
  }
}
