// A small SVG line chart: one or more named series of (x, y) points on a linear or logarithmic x
// axis and a linear y axis from zero. Enough for benchmark plots committed next to the README;
// pure (returns the SVG text), so it is easy to test and the caller decides where it goes.

export interface ChartSeries {
  name: string;
  points: { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** "log" places the x values by their logarithm (sizes that grow by a factor). */
  xScale: "linear" | "log";
  /** "log" suits figures that span several powers of ten (SETs and GETs on one chart);
   * "linear" (the default) starts at zero. A log axis leaves out points with y <= 0. */
  yScale?: "linear" | "log";
  /** Text of an x tick; by default the number itself. */
  xFormat?: (x: number) => string;
  series: ChartSeries[];
}

const WIDTH = 560;
const HEIGHT = 320;
const MARGIN = { left: 70, right: 150, top: 36, bottom: 48 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

/** Escapes text for an SVG text node or attribute. */
function escapeXml(text: string): string {
  const entities: Record<string, string> =
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
  return text.replace(/[&<>"]/g, (c) => entities[c] ?? c);
}

/** A round step (1, 2 or 5 times a power of ten) giving about `count` ticks up to `max`. */
export function niceStep(max: number, count: number): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const factor = raw / power;
  const nice = factor <= 1 ? 1 : factor <= 2 ? 2 : factor <= 5 ? 5 : 10;
  return nice * power;
}

/** A number as short text: 12,300 → "12.3k", 2,000,000 → "2M", 0.25 → "0.25". */
export function shortNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e3) return `${trim(value / 1e3)}k`;
  return trim(value);
}

function trim(value: number): string {
  return String(Number(value.toPrecision(3)));
}

/** Ticks 1, 2 and 5 times the powers of ten from below `low` to above `high`. */
export function logTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let power = Math.floor(Math.log10(low)); power <= Math.ceil(Math.log10(high)); power++) {
    for (const factor of [1, 2, 5]) ticks.push(Number((factor * 10 ** power).toPrecision(1)));
  }
  const below = ticks.filter((t) => t <= low).pop() ?? low;
  const above = ticks.find((t) => t >= high) ?? high;
  return ticks.filter((t) => t >= below && t <= above);
}

/** The y ticks and where a y value goes, as a fraction of the plot's height from the bottom. */
function yAxis(values: number[], scale: "linear" | "log"): {
  ticks: number[];
  fraction: (y: number) => number;
} {
  if (scale === "log") {
    const ticks = values.length === 0
      ? [1, 10]
      : logTicks(Math.min(...values), Math.max(...values));
    const low = Math.log(ticks[0] as number);
    const span = Math.log(ticks[ticks.length - 1] as number) - low || 1;
    return { ticks, fraction: (y) => (Math.log(y) - low) / span };
  }
  const step = niceStep(Math.max(0, ...values), 5);
  const top = Math.max(step, Math.ceil(Math.max(0, ...values) / step) * step);
  const ticks: number[] = [];
  for (let y = 0; y <= top + step / 2; y += step) ticks.push(y);
  return { ticks, fraction: (y) => y / top };
}

/** The SVG document of a line chart. Points with a non-finite y are left out. */
export function lineChart(options: ChartOptions): string {
  const yScale = options.yScale ?? "linear";
  const series = options.series.map((s) => ({
    name: s.name,
    points: s.points.filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x) &&
      (yScale === "linear" || p.y > 0)),
  }));
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const y = yAxis(series.flatMap((s) => s.points.map((p) => p.y)), yScale);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xOf = xMapper(xs, options.xScale, plotWidth);
  const px = (x: number) => MARGIN.left + xOf(x);
  const py = (value: number) => MARGIN.top + plotHeight - y.fraction(value) * plotHeight;
  const format = options.xFormat ?? shortNumber;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" ` +
      `viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="13" font-weight="bold">` +
      `${escapeXml(options.title)}</text>`,
  ];
  for (const tick of y.ticks) {
    const at = py(tick).toFixed(1);
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${at}" y2="${at}" ` +
        `stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${at}" text-anchor="end" dominant-baseline="middle">` +
        `${shortNumber(tick)}</text>`,
    );
  }
  for (const x of xs) {
    const at = px(x).toFixed(1);
    const bottom = MARGIN.top + plotHeight;
    parts.push(
      `<line x1="${at}" x2="${at}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/>`,
      `<text x="${at}" y="${bottom + 16}" text-anchor="middle">${escapeXml(format(x))}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" ` +
      `fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 8}" text-anchor="middle">` +
      `${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(14 ${MARGIN.top + plotHeight / 2}) rotate(-90)" ` +
      `text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  series.forEach((s, i) => parts.push(...seriesParts(s, COLORS[i % COLORS.length] as string,
    i, px, py)));
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** Maps an x value to its offset in the plot: data extremes at the edges, with a small inset. */
function xMapper(xs: number[], scale: "linear" | "log", width: number): (x: number) => number {
  const inset = 16;
  const t = scale === "log" ? (x: number) => Math.log(x) : (x: number) => x;
  const low = t(xs[0] ?? 1);
  const high = t(xs[xs.length - 1] ?? 1);
  if (high === low) return () => width / 2;
  return (x) => inset + ((t(x) - low) / (high - low)) * (width - 2 * inset);
}

function seriesParts(
  s: ChartSeries,
  color: string,
  index: number,
  px: (x: number) => number,
  py: (y: number) => number,
): string[] {
  const sorted = [...s.points].sort((a, b) => a.x - b.x);
  const coordinates = sorted.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`);
  const legendY = MARGIN.top + 8 + index * 18;
  const legendX = WIDTH - MARGIN.right + 12;
  return [
    `<polyline points="${coordinates.join(" ")}" fill="none" stroke="${color}" ` +
      `stroke-width="2"/>`,
    ...coordinates.map((c) => {
      const [cx, cy] = c.split(",");
      return `<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`;
    }),
    `<line x1="${legendX}" x2="${legendX + 18}" y1="${legendY}" y2="${legendY}" ` +
      `stroke="${color}" stroke-width="2"/>`,
    `<text x="${legendX + 24}" y="${legendY}" dominant-baseline="middle">` +
      `${escapeXml(s.name)}</text>`,
  ];
}
