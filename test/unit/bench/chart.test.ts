// The benchmark charts' SVG writer: round tick steps, short numbers, one polyline and one
// marker per point of each series, log and linear x placement, escaped text.
import { expect, test } from "bun:test";
import { lineChart, logTicks, niceStep, shortNumber } from "../../../bench/scale/chart.ts";

/** The (x, y) pairs of the first polyline in an SVG text. */
function polylinePoints(svg: string, index = 0): [number, number][] {
  const lines = [...svg.matchAll(/<polyline points="([^"]*)"/g)];
  const points = (lines[index]?.[1] ?? "").split(" ").filter(Boolean);
  return points.map((p) => p.split(",").map(Number) as [number, number]);
}

test("tick steps are 1, 2 or 5 times a power of ten, about count of them up to max", () => {
  expect([niceStep(100, 5), niceStep(4300, 5), niceStep(0.9, 5), niceStep(7, 5)])
    .toEqual([20, 1000, 0.2, 2]);
  expect(niceStep(0, 5)).toBe(1);
});

test("numbers are shortened with k and M", () => {
  expect([shortNumber(950), shortNumber(5000), shortNumber(12_345), shortNumber(2_000_000)])
    .toEqual(["950", "5k", "12.3k", "2M"]);
  expect(shortNumber(0.25)).toBe("0.25");
});

test("each series is one polyline with a marker per point, left to right, y growing upward", () => {
  const svg = lineChart({
    title: "t", xLabel: "x", yLabel: "y", xScale: "linear",
    series: [
      { name: "a", points: [{ x: 3, y: 10 }, { x: 1, y: 0 }, { x: 2, y: 5 }] },
      { name: "b", points: [{ x: 1, y: 1 }, { x: 3, y: NaN }] },
    ],
  });
  expect(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expect([...svg.matchAll(/<polyline /g)].length).toBe(2);
  // Three markers for a, one for b: its NaN point is left out.
  expect([...svg.matchAll(/<circle /g)].length).toBe(4);
  const [first, second, third] = polylinePoints(svg) as [[number, number], [number, number],
    [number, number]];
  // Sorted by x with equal steps on a linear axis; a larger y is drawn higher (smaller SVG y).
  expect(second[0] - first[0]).toBeGreaterThan(0);
  expect(second[0] - first[0]).toBeCloseTo(third[0] - second[0], 5);
  expect(third[1]).toBeLessThan(second[1]);
  expect(second[1]).toBeLessThan(first[1]);
});

test("a log x axis spaces values that grow by the same factor evenly", () => {
  const svg = lineChart({
    title: "t", xLabel: "x", yLabel: "y", xScale: "log",
    series: [{ name: "a", points: [1, 4, 16, 64].map((x) => ({ x, y: x })) }],
  });
  const xs = polylinePoints(svg).map(([x]) => x);
  const steps = xs.slice(1).map((x, i) => x - (xs[i] as number));
  for (const step of steps) expect(step).toBeCloseTo(steps[0] as number, 0);
});

test("titles, labels and series names are escaped", () => {
  const svg = lineChart({
    title: "a < b & c", xLabel: "\"x\"", yLabel: "y", xScale: "linear",
    series: [{ name: "<s>", points: [{ x: 1, y: 1 }] }],
  });
  expect(svg).toContain("a &lt; b &amp; c");
  expect(svg).toContain("&quot;x&quot;");
  expect(svg).toContain("&lt;s&gt;");
  expect(svg).not.toContain("<s>");
});

test("a log y axis has 1-2-5 ticks spanning the values and leaves out points at or below zero", () => {
  expect(logTicks(1.3, 420)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500]);
  expect(logTicks(0.3, 0.9)).toEqual([0.2, 0.5, 1]);
  const svg = lineChart({
    title: "t", xLabel: "x", yLabel: "y", xScale: "linear", yScale: "log",
    series: [{ name: "a", points: [{ x: 1, y: 10 }, { x: 2, y: 100 }, { x: 3, y: 0 }] }],
  });
  expect([...svg.matchAll(/<circle /g)].length).toBe(2);
  // 10 and 100 are one decade apart, as 100 and 1000 would be: ticks 10, 20, 50, 100.
  const [low, high] = polylinePoints(svg) as [[number, number], [number, number]];
  expect(low[1]).toBeGreaterThan(high[1]);
  expect(svg).toContain(">20</text>");
  expect(svg).toContain(">50</text>");
});
