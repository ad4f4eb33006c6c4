// A small metrics registry that renders the Prometheus text exposition format (version 0.0.4):
// counters, gauges and histograms with labels. Hot paths bind a child once (`labels(...)`) and
// then pay one array lookup and an addition per observation. No I/O, no clock.

export type MetricType = "counter" | "gauge" | "histogram";

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  render(out: string[]): void;
}

/** Label values in declaration order. */
type LabelValues = readonly string[];

// The exposition format escapes backslash, double quote and newline in label values, and
// backslash and newline in help text.
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value as the format writes it. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(names: readonly string[], values: LabelValues, extra = ""): string {
  const parts = names.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? "")}"`);
  if (extra !== "") parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkNames(name: string, labelNames: readonly string[]): void {
  if (!metricName.test(name)) throw new RangeError(`invalid metric name ${name}`);
  for (const label of labelNames) {
    if (!labelName.test(label) || label.startsWith("__") || label === "le") {
      throw new RangeError(`invalid label name ${label} for ${name}`);
    }
  }
}

/** Children by label values; the key joins values with a separator no value may hold. */
class Children<T> {
  private readonly byKey = new Map<string, { values: LabelValues; child: T }>();
  constructor(
    private readonly arity: number,
    private readonly create: () => T,
  ) {}

  get(values: LabelValues): T {
    if (values.length !== this.arity) {
      throw new RangeError(`expected ${this.arity} label values, got ${values.length}`);
    }
    const key = values.join("\u0000");
    let entry = this.byKey.get(key);
    if (entry === undefined) {
      entry = { values: [...values], child: this.create() };
      this.byKey.set(key, entry);
    }
    return entry.child;
  }

  entries(): IterableIterator<{ values: LabelValues; child: T }> {
    return this.byKey.values();
  }
}

export interface CounterChild {
  inc(amount?: number): void;
  readonly value: number;
}

class CounterCell implements CounterChild {
  value = 0;
  inc(amount = 1): void {
    // A counter only goes up; a negative amount is a caller's bug.
    if (!(amount >= 0)) throw new RangeError(`counter increment ${amount} is negative`);
    this.value += amount;
  }
}

export class Counter implements Family {
  readonly type = "counter";
  private readonly children: Children<CounterCell>;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    checkNames(name, labelNames);
    this.children = new Children(labelNames.length, () => new CounterCell());
    if (labelNames.length === 0) this.children.get([]);
  }

  labels(...values: string[]): CounterChild {
    return this.children.get(values);
  }

  render(out: string[]): void {
    for (const { values, child } of this.children.entries()) {
      const labels = formatLabels(this.labelNames, values);
      out.push(`${this.name}${labels} ${formatSampleValue(child.value)}`);
    }
  }
}

/** A gauge reads its samples when rendered: the value is whatever the source says now. */
export class Gauge implements Family {
  readonly type = "gauge";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly collect: () => Iterable<readonly [LabelValues, number]>,
  ) {
    checkNames(name, labelNames);
  }

  render(out: string[]): void {
    for (const [values, value] of this.collect()) {
      out.push(`${this.name}${formatLabels(this.labelNames, values)} ${formatSampleValue(value)}`);
    }
  }
}

export interface HistogramChild {
  observe(value: number): void;
}

/** Per-bucket counts (not cumulative), their sum and count. */
export class HistogramCell implements HistogramChild {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count += 1;
  }
}

export class Histogram implements Family {
  readonly type = "histogram";
  private readonly children: Children<HistogramCell>;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {
    checkNames(name, labelNames);
    for (let i = 1; i < bounds.length; i++) {
      if (!((bounds[i] as number) > (bounds[i - 1] as number))) {
        throw new RangeError(`histogram ${name} bounds must increase`);
      }
    }
    this.children = new Children(labelNames.length, () => new HistogramCell(bounds));
    if (labelNames.length === 0) this.children.get([]);
  }

  labels(...values: string[]): HistogramChild {
    return this.children.get(values);
  }

  /** Bucket counts summed over every child (for the live charts). */
  totals(): number[] {
    const totals = new Array<number>(this.bounds.length + 1).fill(0);
    for (const { child } of this.children.entries()) {
      child.counts.forEach((n, i) => (totals[i] = (totals[i] ?? 0) + n));
    }
    return totals;
  }

  render(out: string[]): void {
    for (const { values, child } of this.children.entries()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += child.counts[i] ?? 0;
        const labels = formatLabels(this.labelNames, values, `le="${formatSampleValue(bound)}"`);
        out.push(`${this.name}_bucket${labels} ${cumulative}`);
      });
      const inf = formatLabels(this.labelNames, values, 'le="+Inf"');
      out.push(`${this.name}_bucket${inf} ${child.count}`);
      const labels = formatLabels(this.labelNames, values);
      out.push(`${this.name}_sum${labels} ${formatSampleValue(child.sum)}`);
      out.push(`${this.name}_count${labels} ${child.count}`);
    }
  }
}

/** The metrics of one process, rendered in registration order. */
export class Registry {
  private readonly families: Family[] = [];
  private readonly names = new Set<string>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(
    name: string,
    help: string,
    labelNames: readonly string[],
    collect: () => Iterable<readonly [LabelValues, number]>,
  ): Gauge {
    return this.add(new Gauge(name, help, labelNames, collect));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    bounds: readonly number[],
  ): Histogram {
    return this.add(new Histogram(name, help, labelNames, bounds));
  }

  /** The whole registry in the text exposition format, ending with a newline. */
  render(): string {
    const out: string[] = [];
    for (const family of this.families) {
      out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
      out.push(`# TYPE ${family.name} ${family.type}`);
      family.render(out);
    }
    return out.join("\n") + "\n";
  }

  private add<T extends Family>(family: T): T {
    if (this.names.has(family.name)) throw new RangeError(`metric ${family.name} registered twice`);
    this.names.add(family.name);
    this.families.push(family);
    return family;
  }
}
