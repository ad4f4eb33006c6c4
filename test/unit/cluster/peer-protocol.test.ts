// The peer protocol (lib/cluster/peer-protocol.ts): every message kind survives encode → parse
// unchanged, and hostile or malformed frames are refused with an error naming the problem, never
// a throw (issue 8). The randomized checks are in peer-protocol-fuzz.test.ts.

import { describe, expect, test } from "bun:test";
import type { DataReply, DataRequest } from "../../../lib/cluster/data-messages.ts";
import {
  encodePeerMessage,
  parsePeerMessage,
  plausibleSender,
  replyProblem,
  type PeerLimits,
} from "../../../lib/cluster/peer-protocol.ts";
import {
  LEADER,
  P,
  PARTITIONS,
  REPLICA,
  decodeTestRaft,
  frameOf,
  keyIn,
  limits,
  rawOf,
  sampleMessages,
  sampleRequests,
  type TestMessage,
  type TestRaft,
} from "./peer-samples.ts";
import { keyOf } from "../store/rows.ts";

const encoder = new TextEncoder();

function sample(kind: string, type?: string): TestMessage {
  const found = sampleMessages().find(
    (m) => m.kind === kind && (type === undefined || (m.body as { type?: string }).type === type),
  );
  if (found === undefined) throw new Error(`no sample ${kind} ${type ?? ""}`);
  return found;
}

/** The sample's JSON value after `change`, as a frame. `any`: the point is to write any shape
 * into parsed JSON, which no type describes. */
function mutated(kind: string, type: string | undefined, change: (raw: any) => void): Uint8Array {
  const raw = rawOf(sample(kind, type));
  change(raw);
  return frameOf(raw);
}

describe("round trip", () => {
  test.each(sampleMessages().map((m) => [`${m.kind} ${describeBody(m)}`, m] as const))(
    "%s",
    (_name, message) => {
      const parsed = parsePeerMessage(encodePeerMessage(message), limits);
      expect(parsed).toEqual({ ok: true, message });
    },
  );

  test("the wire form is the documented envelope", () => {
    const message = sample("data-request", "fence");
    const text = new TextDecoder().decode(encodePeerMessage(message));
    expect(JSON.parse(text)).toEqual({
      v: 1,
      from: LEADER,
      to: REPLICA,
      kind: "data-request",
      body: { type: "fence", rid: 1, partition: P, epoch: 7 },
    });
  });

  test("without a partition count, keys are free and partitionsMax bounds partitions", () => {
    const wrong = mutated("data-request", "read", (raw) => {
      raw.body.key = keyOf(P + 1);
      raw.body.partition = 4000;
    });
    const unknown: PeerLimits<TestRaft> = { ...limits, partitions: null };
    expect(parsePeerMessage(wrong, unknown).ok).toBe(true);
    expect(parsePeerMessage(wrong, limits)).toEqual({
      ok: false,
      error: `body.partition must be between 0 and ${PARTITIONS - 1}, got 4000`,
    });
  });
});

function describeBody(message: TestMessage): string {
  const body = message.body as { type?: string; ok?: boolean; rid?: number };
  return body.type ?? (body.ok === undefined ? `rid ${body.rid}` : `ok=${body.ok} rid ${body.rid}`);
}

const P_OTHER_KEY = keyOf(P + 1);

/** [what, frame, a part of the expected error] */
const hostile: [string, Uint8Array, string][] = [
  ["not UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "not UTF-8 JSON"],
  ["not JSON", encoder.encode("{v:1}"), "not UTF-8 JSON"],
  ["empty frame", new Uint8Array(0), "not UTF-8 JSON"],
  ["a JSON array", encoder.encode("[1,2]"), "message must be an object, got an array"],
  ["a JSON string", encoder.encode('"raft"'), "message must be an object"],
  ["over frameBytesMax", new Uint8Array(limits.frameBytesMax + 1).fill(0x20), "over the limit"],
  ["nested 30000 deep", encoder.encode("[".repeat(30_000) + "]".repeat(30_000)), "deeper"],
  ["nested 17 deep in a body", nested(17), "deeper than 16"],
  ["version 2", mutated("raft", undefined, (raw) => (raw.v = 2)), "message.v must be 1"],
  ["unknown kind", mutated("raft", undefined, (raw) => (raw.kind = "gossip")), "message.kind"],
  ["missing body", mutated("raft", undefined, (raw) => delete raw.body), "message.body is missing"],
  ["extra envelope field", mutated("raft", undefined, (raw) => (raw.id = 5)), 'field "id"'],
  ["from 2^53", mutated("raft", undefined, (raw) => (raw.from = 2 ** 53)), "message.from must be"],
  ["from 0", mutated("raft", undefined, (raw) => (raw.from = 0)), "message.from must be between"],
  ["to itself", mutated("raft", undefined, (raw) => (raw.to = raw.from)), "are both 1"],
  ["to 0 on data", mutated("data-request", "fence", (raw) => (raw.to = 0)), "message.to must be"],
  ["raft term 2^53", mutated("raft", undefined, (raw) => (raw.body.term = 2 ** 53)), "term"],
  [
    "raft relayed under another name",
    mutated("raft", undefined, (raw) => (raw.body.from = 3)),
    "differ from the envelope's",
  ],
  ["raft body an array", mutated("raft", undefined, (raw) => (raw.body = [])), "body must be"],
  ["epoch 2^53", mutated("data-request", "fence", (raw) => (raw.body.epoch = 2 ** 53)), "epoch"],
  ["epoch 1e400", protoFrame('"epoch":7', '"epoch":1e400'), "body.epoch must be a safe integer"],
  ["epoch 0", mutated("data-request", "fence", (raw) => (raw.body.epoch = 0)), "body.epoch"],
  ["epoch 1.5", mutated("data-request", "fence", (raw) => (raw.body.epoch = 1.5)), "body.epoch"],
  ["epoch as text", mutated("data-request", "fence", (raw) => (raw.body.epoch = "7")), "epoch"],
  ["rid 0", mutated("data-request", "fence", (raw) => (raw.body.rid = 0)), "body.rid"],
  ["missing rid", mutated("data-request", "fence", (raw) => delete raw.body.rid), "rid is missing"],
  ["partition 8", mutated("data-request", "fence", (raw) => (raw.body.partition = 8)), "partition"],
  ["unknown type", mutated("data-request", "fence", (raw) => (raw.body.type = "nuke")), "type"],
  ["__proto__ in a body", protoFrame('"rid":1,', '"__proto__":{"x":1},"rid":1,'), "__proto__"],
  ["constructor in a body", protoFrame('"rid":1,', '"constructor":1,"rid":1,'), "constructor"],
  [
    "extra nesting",
    mutated("data-request", "fence", (raw) => (raw.body = { body: raw.body })),
    "body.type must be one of",
  ],
  [
    "negative seq",
    mutated("data-request", "replicate", (raw) => (raw.body.changes[0].seq = -1)),
    "body.changes[0].seq must be between 1",
  ],
  [
    "non-contiguous changes",
    mutated("data-request", "replicate", (raw) => (raw.body.changes[1].seq = 14)),
    "body.changes[1].seq must be 12 (contiguous)",
  ],
  [
    "changes not after prev",
    mutated("data-request", "replicate", (raw) => (raw.body.prev.seq = 9)),
    "body.changes[0].seq must be 10",
  ],
  [
    "an epoch going down",
    mutated("data-request", "replicate", (raw) => (raw.body.changes[2].epoch = 6)),
    "below the epoch before it",
  ],
  [
    "a change from a later epoch than the request",
    mutated("data-request", "replicate", (raw) => (raw.body.changes[2].epoch = 8)),
    "after the request's epoch 7",
  ],
  [
    "prev from a later epoch",
    mutated("data-request", "replicate", (raw) => (raw.body.prev.epoch = 8)),
    "body.prev.epoch must be between 0 and 7",
  ],
  [
    "prev at seq 5 of epoch 0",
    mutated("data-request", "replicate", (raw) => (raw.body.prev = { epoch: 0, seq: 5 })),
    "epoch 0 exactly when its seq is 0",
  ],
  [
    "too many changes",
    mutated("data-request", "replicate", (raw) => {
      const first = raw.body.changes[0];
      raw.body.changes = Array.from({ length: 17 }, (_, i) => ({ ...first, seq: 11 + i }));
    }),
    "at most 16 are allowed",
  ],
  [
    "key in the wrong partition",
    mutated("data-request", "read", (raw) => (raw.body.key = P_OTHER_KEY)),
    `is in partition ${P + 1}, not ${P}`,
  ],
  [
    "upper-case key",
    mutated("data-request", "read", (raw) => (raw.body.key = keyIn(4).toUpperCase())),
    "canonical lowercase UUID4",
  ],
  [
    "value over the limit",
    mutated("data-request", "replicate", (raw) => (raw.body.changes[0].value = "x".repeat(65))),
    "larger than 64 bytes",
  ],
  [
    "value over the limit in UTF-8 only",
    mutated("data-request", "replicate", (raw) => (raw.body.changes[0].value = "é".repeat(33))),
    "larger than 64 bytes (66)",
  ],
  [
    "value with a lone surrogate",
    mutated("data-request", "replicate", (raw) => (raw.body.changes[0].value = "a\ud800")),
    "lone surrogate",
  ],
  [
    "writer of 129 characters",
    mutated("data-request", "writer", (raw) => (raw.body.writer = "w".repeat(129))),
    "longer than 128",
  ],
  [
    "writer with a lone surrogate",
    mutated("data-request", "writer", (raw) => (raw.body.writer = "client\udc00:1")),
    "body.writer holds a lone surrogate",
  ],
  ["empty writer", mutated("data-request", "writer", (raw) => (raw.body.writer = "")), "empty"],
  ["fetch limit 0", mutated("data-request", "fetch", (raw) => (raw.body.limit = 0)), "body.limit"],
  [
    "key changes of two keys",
    mutated("data-reply", "key-changes", (raw) => (raw.body.changes[1].key = raw.body.changes[0].key
      .replace(/^./, "f"))),
    "body.changes[1]",
  ],
  [
    "key changes after asOf",
    mutated("data-reply", "key-changes", (raw) => (raw.body.asOf = 5)),
    "between body.base and body.asOf",
  ],
  [
    "a compacted answer with changes",
    mutated("data-reply", "key-changes", (raw) => {
      raw.body.compacted = true;
      raw.body.base = 0;
    }),
    "carries no changes",
  ],
  [
    "fetch limit over the cap",
    mutated("data-request", "fetch", (raw) => (raw.body.limit = 17)),
    "body.limit must be between 1 and 16",
  ],
  [
    "summary epochs descending",
    mutated("data-request", "truncate", (raw) => (raw.body.source.epochs[1].epoch = 1)),
    "must start a later epoch",
  ],
  [
    "summary first epoch start not after the base",
    mutated("data-request", "truncate", (raw) => (raw.body.source.epochs[0].seq = 6)),
    "must be 5",
  ],
  [
    "summary last not in the last epoch",
    mutated("data-request", "truncate", (raw) => (raw.body.source.last.epoch = 5)),
    "epoch of the last epoch start",
  ],
  [
    "summary with changes but no epoch starts",
    mutated("data-request", "truncate", (raw) => (raw.body.source.epochs = [])),
    "must equal body.source.base",
  ],
  [
    "a copied row newer than the copy's base",
    mutated("data-request", "install", (raw) => (raw.body.rows[0].seq = 10)),
    "after the copy's base",
  ],
  [
    "a copied row of another partition",
    mutated("data-request", "install", (raw) => (raw.body.rows[0].partition = P + 1)),
    `partition must be ${P}`,
  ],
  [
    "a row list where an object belongs",
    mutated("data-request", "install", (raw) => (raw.body.base = [6, 9])),
    "body.base must be an object, got an array",
  ],
  ["unknown refusal", mutated("data-reply", "refused", (raw) => (raw.body.reason = "x")), "reason"],
  [
    "unknown status",
    mutated("data-reply", "replicated", (raw) => (raw.body.statuses[0] = "lost")),
    "body.statuses[0] must be one of",
  ],
  [
    "a delete reported as created",
    mutated("data-reply", "changes", (raw) => (raw.body.changes[1].status = "created")),
    "does not fit a delete",
  ],
  [
    "rows out of key order",
    mutated("data-reply", "rows-page", (raw) => raw.body.rows.reverse()),
    "rows in key order",
  ],
  [
    "a rows page whose more is not a boolean",
    mutated("data-reply", "rows-page", (raw) => (raw.body.more = 1)),
    "body.more",
  ],
  [
    "changes reply with last before its changes",
    mutated("data-reply", "changes", (raw) => (raw.body.last = { epoch: 3, seq: 5 })),
    "body.last must not be before",
  ],
  [
    "join in another node's name",
    mutated("join", undefined, (raw) => (raw.from = 5)),
    "body.member.id 4 is not the sender 5",
  ],
  [
    "join with an endpoint clients cannot dial",
    mutated("join", undefined, (raw) => (raw.body.member.endpoint = "tcp://bad host:1")),
    "body.member.endpoint is not tcp://host:port",
  ],
  [
    "join with a member given as JSON text",
    mutated("join", undefined, (raw) => (raw.body.member = JSON.stringify(raw.body.member))),
    "body.member must be an object",
  ],
  [
    "join with min-insync above its rf",
    mutated("join", undefined, (raw) => Object.assign(raw.body, { rf: 2, minInsync: 3 })),
    "body.minInsync must be between 1 and 2",
  ],
  [
    "join reply whose leader is not a member",
    mutated("join-reply", undefined, (raw) => (raw.body.leaderId = 9)),
    "body.leaderId 9 is not a member",
  ],
  [
    "join reply with two members on one endpoint",
    mutated("join-reply", undefined, (raw) => (raw.body.members[1].pub = "tcp://127.0.0.1:7101")),
    "shares an endpoint with 1",
  ],
  [
    "join reply with members out of order",
    mutated("join-reply", undefined, (raw) => raw.body.members.reverse()),
    "members ascending by id",
  ],
  [
    "refusal with a leader hint but not NOT_LEADER",
    mutated("remove-reply", undefined, (raw) => {
      Object.assign(raw.body, { ok: false, code: "REFUSED", message: "no" });
      raw.body.leader = { id: 1, endpoint: "tcp://127.0.0.1:7001" };
      for (const name of ["leaderId", "members", "rf", "partitions"]) delete raw.body[name];
    }),
    "only sent with NOT_LEADER",
  ],
  ["remove of id 0", mutated("remove", undefined, (raw) => (raw.body.id = 0)), "body.id"],
];

/** The fence sample's frame with `from` replaced in its JSON text (for keys JS cannot write). */
function protoFrame(from: string, to: string): Uint8Array {
  const text = new TextDecoder().decode(encodePeerMessage(sample("data-request", "fence")));
  if (!text.includes(from)) throw new Error(`${from} is not in ${text}`);
  return encoder.encode(text.replace(from, to));
}

/** A fence sample whose rid is wrapped in `depth - 2` arrays (body and envelope are 2). */
function nested(depth: number): Uint8Array {
  const wrapped = "[".repeat(depth - 2) + "1" + "]".repeat(depth - 2);
  return protoFrame('"rid":1', `"rid":${wrapped}`);
}

describe("hostile and malformed frames are refused", () => {
  test.each(hostile)("%s", (_what, frame, expected) => {
    const result = parsePeerMessage(frame, limits);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(expected);
  });

  test("brackets and escaped quotes inside strings do not count as nesting", () => {
    const writer = '\\"'.repeat(3) + "[{".repeat(40);
    const body: DataRequest = {
      type: "writer", rid: 1, partition: P, epoch: 7, key: keyIn(1), writer,
    };
    const message: TestMessage = { from: LEADER, to: REPLICA, kind: "data-request", body };
    expect(parsePeerMessage(encodePeerMessage(message), limits)).toEqual({ ok: true, message });
  });

  test("a refused __proto__ leaves Object.prototype untouched", () => {
    parsePeerMessage(protoFrame('"rid":1,', '"__proto__":{"polluted":1},"rid":1,'), limits);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  test("each refusal is different from a valid sample's parse (the table tests something)", () => {
    for (const message of sampleMessages()) {
      expect(parsePeerMessage(frameOf(rawOf(message)), limits).ok).toBe(true);
    }
  });
});

describe("plausibleSender", () => {
  const memberIds = new Set([1, 2, 3]);

  test("a member's message addressed to this node is acted on", () => {
    const addressed = sampleMessages().filter((m) => m.kind !== "join" && m.kind !== "remove");
    for (const message of addressed) {
      expect(plausibleSender(message, message.to, new Set([message.from]))).toEqual({ ok: true });
    }
  });

  test("a message from a node that is not (or no longer) a member is refused", () => {
    const stranger: TestMessage = { ...sample("data-request", "fence"), from: 9 };
    expect(plausibleSender(stranger, REPLICA, memberIds)).toEqual({
      ok: false,
      error: "data-request from 9, which is not a member",
    });
    const raft = sample("raft");
    expect(plausibleSender(raft, REPLICA, new Set([2, 3])).ok).toBe(false);
  });

  test("a message for another node is refused", () => {
    expect(plausibleSender(sample("raft"), 3, memberIds)).toEqual({
      ok: false,
      error: "raft from 1 is addressed to 2, not 3",
    });
  });

  test("a join comes from a non-member; a join reply reaches a node that knows no members", () => {
    expect(plausibleSender(sample("join"), 1, memberIds)).toEqual({ ok: true });
    expect(plausibleSender(sample("join-reply"), 4, new Set())).toEqual({ ok: true });
  });

  test("a removal must come from a member, sent to this node or to whoever listens", () => {
    const remove = sample("remove");
    expect(plausibleSender(remove, 1, memberIds)).toEqual({ ok: true });
    expect(plausibleSender({ ...remove, from: 9 }, 1, memberIds).ok).toBe(false);
  });
});

test("the Raft decoder's refusal is the message's refusal", () => {
  const result = parsePeerMessage(
    mutated("raft", undefined, (raw) => (raw.body.type = "gossip")),
    { ...limits, decodeRaft: decodeTestRaft },
  );
  expect(result).toEqual({ ok: false, error: "body: unknown message type" });
});

describe("replyProblem: a reply must fit the request it answers", () => {
  const request = (type: DataRequest["type"]) =>
    sampleRequests.find((r) => r.type === type) as DataRequest;
  // The rows sample with a limit of 1 after keyIn(2).
  const page = sampleRequests.find((r) => r.type === "rows" && r.limit === 1) as DataRequest;
  const row = (n: number, partition = P) => ({
    key: keyOf(n),
    partition,
    seq: 1,
    epoch: 1,
    value: "v",
    writer: null,
  });
  const applied = (seq: number, n: number) => ({
    seq,
    epoch: 5,
    key: keyOf(n),
    value: null,
    writer: null,
    status: "deleted" as const,
  });
  const K2 = 2 * PARTITIONS + P;
  const K9 = 9 * PARTITIONS + P;
  const cases: [string, DataRequest, DataReply, string | null][] = [
    ["fence answered", request("fence"), { type: "fenced", rid: 1, summary: emptySummary() }, null],
    ["another rid", request("fence"), { type: "dropped", rid: 2 }, "does not answer request 1"],
    ["the wrong type", request("fence"), { type: "dropped", rid: 1 }, "not dropped"],
    ["a stale-epoch refusal from a newer epoch", request("drop"), refused(11, 8), null],
    ["a stale-epoch refusal without one", request("drop"), refused(11, 7), "not after epoch 7"],
    ["replicated", request("replicate"), replicated(["created", "deleted", "updated"], 13), null],
    ["statuses for fewer changes", request("replicate"), replicated(["created"], 13), "1 statuses"],
    [
      "replicated to elsewhere",
      request("replicate"),
      replicated(["created", "deleted", "updated"], 12),
      "replicated up to",
    ],
    ["the row asked for", request("read"), { type: "row", rid: 3, row: row(4 * PARTITIONS + P), asOf: 9 },
      null],
    ["no row", request("read"), { type: "row", rid: 3, row: null, asOf: 9 }, null],
    ["another row", request("read"), { type: "row", rid: 3, row: row(K2), asOf: 9 }, "not the one"],
    ["truncated to the base", request("truncate"), truncated(2, 4), null],
    ["truncated inside the source", request("truncate"), truncated(2, 6), null],
    ["truncated to a change the source lacks", request("truncate"), truncated(6, 6), "not hold"],
    ["changes after afterSeq", request("fetch"), changes(applied(4, P)), null],
    ["changes with a gap", request("fetch"), changes(applied(5, P)), "start at 5, not after 3"],
    ["a change of another partition", request("fetch"), changes(applied(4, P + 1)), "another"],
    ["a rows page", page, rowsPage(9, [row(K9)]), null],
    ["a rows page over its limit", page, rowsPage(9, [row(K9), row(K9 + 8)]), "limit"],
    ["a row before the page", page, rowsPage(9, [row(P)]), "before the page"],
    ["installed at the base", request("install"), installed(6, 9), null],
    ["installed elsewhere", request("install"), installed(6, 8), "another base"],
    ["the writer's change", request("writer"), writerChange("client-7:42"), null],
    ["another writer's change", request("writer"), writerChange("client-7:43"), "another writer"],
    ["another key's change", request("writer"), writerChange("client-7:42", 5), "or key"],
    ["the key's changes", request("key-changes"), keyChanges(applied(4, 1 * PARTITIONS + P)), null],
    ["another key's changes", request("key-changes"), keyChanges(applied(4, K2)), "another key"],
    ["a change before afterSeq", request("key-changes"), keyChanges(applied(3, PARTITIONS + P)),
      "not after"],
  ];

  test.each(cases)("%s", (_what, req, reply, expected) => {
    const problem = replyProblem(req, reply, PARTITIONS);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toContain(expected);
  });

  function emptySummary() {
    const zero = { epoch: 0, seq: 0 };
    return { base: zero, last: zero, epochs: [], isCopying: false };
  }
  function refused(rid: number, fenced: number): DataReply {
    return { type: "refused", rid, reason: "stale-epoch", fenced, last: { epoch: 0, seq: 0 } };
  }
  function replicated(statuses: ("created" | "deleted" | "updated")[], seq: number): DataReply {
    return { type: "replicated", rid: 2, last: { epoch: 7, seq }, statuses };
  }
  function truncated(epoch: number, seq: number): DataReply {
    return { type: "truncated", rid: 4, last: { epoch, seq } };
  }
  function changes(...list: ReturnType<typeof applied>[]): DataReply {
    return { type: "changes", rid: 5, changes: list, last: { epoch: 5, seq: 9 } };
  }
  function rowsPage(rid: number, rows: ReturnType<typeof row>[]): DataReply {
    return { type: "rows-page", rid, rows };
  }
  function installed(epoch: number, seq: number): DataReply {
    return { type: "installed", rid: 7, last: { epoch, seq } };
  }
  function keyChanges(...list: ReturnType<typeof applied>[]): DataReply {
    return { type: "key-changes", rid: 12, changes: list, asOf: 9, base: 0, more: false,
      compacted: false };
  }
  function writerChange(writer: string, n = 4): DataReply {
    const change = { ...applied(3, n * PARTITIONS + P), writer };
    return { type: "writer-change", rid: 10, change };
  }
});
