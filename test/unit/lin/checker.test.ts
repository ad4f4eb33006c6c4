// The linearizability checker on histories whose verdict is known: hand-written good and bad
// ones (each bad one is a kind of anomaly the fault suite must catch), generated valid ones, and
// the same with one read corrupted.
import { describe, expect, test } from "bun:test";
import {
  checkDefaults, checkKvHistory, checkObject, failureWindow, formatFailure, type KvInput, kvModel,
  type KvOperation, kvModelFor, type KvOutput, type OpRecord, prefixAt,
} from "../../../lib/lin/index.ts";
import { randomHistory } from "./random-history.ts";

const U = Infinity;
let nextId = 1;

function op(client: number, call: number, ret: number, input: KvInput, output?: KvOutput):
  KvOperation {
  return { id: nextId++, client, call, ret, input, output: ret === U ? undefined : output };
}
const set = (c: number, a: number, b: number, value: string, status?: "created" | "updated") =>
  op(c, a, b, { op: "SET", value }, status === undefined ? undefined : { status });
const get = (c: number, a: number, b: number, value: string | null) =>
  op(c, a, b, { op: "GET" }, value === null ? { found: false } : { found: true, value });
const del = (c: number, a: number, b: number, status?: "deleted" | "not_found") =>
  op(c, a, b, { op: "DELETE" }, status === undefined ? undefined : { status });

function record(
  id: number,
  op: OpRecord["op"],
  call: number,
  ret: number,
  outcome: OpRecord["outcome"],
  rest: Partial<OpRecord>,
): OpRecord {
  return { id, client: 1, node: 1, key: "k", op, call, ret, outcome, ...rest };
}

function verdictOf(ops: KvOperation[]): string {
  return checkObject(kvModel, ops).verdict;
}

describe("known-good histories", () => {
  test("empty, and sequential SET / GET / DELETE", () => {
    expect(verdictOf([])).toBe("ok");
    expect(verdictOf([
      get(1, 0, 1, null), set(1, 2, 3, "a", "created"), get(2, 4, 5, "a"),
      set(2, 6, 7, "b", "updated"), del(1, 8, 9, "deleted"), del(2, 10, 11, "not_found"),
      get(1, 12, 13, null), set(1, 14, 15, "c", "created"),
    ])).toBe("ok");
  });

  test("a read concurrent with a write may see either side", () => {
    const base = [set(1, 0, 1, "a", "created"), set(2, 2, 6, "b", "updated")];
    expect(verdictOf([...base, get(3, 3, 4, "a")])).toBe("ok");
    expect(verdictOf([...base, get(3, 3, 4, "b")])).toBe("ok");
  });

  test("created twice is fine with a concurrent delete between them", () => {
    expect(verdictOf([
      set(1, 0, 10, "a", "created"), del(2, 1, 11, "deleted"), set(3, 2, 12, "b", "created"),
    ])).toBe("ok");
  });
});

describe("known-bad histories", () => {
  test("stale read: a value overwritten before the read began", () => {
    const ops = [set(1, 0, 1, "a", "created"), set(1, 2, 3, "b", "updated"), get(2, 4, 5, "a")];
    const result = checkObject(kvModel, ops);
    expect(result.verdict).toBe("violation");
    expect(result.failure?.culprit).toBe(ops[2] as KvOperation);
  });

  test("lost update: an acknowledged update read back, then the old value again", () => {
    const ops = [
      set(1, 0, 1, "v1", "created"), set(2, 2, 3, "v2", "updated"), get(3, 4, 5, "v2"),
      get(3, 6, 7, "v1"),
    ];
    const result = checkObject(kvModel, ops);
    expect(result.verdict).toBe("violation");
    expect(result.failure?.culprit).toBe(ops[3] as KvOperation);
  });

  test("read of a value never written", () => {
    expect(verdictOf([set(1, 0, 1, "a", "created"), get(2, 2, 3, "zzz")])).toBe("violation");
  });

  test("created twice without a delete, sequential or concurrent", () => {
    expect(verdictOf([set(1, 0, 1, "a", "created"), set(2, 2, 3, "b", "created")]))
      .toBe("violation");
    expect(verdictOf([set(1, 0, 10, "a", "created"), set(2, 1, 11, "b", "created")]))
      .toBe("violation");
  });

  test("deleted twice, or not_found on a present key", () => {
    const twice = [set(1, 0, 1, "a", "created"), del(1, 2, 3, "deleted"), del(2, 4, 5, "deleted")];
    expect(verdictOf(twice)).toBe("violation");
    expect(verdictOf([set(1, 0, 1, "a", "created"), del(2, 2, 3, "not_found")])).toBe("violation");
  });
});

describe("concurrent operations linearizable in only one order", () => {
  test("created must come first, so the later read must see the other write", () => {
    const writes = () => [set(1, 0, 10, "a", "created"), set(2, 0, 10, "b", "updated")];
    expect(verdictOf([...writes(), get(3, 11, 12, "b")])).toBe("ok");
    expect(verdictOf([...writes(), get(3, 11, 12, "a")])).toBe("violation");
  });

  test("three overlapping writes and reads that pin a single order", () => {
    // Only a, b, c works: b's read of a pins a before b, and c is the one that was updated last.
    const ops = [
      set(1, 0, 20, "a", "created"), set(2, 0, 20, "b", "updated"), set(3, 0, 20, "c", "updated"),
      get(4, 1, 19, "a"), get(5, 21, 22, "c"),
    ];
    expect(verdictOf(ops)).toBe("ok");
    expect(verdictOf([...ops, get(6, 23, 24, "b")])).toBe("violation");
  });
});

describe("operations with unknown outcome", () => {
  test("must be assumed to have happened when their value is read", () => {
    expect(verdictOf([set(1, 0, U, "a"), get(2, 5, 6, "a")])).toBe("ok");
    expect(verdictOf([set(1, 0, 1, "a", "created"), del(2, 2, U), get(3, 5, 6, null)]))
      .toBe("ok");
  });

  test("may also never happen", () => {
    expect(verdictOf([set(1, 0, 1, "a", "created"), set(2, 2, U, "b"), get(3, 3, 4, "a")]))
      .toBe("ok");
  });

  test("happen at most once, never before their call, and stay in effect", () => {
    expect(verdictOf([get(1, 0, 1, "b"), set(2, 2, U, "b")])).toBe("violation");
    expect(verdictOf([
      set(1, 0, 1, "a", "created"), set(2, 2, U, "b"), get(3, 3, 4, "b"), get(3, 5, 6, "a"),
    ])).toBe("violation");
    expect(verdictOf([
      set(1, 0, 1, "a", "created"), del(2, 2, U), get(3, 3, 4, null), get(3, 5, 6, "a"),
    ])).toBe("violation");
  });

  test("records: write replies can be left unchecked, reads still are", () => {
    const records = [
      record(1, "SET", 0, 1, "ok", { value: "a", reply: { status: "created" } }),
      record(2, "SET", 2, 3, "ok", { value: "b", reply: { status: "created" } }),
    ];
    const unchecked = { ...checkDefaults, checkWriteReplies: false };
    expect(checkKvHistory(records).violationsByKind).toEqual({ read: 0, status: 1 });
    expect(checkKvHistory(records, unchecked).violations).toBe(0);
    const stale = record(3, "GET", 4, 5, "ok", { reply: { found: true, value: "a" } });
    expect(checkKvHistory([...records, stale], unchecked).violationsByKind)
      .toEqual({ read: 1, status: 0 });
  });

  test("records: definite errors dropped, timeouts kept as unknown, unknown reads dropped", () => {
    const records = [
      record(1, "SET", 0, 1, "ok", { value: "a", reply: { status: "created" } }),
      record(2, "SET", 2, 3, "fail", { value: "b", error: "NOT_LEADER" }),
      record(3, "GET", 4, 5, "unknown", { error: "TIMEOUT" }),
    ];
    const readB = record(4, "GET", 6, 7, "ok", { reply: { found: true, value: "b" } });
    expect(checkKvHistory([...records, readB]).violations).toBe(1);
    const timedOut = records.map((r) =>
      (r.id === 2 ? { ...r, outcome: "unknown" as const, error: "TIMEOUT" } : r));
    expect(checkKvHistory([...timedOut, readB]).violations).toBe(0);
  });
});

describe("bounds and shrinking", () => {
  test("a search past its step budget is inconclusive, not a violation", () => {
    const ops = Array.from({ length: 12 }, (_, i) => set(i, 0, U, `v${i}`));
    ops.push(get(99, 1, 2, "never"));
    expect(checkObject(kvModel, ops, { stepBudget: 50, shrinkSearchesMax: 10 }).verdict)
      .toBe("inconclusive");
    expect(checkObject(kvModel, ops).verdict).toBe("violation");
  });

  test("a key inconclusive within the step budget is searched again with the retry budget", () => {
    const writes = Array.from({ length: 12 }, (_, i) =>
      record(i + 1, "SET", 0, 1, "unknown", { value: `v${i}`, error: "TIMEOUT" }));
    const read = record(99, "GET", 2, 3, "ok", { reply: { found: true, value: "never" } });
    const small = { ...checkDefaults, stepBudget: 50, checkWriteReplies: true };
    expect(checkKvHistory([...writes, read], small).inconclusive).toBe(1);
    const retried = checkKvHistory([...writes, read], { ...small, retryStepBudget: 1_000_000 });
    expect(retried.inconclusive).toBe(0);
    expect(retried.violations).toBe(1);
  });

  test("a cut at time t keeps earlier calls and makes later returns unknown", () => {
    const ops = [set(1, 0, 1, "a", "created"), set(2, 2, 8, "b", "updated"), get(3, 3, 9, "a"),
      get(4, 9.5, 10, "b")];
    const cut = prefixAt(ops, 5, (i) => i.op === "GET");
    const ids = ops.map((o) => o.id);
    expect(cut.map((o) => [o.id, o.ret])).toEqual([[ids[0] as number, 1], [ids[1] as number, U]]);
  });

  test("a stale read deep in a long history shrinks to the writes and the read involved", () => {
    const ops: KvOperation[] = [set(1, 0, 1, "v0", "created")];
    for (let i = 1; i < 200; i++) {
      ops.push(get(2, i * 10, i * 10 + 2, `v${i - 1}`));
      ops.push(set(1, i * 10 + 3, i * 10 + 5, `v${i}`, "updated"));
    }
    ops.push(get(3, 2000, 2001, "v150"));
    const result = checkObject(kvModel, ops);
    expect(result.verdict).toBe("violation");
    const failure = result.failure;
    if (failure === undefined) throw new Error("no failure reported");
    expect(failure.culprit).toBe(ops[ops.length - 1] as KvOperation);
    const { shown } = failureWindow(failure);
    // From the write of the value read to the read: later writes and no reads in between.
    expect(shown[0]?.input).toEqual({ op: "SET", value: "v150" });
    expect(shown[shown.length - 1]).toBe(failure.culprit);
    expect(shown.length).toBe(51);
    expect(shown.slice(1, -1).every((o) => o.input.op === "SET")).toBe(true);
    const text = formatFailure("k", { key: "k", ...result });
    expect(text).toContain("key k: not linearizable");
    expect(text).toContain(`> #${failure.culprit.id} client 3`);
  });
});

describe("generated histories", () => {
  const options = { clients: 8, opsPerClient: 1500, keys: 4, unknownRate: 0.01, failRate: 0.02 };
  const fewUnknown = { ...options, opsPerClient: 500, unknownRate: 0.004 };

  test("a large valid history passes on every key", () => {
    for (const seed of [1, 2, 3]) {
      const verdict = checkKvHistory(randomHistory({ seed, ...options }));
      expect(verdict.keys.length).toBe(4);
      expect(verdict.keys.map((k) => k.verdict)).toEqual(["ok", "ok", "ok", "ok"]);
    }
  });

  test("one read changed to a value never written fails, on that key, at that read", () => {
    const records = randomHistory({ seed: 4, ...options });
    const index = records.findIndex((r, i) => i > 5000 && r.op === "GET" && r.outcome === "ok");
    const victim = records[index] as OpRecord;
    records[index] = { ...victim, reply: { found: true, value: "corrupt" } };
    const verdict = checkKvHistory(records);
    expect(verdict.violations).toBe(1);
    const bad = verdict.keys.find((k) => k.verdict === "violation");
    expect(bad?.key).toBe(victim.key);
    expect(bad?.failure?.culprit.id).toBe(victim.id);
  });

  test("one read changed to a value overwritten before it began fails", () => {
    const records = randomHistory({ seed: 5, ...fewUnknown });
    const staleIndex = findStaleCandidate(records);
    const verdict = checkKvHistory(records.map((r, i) => (i === staleIndex.read
      ? { ...r, reply: { found: true, value: staleIndex.value } } : r)));
    expect(verdict.violations).toBe(1);
    expect(verdict.keys.find((k) => k.verdict === "violation")?.key)
      .toBe((records[staleIndex.read] as OpRecord).key);
  });
});

/** A read and an older value: SET old, then SET newer after it, both done before the read. */
function findStaleCandidate(records: OpRecord[]): { read: number; value: string } {
  const acked = (r: OpRecord) => r.outcome === "ok";
  for (let i = records.length - 1; i >= 0; i--) {
    const read = records[i] as OpRecord;
    if (read.op !== "GET" || !acked(read)) continue;
    const sets = records.filter((r) => r.key === read.key && r.op === "SET" && acked(r)
      && r.ret < read.call);
    for (const newer of sets) {
      const older = sets.find((r) => r.ret < newer.call);
      if (older !== undefined) return { read: i, value: older.value as string };
    }
  }
  throw new Error("no stale-read candidate in the generated history");
}

describe("values no read returns", () => {
  test("are folded into one state by kvModelFor, and verdicts do not change", () => {
    const ops = [set(1, 0, 1, "a", "created"), set(2, 2, 3, "b", "updated"), get(3, 4, 5, "b")];
    const model = kvModelFor(ops);
    const at = (value: string | null) => ({ value, version: 1 });
    expect(model.key(at("a"))).toBe(model.key(at("never-read")));
    expect(model.key(at("b"))).not.toBe(model.key(at("a")));
    expect(model.key(at(null))).not.toBe(model.key(at("a")));
    expect(checkObject(model, ops).verdict).toBe("ok");
    expect(checkObject(model, [...ops, get(3, 6, 7, "a")]).verdict).toBe("violation");
  });
});

describe("compare-and-set and versions", () => {
  const cas = (c: number, a: number, b: number, value: string, ifVersion: number, out?: KvOutput) =>
    op(c, a, b, { op: "SET", value, ifVersion }, out);
  const created = (version: number): KvOutput => ({ status: "created", version });
  const updated = (version: number): KvOutput => ({ status: "updated", version });
  const conflict = (version: number): KvOutput => ({ conflict: true, version });
  const read = (c: number, a: number, b: number, value: string, version: number) =>
    op(c, a, b, { op: "GET" }, { found: true, value, version });

  test("one of two concurrent creates wins; the loser reports the winner's version", () => {
    expect(verdictOf([cas(1, 0, 10, "a", 0, created(3)), cas(2, 1, 11, "b", 0, conflict(3))]))
      .toBe("ok");
    expect(verdictOf([cas(1, 0, 10, "a", 0, created(3)), cas(2, 1, 11, "b", 0, created(4))]))
      .toBe("violation");
    // A conflict must report the version the key had, not any other.
    expect(verdictOf([cas(1, 0, 10, "a", 0, created(3)), cas(2, 1, 11, "b", 0, conflict(9))]))
      .toBe("violation");
  });

  test("a counter incremented by CAS: reads and versions must follow the successful writes", () => {
    const history = [
      cas(1, 0, 1, "1", 0, created(1)),
      cas(1, 2, 3, "2", 1, updated(2)),
      cas(2, 2, 4, "2", 1, conflict(2)),
      read(3, 5, 6, "2", 2),
      cas(2, 7, 8, "3", 2, updated(5)),
    ];
    expect(verdictOf(history)).toBe("ok");
    // Reading the value with the version of an older write is a violation.
    expect(verdictOf([...history.slice(0, 3), read(3, 5, 6, "2", 1)])).toBe("violation");
    // A version that does not grow is a violation.
    expect(verdictOf([...history.slice(0, 2), cas(2, 4, 5, "3", 2, updated(2))]))
      .toBe("violation");
    // A conflict right after a write that matched it is a violation.
    expect(verdictOf([...history.slice(0, 2), cas(2, 4, 5, "3", 2, conflict(2))]))
      .toBe("violation");
  });

  test("an unknown write leaves the version unknown, and a later reply may tell it", () => {
    expect(verdictOf([
      cas(1, 0, 1, "1", 0, created(1)),
      cas(2, 2, U, "2", 1),
      cas(3, 4, 5, "3", 1, conflict(7)),
      read(3, 6, 7, "2", 7),
    ])).toBe("ok");
    expect(verdictOf([
      cas(1, 0, 1, "1", 0, created(1)),
      cas(2, 2, U, "2", 1),
      cas(3, 4, 5, "3", 1, conflict(7)),
      read(3, 6, 7, "2", 8),
    ])).toBe("violation");
  });

  test("records: a CONFLICT reply with its version is checked, other failures are dropped", () => {
    const records = [
      record(1, "SET", 0, 1, "ok", { value: "a", ifVersion: 0,
        reply: { status: "created", version: 4 } }),
      record(2, "SET", 2, 3, "fail", { value: "b", ifVersion: 0, error: "CONFLICT",
        reply: { version: 5 } }),
    ];
    expect(checkKvHistory(records).violations).toBe(1);
    const fixed = [records[0] as OpRecord, { ...(records[1] as OpRecord), reply: { version: 4 } }];
    expect(checkKvHistory(fixed).violations).toBe(0);
  });
});
