// The replica role (lib/cluster/replica-core.ts) over the in-memory store: the epoch fence,
// gap detection, answers only after the batch commits, truncation to the divergence point and
// full copies. Each test names the rule of docs/agreement.md it checks.

import { describe, expect, test } from "bun:test";
import type { DataReply, DataRequest } from "../../../lib/cluster/data-messages.ts";
import { ReplicaCore } from "../../../lib/cluster/replica-core.ts";
import { MemoryReplicaStore } from "../../../lib/store/memory-replica-store.ts";
import type { ChangeRecord, ReplicaStorage } from "../../../lib/store/replica-types.ts";
import { keyOf } from "../store/rows.ts";

const P = 1;
const LEADER = 9;
let rid = 0;

function change(seq: number, epoch: number, n: number, value: string | null): ChangeRecord {
  return { seq, epoch, key: keyOf(n), value, writer: null };
}

/** Handles requests and commits the batch, as the shell does once per turn. */
function run(core: ReplicaCore, store: ReplicaStorage, ...requests: DataRequest[]): DataReply[] {
  const immediate = requests.map((r) => core.handle(LEADER, r));
  const batch = core.takeBatch();
  const answers = batch.complete(store.commit(batch.writes)).map((a) => a.reply);
  return immediate.map((reply) => reply ?? (answers.shift() as DataReply));
}

const fence = (epoch: number): DataRequest => ({ type: "fence", rid: ++rid, partition: P, epoch });
const replicate = (epoch: number, prev: [number, number], ...changes: ChangeRecord[]): DataRequest => ({
  type: "replicate",
  rid: ++rid,
  partition: P,
  epoch,
  prev: { epoch: prev[0], seq: prev[1] },
  changes,
});
const read = (epoch: number, n: number): DataRequest => ({
  type: "read",
  rid: ++rid,
  partition: P,
  epoch,
  key: keyOf(n),
});

describe("ReplicaCore", () => {
  test("a deposed leader's writes and reads are refused once a newer epoch fenced us", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    const [fenced] = run(core, store, fence(3));
    expect(fenced?.type).toBe("fenced");
    const [write, get] = run(core, store, replicate(2, [0, 0], change(1, 2, 1, "x")), read(2, 1));
    expect(write).toMatchObject({ type: "refused", reason: "stale-epoch", fenced: 3 });
    expect(get).toMatchObject({ type: "refused", reason: "stale-epoch" });
    expect(store.get(P, keyOf(1))).toBeUndefined();
  });

  test("writes are answered after the commit, with outcomes, and chain within one batch", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    expect(core.handle(LEADER, replicate(1, [0, 0], change(1, 1, 1, "a")))).toBeNull();
    expect(core.handle(LEADER, replicate(1, [1, 1], change(2, 1, 1, "b"), change(3, 1, 2, null))))
      .toBeNull();
    expect(store.get(P, keyOf(1))).toBeUndefined();
    const batch = core.takeBatch();
    const answers = batch.complete(store.commit(batch.writes));
    expect(answers.map((a) => a.reply)).toEqual([
      { type: "replicated", rid: rid - 1, last: { epoch: 1, seq: 1 }, statuses: ["created"] },
      { type: "replicated", rid, last: { epoch: 1, seq: 3 }, statuses: ["updated", "not_found"] },
    ]);
    expect(answers.every((a) => a.to === LEADER)).toBe(true);
    expect(store.get(P, keyOf(1))?.value).toBe("b");
  });

  test("a write that does not follow the last change is a gap", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    run(core, store, replicate(1, [0, 0], change(1, 1, 1, "a")));
    const [skipped, wrongEpoch, badChain] = run(
      core,
      store,
      replicate(1, [1, 2], change(3, 1, 1, "c")),
      replicate(2, [2, 1], change(2, 2, 1, "c")),
      replicate(1, [1, 1], change(3, 1, 1, "c")),
    );
    for (const reply of [skipped, wrongEpoch, badChain]) {
      expect(reply).toMatchObject({ type: "refused", reason: "gap", last: { epoch: 1, seq: 1 } });
    }
  });

  test("reads need exactly the fenced epoch: a newer leader must fence before it reads", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    run(core, store, fence(2), replicate(2, [0, 0], change(1, 2, 5, "v")));
    expect(run(core, store, read(3, 5))[0]).toMatchObject({ type: "refused", reason: "gap" });
    const [row] = run(core, store, read(2, 5));
    expect(row).toMatchObject({ type: "row", row: { value: "v", seq: 1, epoch: 2 } });
  });

  test("truncation undoes the suffix a deposed leader wrote and reports the new last", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    run(
      core,
      store,
      replicate(1, [0, 0], change(1, 1, 1, "a")),
      replicate(2, [1, 1], change(2, 2, 1, "lost"), change(3, 2, 2, "lost")),
    );
    const source = {
      base: { epoch: 0, seq: 0 },
      last: { epoch: 3, seq: 4 },
      epochs: [
        { epoch: 1, seq: 1 },
        { epoch: 3, seq: 2 },
      ],
    };
    const [reply] = run(core, store, {
      type: "truncate",
      rid: ++rid,
      partition: P,
      epoch: 3,
      source,
      expect: { epoch: 2, seq: 3 },
    });
    expect(reply).toEqual({ type: "truncated", rid, last: { epoch: 1, seq: 1 } });
    expect(store.get(P, keyOf(1))?.value).toBe("a");
    expect(store.get(P, keyOf(2))).toBeUndefined();
    expect(store.fencedEpoch(P)).toBe(3);
  });

  test("a truncate or first copy page that arrives after the replica moved on changes nothing", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    run(core, store, replicate(1, [0, 0], change(1, 1, 1, "a"), change(2, 1, 2, "acked")));
    const source = { base: { epoch: 0, seq: 0 }, last: { epoch: 1, seq: 1 }, epochs: [{ epoch: 1, seq: 1 }] };
    const late: DataRequest = {
      type: "truncate", rid: ++rid, partition: P, epoch: 1, source, expect: { epoch: 1, seq: 1 },
    };
    expect(run(core, store, late)[0]).toMatchObject({ type: "refused", reason: "gap" });
    const lateCopy: DataRequest = {
      type: "install", rid: ++rid, partition: P, epoch: 1, base: { epoch: 1, seq: 1 }, rows: [],
      first: true, last: true, expect: { epoch: 1, seq: 1 },
    };
    expect(run(core, store, lateCopy)[0]).toMatchObject({ type: "refused", reason: "gap" });
    expect(store.get(P, keyOf(2))?.value).toBe("acked");
  });

  test("a full copy replaces the rows; reads are refused until it ends", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    run(core, store, replicate(1, [0, 0], change(1, 1, 1, "stale")));
    const row = { key: keyOf(4), partition: P, seq: 7, epoch: 2, value: "copied", writer: null };
    const install = (first: boolean, last: boolean): DataRequest => ({
      type: "install",
      rid: ++rid,
      partition: P,
      epoch: 2,
      base: { epoch: 2, seq: 9 },
      rows: first ? [row] : [],
      first,
      last,
      expect: { epoch: 1, seq: 1 },
    });
    run(core, store, install(true, false));
    expect(run(core, store, read(2, 4))[0]).toMatchObject({ reason: "copying" });
    run(core, store, install(false, true));
    expect(run(core, store, read(2, 4))[0]).toMatchObject({ row: { value: "copied" } });
    expect(store.get(P, keyOf(1))).toBeUndefined();
    const [next] = run(core, store, replicate(2, [2, 9], change(10, 2, 4, "after")));
    expect(next).toMatchObject({ type: "replicated", statuses: ["updated"] });
  });

  test("the log keeps its last changes: older ones are trimmed, the rows stay", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store, { logRetain: 10 });
    for (let seq = 1; seq <= 30; seq++) {
      run(core, store, replicate(1, [seq === 1 ? 0 : 1, seq - 1], change(seq, 1, seq % 7, `v${seq}`)));
    }
    const { base, last } = store.summary(P);
    expect(last.seq).toBe(30);
    expect(last.seq - base.seq).toBeGreaterThanOrEqual(10);
    expect(last.seq - base.seq).toBeLessThanOrEqual(11);
    expect(store.get(P, keyOf(1))?.value).toBe("v29");
    expect(store.countRows(P)).toBe(7);
  });

  test("a source answers fetches from its log and refuses what it trimmed", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    run(core, store, fence(1), replicate(1, [0, 0], change(1, 1, 1, "a"), change(2, 1, 2, "b")));
    store.commit([{ type: "trim", partition: P, uptoSeq: 1 }]);
    const fetch = (afterSeq: number): DataRequest => ({
      type: "fetch",
      rid: ++rid,
      partition: P,
      epoch: 1,
      afterSeq,
      limit: 10,
    });
    expect(run(core, store, fetch(0))[0]).toMatchObject({ reason: "trimmed" });
    const [changes] = run(core, store, fetch(1));
    expect(changes).toMatchObject({ type: "changes", last: { epoch: 1, seq: 2 } });
    expect(changes?.type === "changes" && changes.changes.map((c) => c.seq)).toEqual([2]);
  });

  test("a copy's source pages as of the copy's base, and refuses a base it trimmed", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store, { snapshotPageRows: 2 });
    const writes = [change(1, 1, 1, "a"), change(2, 1, 2, "b"), change(3, 1, 3, "c")];
    run(core, store, fence(1), replicate(1, [0, 0], ...writes));
    const page = (base: { epoch: number; seq: number } | null, afterKey: string): DataReply => {
      const request = { type: "snapshot", rid: ++rid, partition: P, epoch: 1, base, afterKey };
      return run(core, store, request as DataRequest)[0] as DataReply;
    };
    const first = page(null, "");
    expect(first).toMatchObject({ base: { epoch: 1, seq: 3 }, next: keyOf(2) });
    // Key 3 changes and key 4 appears after the base: the next pages show the base's state.
    run(core, store, replicate(1, [1, 3], change(4, 1, 3, "changed"), change(5, 1, 4, "new")));
    const second = page({ epoch: 1, seq: 3 }, keyOf(2));
    expect(second).toMatchObject({ type: "snapshot-rows", next: keyOf(4) });
    expect(second.type === "snapshot-rows" && second.rows.map((r) => r.value)).toEqual(["c"]);
    expect(page({ epoch: 1, seq: 3 }, keyOf(4))).toMatchObject({ rows: [], next: null });
    store.commit([{ type: "trim", partition: P, uptoSeq: 4 }]);
    expect(page({ epoch: 1, seq: 3 }, keyOf(2))).toMatchObject({ reason: "trimmed" });
    // A base from another history (an epoch it never had at that seq) is refused the same way.
    expect(page({ epoch: 2, seq: 5 }, "")).toMatchObject({ type: "refused", reason: "trimmed" });
  });

  test("WATCH since: a key's changes from the log; COMPACTED only when trimming matters", () => {
    const store = new MemoryReplicaStore();
    const core = new ReplicaCore(store);
    // Key 1 set at 1, key 2 set at 2 and 3, key 3 set at 4 and deleted at 5; then 1..3 trimmed.
    const writes = [change(1, 1, 1, "a"), change(2, 1, 2, "b"), change(3, 1, 2, "c")];
    run(core, store, fence(1), replicate(1, [0, 0], ...writes, change(4, 1, 3, "d")));
    run(core, store, replicate(1, [1, 4], change(5, 1, 3, null), change(6, 1, 2, "e")));
    const keyChanges = (n: number, afterSeq: number, limit = 10): DataReply =>
      run(core, store, { type: "key-changes", rid: ++rid, partition: P, epoch: 1, key: keyOf(n),
        afterSeq, limit })[0] as DataReply;
    const seqs = (reply: DataReply) =>
      reply.type === "key-changes" ? reply.changes.map((c) => c.seq) : reply;
    expect(seqs(keyChanges(2, 0))).toEqual([2, 3, 6]);
    expect(keyChanges(2, 0, 2)).toMatchObject({ more: true, asOf: 6, compacted: false });
    store.commit([{ type: "trim", partition: P, uptoSeq: 3 }]);
    expect(seqs(keyChanges(3, 3))).toEqual([4, 5]);
    // Key 2 changed at 2 and 3, which are gone: the answer cannot be complete.
    expect(keyChanges(2, 1)).toMatchObject({ compacted: true, base: 3, changes: [] });
    // Key 1 was last set at 1: nothing of it can be in the trimmed part after 1.
    expect(keyChanges(1, 1)).toMatchObject({ compacted: false, changes: [], asOf: 6 });
    // Key 3 was deleted: no row says when it last changed.
    expect(keyChanges(3, 0)).toMatchObject({ compacted: true });
    // A key never written, asked about changes the log no longer holds.
    expect(keyChanges(7, 0)).toMatchObject({ compacted: true });
    expect(keyChanges(7, 3)).toMatchObject({ compacted: false, changes: [] });
  });
});
