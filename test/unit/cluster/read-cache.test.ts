// The partition leader's read cache (lib/cluster/read-cache.ts): known-absent keys, replacement,
// and the bound in characters, oldest rows out first.

import { expect, test } from "bun:test";
import { ReadCache, readCacheCharsMaxFor } from "../../../lib/cluster/read-cache.ts";
import type { DataRow } from "../../../lib/store/replica-types.ts";

function row(key: string, value: string, seq = 1): DataRow {
  return { key, partition: 0, seq, epoch: 1, value, writer: null };
}

test("a cached row, a key known absent and an unknown key are told apart", () => {
  const cache = new ReadCache(10_000);
  cache.set("a", row("a", "x"));
  cache.set("b", null);
  expect(cache.get("a")).toEqual(row("a", "x"));
  expect(cache.get("b")).toBeNull();
  expect(cache.get("c")).toBeUndefined();
  expect(cache.has("b")).toBe(true);
  cache.set("a", row("a", "y", 2));
  expect(cache.get("a")).toEqual(row("a", "y", 2));
  cache.delete("a");
  expect(cache.has("a")).toBe(false);
  expect(cache.size()).toEqual({ rows: 1, chars: 1 + 256 });
});

test("past its bound the oldest rows go first; a row larger than the bound is not kept", () => {
  // Each row: a 1-character key, 100 characters of value and 256 of overhead = 357.
  const cache = new ReadCache(3 * 357);
  for (const key of ["a", "b", "c"]) cache.set(key, row(key, "v".repeat(100)));
  expect(cache.size()).toEqual({ rows: 3, chars: 3 * 357 });
  cache.set("d", row("d", "v".repeat(100)));
  expect(cache.has("a")).toBe(false);
  expect(["b", "c", "d"].every((key) => cache.has(key))).toBe(true);
  // Replacing a row moves it to the newest end.
  cache.set("b", row("b", "w".repeat(100), 2));
  cache.set("e", row("e", "v".repeat(100)));
  expect(cache.has("c")).toBe(false);
  expect(cache.has("b")).toBe(true);
  cache.set("f", row("f", "v".repeat(2000)));
  expect(cache.has("f")).toBe(false);
  expect(cache.size().chars).toBeLessThanOrEqual(3 * 357);
});

test("a node's partitions share 8 Mi characters, each keeping at least 16 Ki", () => {
  expect(readCacheCharsMaxFor(64)).toBe(128 * 1024);
  expect(readCacheCharsMaxFor(1)).toBe(8 * 1024 * 1024);
  expect(readCacheCharsMaxFor(4096)).toBe(16 * 1024);
});
