// fast-check arbitraries of valid peer messages (under peer-samples.ts's limits): every kind and
// body type, with the relations the parser checks built in (contiguous seqs, non-decreasing
// epochs, keys in their partition, rows at or before a copy's base). No I/O.

import fc from "fast-check";
import type {
  DataReply,
  DataRequest,
  RefusalReason,
} from "../../../lib/cluster/data-messages.ts";
import type { MembershipReply } from "../../../lib/cluster/peer-protocol.ts";
import type {
  AppliedChange,
  ChangeRecord,
  ChangeStatus,
  DataRow,
  LogPosition,
  LogSummary,
} from "../../../lib/store/replica-types.ts";
import { PARTITIONS, type TestMessage } from "./peer-samples.ts";

const SEQ_MAX = 1_000_000_000;
const EPOCH_MAX = Number.MAX_SAFE_INTEGER;

const hex = (digits: number) =>
  fc.integer({ min: 0, max: 16 ** digits - 1 }).map((n) => n.toString(16).padStart(digits, "0"));

/** A canonical UUID4 whose first 8 hex digits put it in `partition`. */
export function keyArb(partition: number): fc.Arbitrary<string> {
  const highMax = Math.floor((0xffffffff - partition) / PARTITIONS);
  return fc
    .tuple(
      fc.integer({ min: 0, max: highMax }),
      hex(4),
      hex(3),
      fc.constantFrom("8", "9", "a", "b"),
      hex(3),
      hex(12),
    )
    .map(([high, b, c, variant, d, e]) => {
      const head = (high * PARTITIONS + partition).toString(16).padStart(8, "0");
      return `${head}-${b}-4${c}-${variant}${d}-${e}`;
    });
}

// Any code point but a lone surrogate, evenly over the 1- to 4-byte UTF-8 forms (control
// characters, quotes and backslashes included, for JSON escaping). fast-check's own "binary"
// unit costs over a second to build, which CI would pay on every run.
const codePointArb = fc
  .oneof(
    fc.integer({ min: 0, max: 0x7f }),
    fc.integer({ min: 0x80, max: 0x7ff }),
    fc.integer({ min: 0x800, max: 0xd7ff }),
    fc.integer({ min: 0xe000, max: 0xffff }),
    fc.integer({ min: 0x10000, max: 0x10ffff }),
  )
  .map((codePoint) => String.fromCodePoint(codePoint));

/** Well-formed text of `minLength` to `maxLength` code points. */
export const textArb = (minLength: number, maxLength: number) =>
  fc.string({ unit: codePointArb, minLength, maxLength });

// 16 code points of at most 4 UTF-8 bytes each: within the 64-byte test limit.
const valueArb = textArb(0, 16);
// 32 code points are at most 64 UTF-16 units, within WRITER_CHARS_MAX.
const writerArb = fc.option(textArb(1, 32), { nil: null });
const partitionArb = fc.integer({ min: 0, max: PARTITIONS - 1 });
const ridArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const idArb = fc.integer({ min: 1, max: 2_147_483_647 });

function positionArb(epochMax: number): fc.Arbitrary<LogPosition> {
  const epoch = fc.integer({ min: 1, max: epochMax });
  const seq = fc.integer({ min: 1, max: SEQ_MAX });
  return fc.oneof(fc.constant({ epoch: 0, seq: 0 }), fc.record({ epoch, seq }));
}

function statusOf(value: string | null, isFirstOutcome: boolean): ChangeStatus {
  if (value === null) return isFirstOutcome ? "deleted" : "not_found";
  return isFirstOutcome ? "created" : "updated";
}

/** Up to 5 changes after `prev` in `partition`, in epochs up to `epoch`. */
function changesArb(prev: LogPosition, epoch: number, partition: number) {
  const item = fc.record({
    bump: fc.boolean(),
    key: keyArb(partition),
    value: fc.option(valueArb, { nil: null }),
    writer: writerArb,
    isFirstOutcome: fc.boolean(),
  });
  return fc.array(item, { maxLength: 5 }).map((items) => {
    let current = Math.max(prev.epoch, 1);
    return items.map((it, i): AppliedChange => {
      if (it.bump && current < epoch) current++;
      const { key, value, writer } = it;
      const status = statusOf(value, it.isFirstOutcome);
      return { seq: prev.seq + 1 + i, epoch: current, key, value, writer, status };
    });
  });
}

const withoutStatus = ({ status: _status, ...change }: AppliedChange): ChangeRecord => change;

type LogShape = Pick<LogSummary, "base" | "last" | "epochs">;

function logShapeArb(epochMax: number): fc.Arbitrary<LogShape> {
  return fc
    .record({
      base: positionArb(epochMax),
      retained: fc.nat(6),
      offsets: fc.uniqueArray(fc.integer({ min: 2, max: 6 })),
      gaps: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 6, maxLength: 6 }),
    })
    .map(({ base, retained, offsets, gaps }) => {
      if (retained === 0) return { base, last: base, epochs: [] };
      const starts = [1, ...offsets.filter((o) => o <= retained).sort((a, b) => a - b)];
      const epochs: { epoch: number; seq: number }[] = [];
      let epoch = Math.max(base.epoch, 1);
      starts.forEach((offset, i) => {
        if (i > 0) epoch += gaps[i] ?? 1;
        if (epoch <= epochMax) epochs.push({ epoch, seq: base.seq + offset });
      });
      const top = epochs[epochs.length - 1] as { epoch: number };
      return { base, last: { epoch: top.epoch, seq: base.seq + retained }, epochs };
    });
}

/** Up to 5 distinct rows of `partition`, versions at or before `base` when there is one. */
function rowsArb(partition: number, base: LogPosition | null, isOrdered: boolean) {
  if (base !== null && base.seq === 0) return fc.constant([] as DataRow[]);
  const row = fc.record({
    key: keyArb(partition),
    partition: fc.constant(partition),
    seq: fc.integer({ min: 1, max: base?.seq ?? SEQ_MAX }),
    epoch: fc.integer({ min: 1, max: base?.epoch ?? EPOCH_MAX }),
    value: valueArb,
    writer: writerArb,
  });
  return fc
    .uniqueArray(row, { selector: (r) => r.key, maxLength: 5 })
    .map((rows) => (isOrdered ? rows.sort((a, b) => (a.key < b.key ? -1 : 1)) : rows));
}

const epochArb = fc.integer({ min: 1, max: EPOCH_MAX });
const limitArb = fc.integer({ min: 1, max: 16 });

function requestArb(): fc.Arbitrary<DataRequest> {
  const common = fc.record({ rid: ridArb, partition: partitionArb, epoch: epochArb });
  return common.chain((c) => {
    const { partition, epoch } = c;
    const simple = fc.constantFrom<"fence" | "drop">("fence", "drop");
    const replicate = positionArb(epoch).chain((prev) =>
      changesArb(prev, epoch, partition).map((changes): DataRequest => {
        return { type: "replicate", ...c, prev, changes: changes.map(withoutStatus) };
      }),
    );
    const install = positionArb(epoch).chain((base) =>
      fc
        .record({ rows: rowsArb(partition, base, false), first: fc.boolean(), last: fc.boolean() })
        .map((f): DataRequest => ({ type: "install", ...c, base, ...f, expect: base })),
    );
    const afterKey = fc.oneof(fc.constant(""), keyArb(partition));
    return fc.oneof(
      simple.map((type): DataRequest => ({ type, ...c })),
      replicate,
      keyArb(partition).map((key): DataRequest => ({ type: "read", ...c, key })),
      logShapeArb(epoch).map((source): DataRequest => ({
        type: "truncate", ...c, source, expect: source.last,
      })),
      fc
        .record({ afterSeq: fc.nat(SEQ_MAX), limit: limitArb })
        .map((f): DataRequest => ({ type: "fetch", ...c, ...f })),
      install,
      fc
        .record({ base: fc.option(positionArb(epoch), { nil: null }), afterKey })
        .map((f): DataRequest => ({ type: "snapshot", ...c, ...f })),
      fc
        .record({ afterKey, limit: limitArb })
        .map((f): DataRequest => ({ type: "rows", ...c, ...f })),
      fc
        .record({ key: keyArb(partition), writer: textArb(1, 32) })
        .map((f): DataRequest => ({ type: "writer", ...c, ...f })),
    );
  });
}

/** A partition and up to 5 of its changes, as a replica reports them. */
const appliedArb = fc
  .tuple(partitionArb, positionArb(1000))
  .chain(([partition, prev]) =>
    changesArb(prev, 1000, partition).map((changes) => ({ prev, changes })),
  );

function replyArb(): fc.Arbitrary<DataReply> {
  const statuses = fc.constantFrom<ChangeStatus>("created", "updated", "deleted", "not_found");
  const reason = fc.constantFrom<RefusalReason>("stale-epoch", "gap", "copying", "trimmed");
  const anyPosition = positionArb(EPOCH_MAX);
  const oneRow = partitionArb.chain((p) => rowsArb(p, null, true)).map((rows) => rows[0] ?? null);
  return ridArb.chain((rid) =>
    fc.oneof(
      fc
        .record({ reason, fenced: fc.nat(), last: anyPosition })
        .map((f): DataReply => ({ type: "refused", rid, ...f })),
      fc
        .record({ shape: logShapeArb(EPOCH_MAX), isCopying: fc.boolean() })
        .map(({ shape, isCopying }): DataReply => {
          return { type: "fenced", rid, summary: { ...shape, isCopying } };
        }),
      fc
        .record({ last: anyPosition, statuses: fc.array(statuses, { maxLength: 16 }) })
        .map((f): DataReply => ({ type: "replicated", rid, ...f })),
      oneRow.map((row): DataReply => ({ type: "row", rid, row, asOf: 7 })),
      anyPosition.map((last): DataReply => ({ type: "truncated", rid, last })),
      anyPosition.map((last): DataReply => ({ type: "installed", rid, last })),
      fc.constant<DataReply>({ type: "dropped", rid }),
      appliedArb.map(({ prev, changes }): DataReply => {
        const newest = changes[changes.length - 1] ?? prev;
        const last = { epoch: newest.epoch, seq: newest.seq };
        return { type: "changes", rid, changes, last };
      }),
      fc
        .tuple(partitionArb, anyPosition, fc.boolean())
        .chain(([p, base, isLast]) =>
          rowsArb(p, base, true).map((rows): DataReply => {
            // A page ends at its last row or, when it is the last page, nowhere.
            const next = isLast ? null : rows[rows.length - 1]?.key ?? null;
            return { type: "snapshot-rows", rid, base, rows, next };
          }),
        ),
      fc.tuple(partitionArb.chain((p) => rowsArb(p, null, true)), fc.boolean())
        .map(([rows, more]): DataReply => {
          return more ? { type: "rows-page", rid, rows, more } : { type: "rows-page", rid, rows };
        }),
      appliedArb.map(({ changes }): DataReply => {
        return { type: "writer-change", rid, change: changes[0] ?? null };
      }),
    ),
  );
}

const memberOf = (id: number) => ({
  id,
  endpoint: `tcp://127.0.0.1:${(id % 60_000) + 1}`,
  pub: `tcp://localhost:${(id % 60_000) + 1}`,
  peer: `tcp://localhost:${(id % 60_000) + 2}`,
});

function membershipReplyArb(): fc.Arbitrary<MembershipReply> {
  const ids = fc.uniqueArray(fc.integer({ min: 1, max: 60_000 }), { minLength: 1, maxLength: 8 });
  const accepted = fc
    .record({ rid: ridArb, ids, leaderAt: fc.nat(), rf: fc.integer({ min: 1, max: 16 }) })
    .map(({ rid, ids: list, leaderAt, rf }): MembershipReply => {
      const members = [...list].sort((a, b) => a - b).map(memberOf);
      const leaderId = (members[leaderAt % members.length] as { id: number }).id;
      return { rid, ok: true, leaderId, members, rf, partitions: PARTITIONS };
    });
  const refused = fc
    .record({
      rid: ridArb,
      code: fc.constantFrom<"NOT_LEADER" | "REFUSED">("NOT_LEADER", "REFUSED"),
      message: textArb(1, 40),
      leader: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: null }),
    })
    .map(({ rid, code, message, leader }): MembershipReply => {
      if (code !== "NOT_LEADER" || leader === null) return { rid, ok: false, code, message };
      const hint = { id: leader, endpoint: memberOf(leader).endpoint };
      return { rid, ok: false, code, message, leader: hint };
    });
  return fc.oneof(accepted, refused);
}

function joinArb(from: number, to: number): fc.Arbitrary<TestMessage> {
  const joiner = (from % 60_000) + 1;
  const rf = fc.option(fc.integer({ min: 1, max: 16 }), { nil: null });
  return fc
    .record({ rid: ridArb, rf, toAnyone: fc.boolean() })
    .chain(({ rid, rf: joinRf, toAnyone }) =>
      fc.integer({ min: 1, max: joinRf ?? 16 }).map((minInsync): TestMessage => {
        const body = { rid, member: memberOf(joiner), rf: joinRf, minInsync, isRestart: false };
        return { from: joiner, to: toAnyone || to === joiner ? 0 : to, kind: "join", body };
      }),
    );
}

/** Any valid message. */
export function messageArb(): fc.Arbitrary<TestMessage> {
  const pair = fc.uniqueArray(idArb, { minLength: 2, maxLength: 2 });
  return pair.chain(([from = 1, to = 2]) => {
    const raft = fc.record({ term: fc.nat(), commit: fc.nat() }).map((f): TestMessage => {
      return { from, to, kind: "raft", body: { type: "heartbeat", from, to, ...f } };
    });
    const remove = fc
      .record({ rid: ridArb, id: idArb, toAnyone: fc.boolean() })
      .map(({ rid, id, toAnyone }): TestMessage => {
        return { from, to: toAnyone ? 0 : to, kind: "remove", body: { rid, id } };
      });
    const replyKind = fc.constantFrom<"join-reply" | "remove-reply">("join-reply", "remove-reply");
    const reply = fc
      .tuple(replyKind, membershipReplyArb())
      .map(([kind, body]): TestMessage => ({ from, to, kind, body }));
    const request = requestArb().map((body): TestMessage => {
      return { from, to, kind: "data-request", body };
    });
    const dataReply = replyArb().map((body): TestMessage => {
      return { from, to, kind: "data-reply", body };
    });
    // The data kinds have ten body types each: weigh them so that every type comes up as often.
    return fc.oneof(
      { arbitrary: raft, weight: 1 },
      { arbitrary: request, weight: 8 },
      { arbitrary: dataReply, weight: 8 },
      { arbitrary: joinArb(from, to), weight: 1 },
      { arbitrary: remove, weight: 1 },
      { arbitrary: reply, weight: 2 },
    );
  });
}
