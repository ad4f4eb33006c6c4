// Lost acknowledged writes, read off the final reads (lib/lin/lost-writes.ts).
import { expect, test } from "bun:test";
import { lostWrites, type OpRecord } from "../../../lib/lin/index.ts";

let nextId = 1;
const base = { client: 1, node: 1, key: "k" } as const;

type Outcome = OpRecord["outcome"];

function set(call: number, ret: number, value: string, outcome: Outcome = "ok"): OpRecord {
  return { ...base, id: nextId++, op: "SET", value, call, ret, outcome,
    ...(outcome === "ok" ? { reply: { status: "updated" } } : {}) };
}
function del(call: number, ret: number, outcome: Outcome = "ok"): OpRecord {
  return { ...base, id: nextId++, op: "DELETE", call, ret, outcome,
    ...(outcome === "ok" ? { reply: { status: "deleted" } } : {}) };
}
function finalRead(value: string | null): OpRecord {
  return { ...base, id: nextId++, op: "GET", call: 1000, ret: 1001, outcome: "ok", final: true,
    reply: value === null ? { found: false } : { found: true, value } };
}

test("the last acknowledged write shows: nothing lost", () => {
  expect(lostWrites([set(0, 1, "a"), set(2, 3, "b"), finalRead("b")])).toEqual([]);
  expect(lostWrites([set(0, 1, "a"), del(2, 3), finalRead(null)])).toEqual([]);
});

test("a final state from before an acknowledged write loses it", () => {
  const b = set(2, 3, "b");
  const lost = lostWrites([set(0, 1, "a"), b, finalRead("a")]);
  expect(lost.map((l) => l.write)).toEqual([b]);
  const d = del(2, 3);
  expect(lostWrites([set(0, 1, "a"), d, finalRead("a")]).map((l) => l.write)).toEqual([d]);
});

test("an acknowledged write then the initial empty state: lost", () => {
  const a = set(0, 1, "a");
  expect(lostWrites([a, finalRead(null)]).map((l) => l.write)).toEqual([a]);
});

test("a concurrent or unknown write may have come last: not lost", () => {
  expect(lostWrites([set(0, 5, "a"), set(1, 6, "b"), finalRead("a")])).toEqual([]);
  const unknownLast = set(1.5, 2.5, "c", "unknown");
  expect(lostWrites([set(0, 1, "a"), set(2, 3, "b"), unknownLast, finalRead("c")])).toEqual([]);
  expect(lostWrites([set(0, 1, "a"), del(0.5, 0.7, "unknown"), finalRead(null)])).toEqual([]);
});

test("failed writes never count; keys without a final read are skipped", () => {
  expect(lostWrites([set(0, 1, "a"), set(2, 3, "b", "fail"), finalRead("a")])).toEqual([]);
  expect(lostWrites([set(0, 1, "a"), set(2, 3, "b")])).toEqual([]);
});
