// The live charts' data: one point per second of client requests (count, errors, latency
// bucket counts), kept for the last few minutes, and quantiles estimated from bucket counts.
// Pure: the caller passes the time and the cumulative counts; points from several nodes merge
// exactly because they share the same bucket bounds.

/** One second of requests on one node, or summed over nodes. */
export interface SeriesPoint {
  /** Unix time in whole seconds at the end of the interval. */
  readonly t: number;
  readonly count: number;
  readonly errors: number;
  /** Requests per latency bucket (not cumulative); the last bucket is above every bound. */
  readonly buckets: readonly number[];
}

/** A point with its quantiles, as the page draws it. */
export interface ChartPoint {
  readonly t: number;
  readonly count: number;
  readonly errors: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

interface Cumulative {
  readonly count: number;
  readonly errors: number;
  readonly buckets: readonly number[];
}

/** A ring of per-second points built from cumulative counters sampled once a second. */
export class RequestSeries {
  private readonly points: SeriesPoint[] = [];
  private last: Cumulative | null = null;

  constructor(
    readonly bounds: readonly number[],
    private readonly pointsMax: number,
  ) {}

  /** Records the interval since the previous sample (the first sample only sets the base). */
  sample(t: number, now: Cumulative): void {
    const last = this.last;
    this.last = { count: now.count, errors: now.errors, buckets: [...now.buckets] };
    if (last === null) return;
    this.points.push({
      t,
      count: now.count - last.count,
      errors: now.errors - last.errors,
      buckets: now.buckets.map((n, i) => n - (last.buckets[i] ?? 0)),
    });
    const extra = this.points.length - this.pointsMax;
    if (extra > 0) this.points.splice(0, extra);
  }

  snapshot(): SeriesPoint[] {
    return [...this.points];
  }
}

/**
 * Estimates quantile `q` (0..1) from bucket counts, interpolating linearly inside the bucket
 * that holds it (as Prometheus' histogram_quantile does). Null when there are no samples.
 * Above the last bound the estimate is the last bound: the true value is unknown there.
 */
export function quantileOf(
  bounds: readonly number[],
  buckets: readonly number[],
  q: number,
): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i] ?? 0;
    if (n > 0 && below + n >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1] ?? null;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return lower + (upper - lower) * ((rank - below) / n);
    }
    below += n;
  }
  return bounds[bounds.length - 1] ?? null;
}

/** True for a point as another node's /history sends it (checked: it came over the network). */
export function isSeriesPoint(value: unknown): value is SeriesPoint {
  if (typeof value !== "object" || value === null) return false;
  const { t, count, errors, buckets } = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(t) && Number.isFinite(count) && Number.isFinite(errors) &&
    Array.isArray(buckets) && buckets.length <= 64 && buckets.every((n) => Number.isFinite(n))
  );
}

/** Sums points from several nodes second by second; the result is sorted by time. */
export function mergeSeries(series: readonly (readonly SeriesPoint[])[]): SeriesPoint[] {
  const byTime = new Map<number, { count: number; errors: number; buckets: number[] }>();
  for (const points of series) {
    for (const point of points) {
      const sum = byTime.get(point.t) ?? { count: 0, errors: 0, buckets: [] };
      sum.count += point.count;
      sum.errors += point.errors;
      point.buckets.forEach((n, i) => (sum.buckets[i] = (sum.buckets[i] ?? 0) + n));
      byTime.set(point.t, sum);
    }
  }
  return [...byTime.entries()]
    .sort(([a], [b]) => a - b)
    .map(([t, sum]) => ({ t, ...sum }));
}

/** Points ready to draw: p50 and p99 in milliseconds. */
export function toChartPoints(
  bounds: readonly number[],
  points: readonly SeriesPoint[],
): ChartPoint[] {
  const ms = (seconds: number | null): number | null =>
    seconds === null ? null : Math.round(seconds * 1e6) / 1e3;
  return points.map((p) => ({
    t: p.t,
    count: p.count,
    errors: p.errors,
    p50Ms: ms(quantileOf(bounds, p.buckets, 0.5)),
    p99Ms: ms(quantileOf(bounds, p.buckets, 0.99)),
  }));
}
