// Per-second points, their merge across nodes and the quantile estimate drawn on the charts.
import { expect, test } from "bun:test";
import {
  RequestSeries, isSeriesPoint, mergeSeries, quantileOf, toChartPoints,
} from "../../../lib/ops/series.ts";

const bounds = [0.001, 0.01, 0.1];

test("quantiles interpolate inside the bucket that holds them", () => {
  // 10 requests up to 1 ms, 10 between 1 and 10 ms.
  expect(quantileOf(bounds, [10, 10, 0, 0], 0.5)).toBeCloseTo(0.001);
  expect(quantileOf(bounds, [10, 10, 0, 0], 0.75)).toBeCloseTo(0.0055);
  expect(quantileOf(bounds, [0, 0, 4, 0], 0.99)).toBeCloseTo(0.01 + 0.09 * 0.99);
  // Beyond the last bound the estimate stops at it.
  expect(quantileOf(bounds, [0, 0, 0, 3], 0.5)).toBe(0.1);
  expect(quantileOf(bounds, [0, 0, 0, 0], 0.5)).toBeNull();
});

test("a series keeps the newest points, each the difference since the last sample", () => {
  const series = new RequestSeries(bounds, 2);
  series.sample(10, { count: 5, errors: 1, buckets: [5, 0, 0, 0] });
  series.sample(11, { count: 8, errors: 1, buckets: [6, 2, 0, 0] });
  series.sample(12, { count: 8, errors: 1, buckets: [6, 2, 0, 0] });
  series.sample(13, { count: 9, errors: 2, buckets: [6, 2, 1, 0] });
  expect(series.snapshot()).toEqual([
    { t: 12, count: 0, errors: 0, buckets: [0, 0, 0, 0] },
    { t: 13, count: 1, errors: 1, buckets: [0, 0, 1, 0] },
  ]);
});

test("points from several nodes add up second by second, and chart points carry p50/p99", () => {
  const a = [{ t: 5, count: 2, errors: 0, buckets: [2, 0, 0, 0] }];
  const b = [
    { t: 4, count: 1, errors: 1, buckets: [0, 1, 0, 0] },
    { t: 5, count: 2, errors: 0, buckets: [0, 2, 0, 0] },
  ];
  const merged = mergeSeries([a, b]);
  expect(merged).toEqual([
    { t: 4, count: 1, errors: 1, buckets: [0, 1, 0, 0] },
    { t: 5, count: 4, errors: 0, buckets: [2, 2, 0, 0] },
  ]);
  const chart = toChartPoints(bounds, merged);
  expect(chart[1]).toEqual({ t: 5, count: 4, errors: 0, p50Ms: 1, p99Ms: 9.82 });
});

test("points from the network are checked before they are merged", () => {
  expect(isSeriesPoint({ t: 1, count: 1, errors: 0, buckets: [1] })).toBe(true);
  for (const bad of [null, 3, { t: 1.5, count: 1, errors: 0, buckets: [] },
    { t: 1, count: "1", errors: 0, buckets: [] }, { t: 1, count: 1, errors: 0, buckets: ["x"] },
    { t: 1, count: 1, errors: 0 }]) {
    expect(isSeriesPoint(bad)).toBe(false);
  }
});
