// Enforces the layering of docs/architecture.md (Layers): lower layers never import higher ones,
// and the pure cores (placement, membership, ops' registry and rules) touch no I/O module. Fails naming the file and the import.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = join(import.meta.dir, "..", "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

/** The area of a lib file: its folder under lib/, or its own name for single-file areas. */
function areaOf(path: string): string {
  const rel = relative(join(root, "lib"), path);
  return rel.includes("/") ? (rel.split("/")[0] as string) : rel.replace(/\.ts$/, "");
}

function importsOf(path: string): string[] {
  return importLinesOf(path).map((line) => line.spec);
}

/** Every import or re-export of a file, and whether it brings in types only. */
function importLinesOf(path: string): { spec: string; isTypeOnly: boolean }[] {
  const text = readFileSync(path, "utf8");
  const pattern = /^\s*(import|export)(\s+type)?[^;]*?from\s+"([^"]+)"/gms;
  return [...text.matchAll(pattern)].map((m) => ({
    spec: m[3] as string,
    isTypeOnly: m[2] !== undefined,
  }));
}

/** What each area may import besides itself: other areas, and external modules. */
const allowed: Record<string, { areas: string[]; external: string[] }> = {
  util: { areas: [], external: ["uuid", "node:path"] },
  // The Raft core imports nothing outside lib/raft, not even util (issue 6).
  raft: { areas: [], external: [] },
  placement: { areas: ["util"], external: [] },
  // The heartbeat names the cluster's placement rule, so the wire contract knows the rules.
  protocol: { areas: ["util", "placement"], external: [] },
  config: { areas: ["util"], external: ["node:util"] },
  zmtp: {
    areas: ["util"],
    external: [
      "bun",
      "bun:ffi",
      "@noble/ciphers/salsa.js",
      "@noble/curves/ed25519.js",
      "libsodium-wrappers",
    ],
  },
  store: { areas: ["util", "raft"], external: ["bun:sqlite", "node:fs", "node:path"] },
  ops: { areas: ["util"], external: ["node:os", "node:dns/promises"] },
  cluster: {
    areas: ["util", "placement", "protocol", "zmtp", "store", "config", "raft", "ops"],
    external: [],
  },
  client: {
    areas: ["util", "placement", "protocol", "zmtp"],
    external: ["node:readline", "node:fs", "node:stream"],
  },
  "curve-keys": { areas: ["util", "zmtp", "config"], external: ["node:fs"] },
  // The node program (node.ts loads it): flags, start, serve, stop.
  "node-program": {
    areas: ["util", "config", "cluster", "ops", "curve-keys", "zmtp"],
    external: [],
  },
  // The linearizability checker: pure, so simulations and benchmarks can use it; no cluster code.
  lin: { areas: ["util"], external: [] },
};

/** Areas another area may import types from, never values. */
const typeOnly: Record<string, string[]> = {
  // The store persists Raft's state but never runs its code.
  store: ["raft"],
};

const raftFiles = sourceFiles(join(root, "lib", "raft")).map((file) => relative(root, file));

/** Pure cores: no module that does I/O, not even through another area. */
const pureFiles = [
  ...raftFiles,
  "lib/placement.ts",
  "lib/cluster/state.ts",
  "lib/cluster/divergence.ts",
  "lib/cluster/data-messages.ts",
  "lib/cluster/replica-core.ts",
  "lib/cluster/partition-leader.ts",
  "lib/cluster/write-conditions.ts",
  "lib/cluster/read-cache.ts",
  "lib/cluster/cluster-clock.ts",
  "lib/cluster/data-coordinator.ts",
  "lib/cluster/node-core.ts",
  "lib/cluster/liveness.ts",
  "lib/cluster/heartbeat-info.ts",
  "lib/cluster/join-rules.ts",
  "lib/cluster/batch-bytes.ts",
  "lib/cluster/snapshot-page.ts",
  "lib/store/replica-types.ts",
  "lib/store/memory-replica-store.ts",
  "lib/store/row.ts",
  "lib/cluster/peer-protocol.ts",
  "lib/cluster/peer-data-parse.ts",
  "lib/cluster/peer-fields.ts",
  "lib/cluster/peer-data-match.ts",
  "lib/client/tokenize.ts",
  "lib/client/escape.ts",
  ...readdirSync(join(root, "lib", "lin")).map((name) => `lib/lin/${name}`),
  "lib/ops/metrics.ts",
  "lib/ops/series.ts",
  "lib/ops/status.ts",
  "lib/zmtp/codec.ts",
  "lib/zmtp/session.ts",
  "lib/zmtp/socket-types.ts",
  "lib/zmtp/curve.ts",
  "lib/zmtp/curve-codec.ts",
  "lib/util/z85.ts",
];

test("every lib import respects the layering table", () => {
  const violations: string[] = [];
  for (const file of sourceFiles(join(root, "lib"))) {
    const area = areaOf(file);
    const rule = allowed[area];
    if (rule === undefined) {
      violations.push(`${relative(root, file)}: area "${area}" is not in the layering table`);
      continue;
    }
    for (const { spec, isTypeOnly } of importLinesOf(file)) {
      if (!spec.startsWith(".")) {
        if (!rule.external.includes(spec)) violations.push(`${relative(root, file)} imports ${spec}`);
        continue;
      }
      const target = areaOf(join(file, "..", spec));
      if (target !== area && !rule.areas.includes(target)) {
        violations.push(`${relative(root, file)} (${area}) imports ${spec} (${target})`);
      }
      if (target !== area && typeOnly[area]?.includes(target) === true && !isTypeOnly) {
        const where = `${relative(root, file)} (${area})`;
        violations.push(`${where} imports values from ${spec} (${target})`);
      }
    }
  }
  expect(violations).toEqual([]);
});

test("pure cores import nothing but util and their own area", () => {
  const violations: string[] = [];
  for (const rel of pureFiles) {
    const file = join(root, rel);
    const area = areaOf(file);
    for (const spec of importsOf(file)) {
      const target = spec.startsWith(".") ? areaOf(join(file, "..", spec)) : spec;
      // Another pure file is fine wherever it lives (e.g. the store's type-only contract).
      const isPureFile = pureFiles.includes(relative(root, join(file, "..", spec)));
      // lib/raft is pure as a whole (its own test checks that it imports nothing else).
      if (target !== "util" && target !== "raft" && !isPureFile) {
        violations.push(`${rel} imports ${spec}`);
      }
    }
    const text = readFileSync(file, "utf8");
    const banned = [
      "Date.now", "new Date", "performance.now", "Math.random", "setTimeout", "setInterval",
      "setImmediate", "queueMicrotask", "console.", "process.", "Bun.", "require(", "import(",
      "fetch(",
    ];
    for (const name of banned) {
      if (text.includes(name)) violations.push(`${rel} uses ${name}`);
    }
  }
  expect(violations).toEqual([]);
});
