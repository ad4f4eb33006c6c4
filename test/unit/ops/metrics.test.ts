// The metrics registry renders what a Prometheus scraper accepts (checked by a strict parser),
// and the parser itself refuses malformed expositions.
import { describe, expect, test } from "bun:test";
import { Registry } from "../../../lib/ops/metrics.ts";
import { NodeMetrics } from "../../../lib/ops/node-metrics.ts";
import { parsePrometheusText, sampleValue } from "../../harness/prometheus.ts";

describe("Registry", () => {
  test("counters, gauges and histograms render in the text format", () => {
    const registry = new Registry();
    const requests = registry.counter("t_requests_total", "Requests.", ["op", "outcome"]);
    requests.labels("GET", "ok").inc();
    requests.labels("GET", "ok").inc(2);
    requests.labels("SET", "TIMEOUT").inc();
    registry.gauge("t_term", "Term.", [], () => [[[], 7]]);
    const latency = registry.histogram("t_seconds", "Latency.", ["op"], [0.001, 0.01, 0.1]);
    latency.labels("GET").observe(0.0005);
    latency.labels("GET").observe(0.001);
    latency.labels("GET").observe(0.05);
    latency.labels("GET").observe(3);
    expect(registry.render()).toBe([
      "# HELP t_requests_total Requests.",
      "# TYPE t_requests_total counter",
      't_requests_total{op="GET",outcome="ok"} 3',
      't_requests_total{op="SET",outcome="TIMEOUT"} 1',
      "# HELP t_term Term.",
      "# TYPE t_term gauge",
      "t_term 7",
      "# HELP t_seconds Latency.",
      "# TYPE t_seconds histogram",
      // An observation equal to a bound falls in that bound's bucket (le = less or equal).
      't_seconds_bucket{op="GET",le="0.001"} 2',
      't_seconds_bucket{op="GET",le="0.01"} 2',
      't_seconds_bucket{op="GET",le="0.1"} 3',
      't_seconds_bucket{op="GET",le="+Inf"} 4',
      't_seconds_sum{op="GET"} 3.0515',
      't_seconds_count{op="GET"} 4',
      "",
    ].join("\n"));
  });

  test("label values and help are escaped, and parse back to what was given", () => {
    const registry = new Registry();
    const odd = 'a "quoted" \\ back\nslash';
    registry.counter("t_total", "Help with \\ and\nnewline.", ["v"]).labels(odd).inc();
    const text = registry.render();
    expect(text).toContain('t_total{v="a \\"quoted\\" \\\\ back\\nslash"} 1');
    const families = parsePrometheusText(text);
    expect(families.get("t_total")?.help).toBe("Help with \\ and\nnewline.");
    expect(sampleValue(families, "t_total", { v: odd })).toBe(1);
  });

  test("programmer errors are refused: bad names, twice registered, negative increments", () => {
    const registry = new Registry();
    expect(() => registry.counter("bad-name", "x")).toThrow(RangeError);
    expect(() => registry.counter("ok_total", "x", ["le"])).toThrow(RangeError);
    registry.counter("ok_total", "x");
    expect(() => registry.counter("ok_total", "x")).toThrow(RangeError);
    const c = registry.counter("c_total", "x", ["a"]);
    expect(() => c.labels("1").inc(-1)).toThrow(RangeError);
    expect(() => c.labels()).toThrow(RangeError);
    expect(() => registry.histogram("h", "x", [], [1, 1])).toThrow(RangeError);
  });
});

describe("NodeMetrics", () => {
  test("a fresh node's metrics parse, and recorded events move their counters", () => {
    const metrics = new NodeMetrics("9.9.9", () => 1_000_000);
    const before = parsePrometheusText(metrics.render());
    expect(sampleValue(before, "warehouse_build_info", { version: "9.9.9" })).toBe(1);
    expect(sampleValue(before, "warehouse_storage_commits_total")).toBe(0);
    metrics.request("SET", "ok", 0.002);
    metrics.request("SET", "ok", 0.004);
    metrics.request("GET", "NOT_LEADER", 0.0001);
    metrics.peerRequest(2, "PEER_REPLICATE", "ok", 0.0007);
    metrics.replicated(2, 5, "ok");
    metrics.storageCommit(5, 0.003);
    metrics.catchUp("failed");
    metrics.leaderChanged(1, 4);
    const after = parsePrometheusText(metrics.render());
    expect(sampleValue(after, "warehouse_requests_total", { op: "SET", outcome: "ok" })).toBe(2);
    expect(sampleValue(after, "warehouse_requests_total", { op: "GET", outcome: "NOT_LEADER" }))
      .toBe(1);
    expect(sampleValue(after, "warehouse_request_duration_seconds_count", { op: "SET" })).toBe(2);
    expect(sampleValue(after, "warehouse_peer_request_duration_seconds_count",
      { peer: "2", op: "PEER_REPLICATE" })).toBe(1);
    expect(sampleValue(after, "warehouse_replicated_rows_total", { peer: "2", outcome: "ok" }))
      .toBe(5);
    expect(sampleValue(after, "warehouse_storage_committed_rows_total")).toBe(5);
    expect(sampleValue(after, "warehouse_catch_ups_total", { outcome: "failed" })).toBe(1);
    expect(sampleValue(after, "warehouse_leader_changes_total")).toBe(1);
    expect(metrics.events.recent()).toEqual([
      { ts: 1_000_000, kind: "leader_changed", text: "node 1 leads, term 4" },
    ]);
  });

  test("the charts count SET, GET and DELETE per second, errors apart, not HEARTBEAT", () => {
    const metrics = new NodeMetrics("1.0.0");
    metrics.sampleSecond(100);
    metrics.request("SET", "ok", 0.001);
    metrics.request("GET", "UNAVAILABLE", 0.001);
    metrics.request("HEARTBEAT", "ok", 0.001);
    metrics.sampleSecond(101);
    metrics.sampleSecond(102);
    const points = metrics.series.snapshot();
    expect(points.map((p) => [p.t, p.count, p.errors])).toEqual([[101, 2, 1], [102, 0, 0]]);
  });
});

describe("the test parser", () => {
  const bad: [string, string][] = [
    ["no newline at the end", "# TYPE a counter\na 1"],
    ["a sample without TYPE", "b 1\n"],
    ["a bad value", "# TYPE a counter\na one\n"],
    ["an unterminated label", '# TYPE a counter\na{x="1} 1\n'],
    ["a bad escape", '# TYPE a counter\na{x="\\t"} 1\n'],
    ["buckets that go down", '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n' +
      "h_count 1\nh_sum 1\n"],
    ["+Inf not equal to _count", '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 1\n'],
  ];
  for (const [what, text] of bad) {
    test(`refuses ${what}`, () => {
      expect(() => parsePrometheusText(text)).toThrow();
    });
  }
});
