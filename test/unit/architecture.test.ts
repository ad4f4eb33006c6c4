// Enforces the layering of style.md B1: lower layers never import higher ones, and the pure
// cores (placement, membership) touch no I/O module. Fails naming the file and the import.
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
  const text = readFileSync(path, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1] as string);
}

/** What each area may import besides itself: other areas, and external modules. */
const allowed: Record<string, { areas: string[]; external: string[] }> = {
  util: { areas: [], external: [] },
  placement: { areas: ["util"], external: [] },
  protocol: { areas: ["util"], external: [] },
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
  store: { areas: ["util"], external: ["bun:sqlite", "node:fs", "node:path"] },
  cluster: { areas: ["util", "placement", "protocol", "zmtp", "store", "config"], external: [] },
  client: { areas: ["util", "placement", "protocol", "zmtp"], external: ["cliffy", "node:readline"] },
  "curve-keys": { areas: ["util", "zmtp", "config"], external: ["node:fs"] },
};

/** Pure cores: no module that does I/O, not even through another area. */
const pureFiles = [
  "lib/placement.ts",
  "lib/cluster/membership.ts",
  "lib/zmtp/codec.ts",
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
    for (const spec of importsOf(file)) {
      if (!spec.startsWith(".")) {
        if (!rule.external.includes(spec)) violations.push(`${relative(root, file)} imports ${spec}`);
        continue;
      }
      const target = areaOf(join(file, "..", spec));
      if (target !== area && !rule.areas.includes(target)) {
        violations.push(`${relative(root, file)} (${area}) imports ${spec} (${target})`);
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
      const isOwnPureFile = target === area && pureFiles.includes(relative(root, join(file, "..", spec)));
      if (target !== "util" && !isOwnPureFile) violations.push(`${rel} imports ${spec}`);
    }
    const text = readFileSync(file, "utf8");
    for (const banned of ["Date.now", "Math.random", "setTimeout", "setInterval", "console."]) {
      if (text.includes(banned)) violations.push(`${rel} uses ${banned}`);
    }
  }
  expect(violations).toEqual([]);
});
