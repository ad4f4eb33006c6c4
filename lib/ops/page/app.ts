/// <reference lib="dom" />
// The status page's script (runs in the browser; Bun bundles it when the node starts). Polls
// this node's /cluster twice a second and redraws: nodes and who leads, the partition grid, the
// charts (SVG drawn here, no library) and the recent events. Uses nothing from the internet.
import type { ClusterNodeView } from "../http-server.ts";
import type { ChartPoint } from "../series.ts";
import type { ClusterEvent, NodeStatus } from "../status.ts";

interface ClusterView {
  self: number;
  version: string;
  nodes: ClusterNodeView[];
  chart: ChartPoint[];
  events: ClusterEvent[];
}

const pollIntervalMs = 500;
const chartWindowMinSeconds = 60;
const chartWindowMaxSeconds = 300;
const svgNs = "http://www.w3.org/2000/svg";

function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`page has no #${id}`);
  return element;
}

function el(tag: string, attributes: Record<string, string> = {}, text?: string): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function svg(tag: string, attributes: Record<string, string | number>): SVGElement {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function leaderOf(view: ClusterView): NodeStatus["leader"] {
  const self = view.nodes.find((n) => n.id === view.self)?.status;
  return self?.leader ?? null;
}

// ---- nodes ------------------------------------------------------------------------------

function renderNodes(view: ClusterView): void {
  const leaderId = leaderOf(view)?.id ?? null;
  const cards = view.nodes.map((node) => {
    const status = node.status;
    const isDown = !node.alive || status === null;
    const role = isDown ? "down" : status.role;
    const card = el("div", {
      class: "node",
      "data-node-id": String(node.id),
      "data-state": isDown ? "down" : "alive",
      "data-role": role,
    });
    const here = node.id === view.self ? " (this page)" : "";
    card.append(el("div", { class: "title" }, `node ${node.id}${here}`));
    card.append(el("div", { class: "role" }, role));
    if (status !== null) {
      card.append(el("div", {}, status.endpoint));
      const lagText = node.lag === null ? "" : `, ${node.lag} writes behind`;
      card.append(el("div", { class: "muted" },
        `term ${status.term}, ${status.laggingPartitions} partitions catching up${lagText}`));
    } else {
      card.append(el("div", { class: "muted" }, node.error ?? "no answer"));
    }
    return card;
  });
  byId("nodes").replaceChildren(...cards);
  const alive = view.nodes.filter((n) => n.alive).length;
  const term = view.nodes.find((n) => n.id === view.self)?.status?.term ?? 0;
  const leaderText = leaderId === null ? "no leader" : `leader: node ${leaderId}`;
  const summary = byId("summary");
  summary.textContent =
    `${alive} of ${view.nodes.length} nodes up · ${leaderText} · term ${term}`;
  summary.dataset["leader"] = leaderId === null ? "" : String(leaderId);
}

// ---- partition grid ---------------------------------------------------------------------

function renderGrid(view: ClusterView): void {
  const self = view.nodes.find((n) => n.id === view.self)?.status;
  if (self === undefined || self === null) return;
  const titles = {
    insync: "replica, in sync", lagging: "replica, catching up", down: "replica on a down node",
    surplus: "old copy, being handed over", none: "not here",
  };
  const rows = view.nodes.map((node) => {
    const row = el("div", { class: "row", "data-node-id": String(node.id) });
    row.append(el("span", { class: "label" }, `node ${node.id}`));
    const isDown = !node.alive || node.status === null;
    for (const p of self.partitions) {
      const isReplica = p.replicas.includes(node.id);
      const isInsync = p.insync.includes(node.id);
      const kind: keyof typeof titles = isReplica
        ? (isDown ? "down" : isInsync ? "insync" : "lagging")
        : isInsync ? "surplus" : "none";
      const title = `partition ${p.partition} on node ${node.id}: ${titles[kind]}`;
      row.append(el("span", { class: `cell ${kind}`, title }));
    }
    return row;
  });
  byId("grid").replaceChildren(...rows);
}

// ---- charts -----------------------------------------------------------------------------

function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function drawChart(
  target: SVGSVGElement,
  points: ChartPoint[],
  lines: { className: string; value: (p: ChartPoint) => number | null }[],
): void {
  const width = 600;
  const height = 180;
  const last = points.at(-1)?.t ?? Math.floor(Date.now() / 1000);
  // The window grows with the history, from one minute up to five.
  const span = Math.min(chartWindowMaxSeconds,
    Math.max(chartWindowMinSeconds, last - (points[0]?.t ?? last)));
  const first = last - span;
  const shown = points.filter((p) => p.t >= first);
  const values = shown.flatMap((p) => lines.map((l) => l.value(p) ?? 0));
  // A top that divides into four round steps.
  const top = 4 * niceCeiling(Math.max(0, ...values) / 4);
  const x = (t: number) => ((t - first) / span) * width;
  const y = (v: number) => height - 4 - (v / top) * (height - 20);
  const children: SVGElement[] = [];
  for (let i = 0; i <= 4; i++) {
    const value = (top * i) / 4;
    children.push(svg("line", { class: "grid", x1: 0, x2: width, y1: y(value), y2: y(value) }));
    const label = svg("text", { x: 4, y: y(value) - 2 });
    label.textContent = value >= 10 ? value.toFixed(0) : String(Number(value.toPrecision(2)));
    children.push(label);
  }
  for (const line of lines) {
    let d = "";
    for (const p of shown) {
      const v = line.value(p);
      if (v === null) continue;
      d += `${d === "" ? "M" : "L"}${x(p.t).toFixed(1)},${y(v).toFixed(1)}`;
    }
    children.push(svg("path", { class: `line ${line.className}`, d }));
  }
  const since = svg("text", { x: width - 4, y: height - 6, "text-anchor": "end" });
  since.textContent = `last ${span >= 120 ? `${Math.round(span / 60)} min` : `${span} s`}`;
  children.push(since);
  target.replaceChildren(...children);
}

function renderCharts(view: ClusterView): void {
  drawChart(byId("throughput") as unknown as SVGSVGElement, view.chart,
    [{ className: "count", value: (p) => p.count }]);
  drawChart(byId("latency") as unknown as SVGSVGElement, view.chart, [
    { className: "p50", value: (p) => p.p50Ms },
    { className: "p99", value: (p) => p.p99Ms },
  ]);
}

// ---- events -----------------------------------------------------------------------------

function renderEvents(view: ClusterView): void {
  const items = view.events.map((event) => {
    const item = el("li", { "data-kind": event.kind });
    item.append(el("time", {}, new Date(event.ts).toLocaleTimeString()));
    item.append(document.createTextNode(event.text));
    return item;
  });
  byId("events").replaceChildren(...items);
}

// ---- polling ----------------------------------------------------------------------------

async function poll(): Promise<void> {
  const banner = byId("banner");
  try {
    const response = await fetch("/cluster", { cache: "no-store" });
    if (!response.ok) throw new Error(`this node answered ${response.status}`);
    const view = (await response.json()) as ClusterView;
    renderNodes(view);
    renderGrid(view);
    renderCharts(view);
    renderEvents(view);
    banner.hidden = true;
    byId("updated").textContent = `node ${view.self}, v${view.version}, ` +
      `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    banner.hidden = false;
    banner.textContent = `Cannot reach this node: ${String(error)}. Open the page on another node.`;
  }
  setTimeout(() => void poll(), pollIntervalMs);
}

void poll();
