// A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line must
// be a comment, a HELP/TYPE line or a sample of a family declared by TYPE; label values are
// unescaped; histograms must have cumulative, +Inf-terminated buckets matching _count. Throws
// an Error naming the line on anything else.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return Number.NaN;
  if (!/^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(text)) {
    throw new Error(`bad sample value ${JSON.stringify(text)} in: ${line}`);
  }
  return Number(text);
}

// Reads `{a="x",b="y"}` starting at `start` (the brace); returns labels and the index after it.
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (line[i] !== "}") {
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
    if (nameMatch === null) throw new Error(`bad label name in: ${line}`);
    const name = nameMatch[0];
    i += name.length;
    if (line[i] !== "=" || line[i + 1] !== '"') {
      throw new Error(`expected =" after ${name}: ${line}`);
    }
    i += 2;
    let value = "";
    while (line[i] !== '"') {
      if (i >= line.length) throw new Error(`unterminated label value in: ${line}`);
      if (line[i] === "\\") {
        const next = line[i + 1];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`bad escape \\${next} in: ${line}`);
        i += 2;
      } else {
        value += line[i];
        i += 1;
      }
    }
    i += 1;
    if (Object.hasOwn(labels, name)) throw new Error(`label ${name} twice in: ${line}`);
    labels[name] = value;
    if (line[i] === ",") i += 1;
    else if (line[i] !== "}") throw new Error(`expected , or } in: ${line}`);
  }
  return { labels, end: i + 1 };
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sampleName);
  if (direct !== undefined) return direct;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = families.get(sampleName.slice(0, -suffix.length));
    if (family?.type === "histogram" || family?.type === "summary") return family;
  }
  return undefined;
}

/** Parses a whole exposition; families by name. */
export function parsePrometheusText(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const families = new Map<string, Family>();
  const helps = new Map<string, string>();
  for (const line of text.slice(0, -1).split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta !== null) {
      const [, kind, name = "", rest = ""] = meta;
      if (!metricName.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === "HELP") helps.set(name, rest.replace(/\\n/g, "\n").replace(/\\\\/g, "\\"));
      else {
        if (!types.has(rest)) throw new Error(`bad type in: ${line}`);
        if (families.has(name)) throw new Error(`TYPE given twice for ${name}`);
        families.set(name, { name, type: rest, help: helps.get(name) ?? "", samples: [] });
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (nameMatch === null) throw new Error(`bad sample line: ${line}`);
    const name = nameMatch[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === "{") ({ labels, end: i } = parseLabels(line, i));
    if (line[i] !== " ") throw new Error(`expected a space before the value in: ${line}`);
    const [valueText = "", timestamp, ...extra] = line.slice(i + 1).split(" ");
    if (extra.length > 0 || (timestamp !== undefined && !/^-?[0-9]+$/.test(timestamp))) {
      throw new Error(`bad value or timestamp in: ${line}`);
    }
    const family = familyOf(name, families);
    if (family === undefined) throw new Error(`sample of an undeclared family: ${line}`);
    family.samples.push({ name, labels, value: parseValue(valueText, line) });
  }
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

function checkHistogram(family: Family): void {
  const series = new Map<string, Sample[]>();
  const keyOf = (labels: Readonly<Record<string, string>>) =>
    JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
  for (const sample of family.samples) {
    const key = keyOf(sample.labels);
    series.set(key, [...(series.get(key) ?? []), sample]);
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((s) => s.name === `${family.name}_bucket`);
    const count = samples.find((s) => s.name === `${family.name}_count`);
    if (buckets.length === 0 || count === undefined) {
      throw new Error(`histogram ${family.name}${key} lacks buckets or _count`);
    }
    let previous = -Infinity;
    let previousCount = 0;
    for (const bucket of buckets) {
      const le = parseValue(bucket.labels["le"] ?? "", `le of ${family.name}`);
      if (!(le > previous) || bucket.value < previousCount) {
        throw new Error(`histogram ${family.name}${key}: buckets not increasing`);
      }
      previous = le;
      previousCount = bucket.value;
    }
    if (previous !== Infinity || previousCount !== count.value) {
      throw new Error(`histogram ${family.name}${key}: +Inf bucket must equal _count`);
    }
  }
}

/** The value of the one sample with exactly these labels (on top of `le`-less matching), or 0. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = familyOf(name, families);
  if (family === undefined) throw new Error(`no family for ${name}`);
  const matches = family.samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match`);
  return matches[0]?.value ?? 0;
}
