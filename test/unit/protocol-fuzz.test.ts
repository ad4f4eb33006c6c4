// Property-based fuzzing of the client request path with fast-check: lib/protocol.ts's
// parseRequest and lib/cluster/client-handlers.ts's handleClientRequest. Whatever arrives (raw
// bytes, any JSON value, request-shaped objects with any field values, JSON text with lone
// surrogates and odd escapes), nothing throws; the answer is exactly one reply that encodes to
// JSON a client parses back: a valid request's, or an error with a protocol code and a message;
// and an accepted request is a fixed point (encoding it and parsing again gives it back).
//
// CI runs a fixed seed; FUZZ_RUNS / FUZZ_SEED change it (test/harness/fuzz.ts).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { type ClientContext, handleClientRequest } from "../../lib/cluster/client-handlers.ts";
import type { ClientOp, ClientResult } from "../../lib/cluster/node-core.ts";
import { nullRecorder } from "../../lib/ops/index.ts";
import {
  type ParseRequestResult,
  type Reply,
  encodeJson,
  encodeRequest,
  errorReply,
  isRequestId,
  parseReply,
  parseRequest,
  requestOps,
  scanCountMax,
} from "../../lib/protocol.ts";
import { isCanonicalUuid4 } from "../../lib/util/uuid4.ts";
import { utf8ByteLength } from "../../lib/util/utf8.ts";
import { bytesArb, fuzzSettings } from "../harness/fuzz.ts";

const { parameters, timeoutMs } = fuzzSettings(1000);
const limits = { valueBytesMax: 64 };
const encoder = new TextEncoder();

/** Parses, checks the result's shape, and checks its error reply survives the wire. */
function parse(frame: Uint8Array): ParseRequestResult {
  const result = parseRequest(frame, limits);
  if (result.ok) {
    expectValidRequest(result);
    return result;
  }
  expect(["BAD_REQUEST", "INVALID_KEY"]).toContain(result.code);
  expect(result.message.length).toBeGreaterThan(0);
  expect(result.id === null || isRequestId(result.id)).toBe(true);
  const reply = errorReply(result.id, result.code, result.message);
  expect(parseReply(encodeJson(reply))).toEqual(JSON.parse(JSON.stringify(reply)) as Reply);
  return result;
}

/** What an accepted request promises its handler, field by field. */
function expectValidRequest(result: ParseRequestResult & { ok: true }): void {
  const request = result.request;
  expect(requestOps).toContain(request.op);
  expect(isRequestId(request.id)).toBe(true);
  switch (request.op) {
    case "SET":
      expect(utf8ByteLength(request.value)).not.toBeNull();
      expect(utf8ByteLength(request.value) as number).toBeLessThanOrEqual(limits.valueBytesMax);
      expect(isCanonicalUuid4(request.key)).toBe(true);
      return;
    case "GET":
    case "DELETE":
      expect(isCanonicalUuid4(request.key)).toBe(true);
      return;
    case "SCAN":
      expect(Number.isSafeInteger(request.count)).toBe(true);
      expect(request.count >= 1 && request.count <= scanCountMax).toBe(true);
      expect(Number.isSafeInteger(request.cursor.partition)).toBe(true);
      return;
    case "REMOVE":
      expect(Number.isSafeInteger(request.member) && request.member >= 1).toBe(true);
      return;
    case "HEARTBEAT":
    case "COUNT":
      return;
  }
}

/** An accepted request encodes to a frame that parses back to itself (as JSON: an id of -0
 * comes back as 0, the same number to a client). */
function expectStable(result: ParseRequestResult): void {
  if (!result.ok) return;
  const again = parse(encodeRequest(result.request));
  expect(JSON.stringify(again)).toBe(JSON.stringify(result));
}

// ---- generators ---------------------------------------------------------------------------------

const uuidArb = fc.oneof(
  fc.uuid({ version: 4 }),
  fc.uuid({ version: 4 }).map((key) => key.toUpperCase()),
  fc.uuid(),
  fc.string({ maxLength: 40 }),
);

/** Values a field might hold: the right type near its limits, or any JSON at all. */
const fieldArb = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1, 1000, 1001, 2 ** 53, -0, 0.5, 1e308, "", "0", "3:", true, null),
  fc.string({ maxLength: 80 }),
);

const requestFields = [
  "id", "op", "key", "value", "writer", "retry", "cursor", "count", "keysOnly", "member",
] as const;

const requestArb = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fieldArb),
    op: fc.oneof(fc.constantFrom(...requestOps), fc.constantFrom("set", "Get", "WATCH"), fieldArb),
    key: fc.oneof(uuidArb, fieldArb),
    value: fc.oneof(fc.string({ maxLength: 70, unit: "binary" }), fieldArb),
    writer: fc.oneof(fc.string({ maxLength: 130 }), fieldArb),
    retry: fieldArb,
    cursor: fc.oneof(
      fc.tuple(fc.nat(999_999_999), fc.oneof(fc.constant(""), fc.uuid({ version: 4 })))
        .map(([partition, key]) => `${partition}:${key}`),
      fieldArb,
    ),
    count: fc.oneof(fc.integer({ min: -2, max: 1002 }), fieldArb),
    keysOnly: fieldArb,
    member: fc.oneof(fc.integer({ min: -2, max: 10 }), fieldArb),
  },
  { requiredKeys: [] },
);

/** Valid requests of every op, then (in most runs) one field replaced by anything at all. */
const nearlyValidArb = fc
  .tuple(
    fc.record(
      {
        id: fc.oneof(fc.string({ maxLength: 8 }), fc.integer()),
        op: fc.constantFrom(...requestOps),
        key: fc.uuid({ version: 4 }),
        value: fc.string({ maxLength: 16, unit: "binary" }),
        writer: fc.stringMatching(/^[\x21-\x7e]{1,128}$/),
        retry: fc.boolean(),
        cursor: fc.constantFrom("0", "5:", "7:3f2b6c1e-4d5a-4b7c-8d9e-0f1a2b3c4d5e"),
        count: fc.integer({ min: 1, max: scanCountMax }),
        keysOnly: fc.boolean(),
        member: fc.integer({ min: 1, max: 9 }),
      },
      { requiredKeys: ["id", "op", "key", "value"] },
    ),
    fc.option(fc.tuple(fc.constantFrom(...requestFields), fieldArb), { freq: 3 }),
  )
  .map(([request, change]) =>
    change === null ? request : { ...request, [change[0]]: change[1] },
  );

/** JSON text with escapes JSON.stringify never writes: lone surrogates, odd numbers. */
const oddJsonArb = fc
  .record({
    id: fc.constantFrom('"a"', "1", "1e400", "-0", "0.1e-999", '"\\ud800"', "[]", "null"),
    op: fc.constantFrom('"SET"', '"GET"', '"S\\u0045T"', '"SET\\u0000"', "1"),
    key: fc.constantFrom('"3f2b6c1e-4d5a-4b7c-8d9e-0f1a2b3c4d5e"', '"\\udc00"', "{}"),
    value: fc.constantFrom('"\\ud800"', '"\\udbff\\udfff"', '"\\ud83d\\ude00"', '"x\\ud800y"', "7"),
    extra: fc.constantFrom("", ',"__proto__":{"op":"GET"}', ',"constructor":1', ',"id":2'),
  })
  .map(({ id, op, key, value, extra }) =>
    encoder.encode(`{"id":${id},"op":${op},"key":${key},"value":${value}${extra}}`),
  );

// ---- parseRequest -------------------------------------------------------------------------------

test(
  "random bytes never throw and always give a valid request or a BAD_REQUEST reply",
  () => {
    fc.assert(
      fc.property(bytesArb(300), (bytes) => {
        const result = parse(bytes);
        expectStable(result);
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "any JSON value never throws; anything but an object is BAD_REQUEST without an id",
  () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const result = parse(encoder.encode(JSON.stringify(value)));
        const isObject = typeof value === "object" && value !== null && !Array.isArray(value);
        if (!isObject) expect(result).toMatchObject({ ok: false, id: null, code: "BAD_REQUEST" });
        expectStable(result);
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "request-shaped objects with any field values: a valid request, stable, or a clear error",
  () => {
    fc.assert(
      fc.property(fc.oneof(requestArb, nearlyValidArb), (raw: Record<string, unknown>) => {
        const text = JSON.stringify(raw);
        const result = parse(encoder.encode(text));
        expectStable(result);
        const sent = JSON.parse(text) as { id?: unknown };

        if (!result.ok && isRequestId(sent.id)) expect(result.id).toBe(sent.id);
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "JSON text with lone surrogates, huge numbers and __proto__ never throws",
  () => {
    fc.assert(
      fc.property(oddJsonArb, (bytes) => expectStable(parse(bytes))),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "deep nesting and long strings are refused or parsed without throwing",
  () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.boolean(), (depth, isArray) => {
        const [open, close] = isArray ? ["[", "]"] : ['{"a":', "}"];
        const text = `${open.repeat(depth)}1${close.repeat(depth)}`;
        parse(encoder.encode(text));
      }),
      { ...parameters, numRuns: Math.min(parameters.numRuns ?? 20, 20) },
    );
  },
  timeoutMs,
);

// ---- handleClientRequest ------------------------------------------------------------------------

/** A node context whose core answers each op with the given result. */
function contextAnswering(result: ClientResult, ran: ClientOp[]): ClientContext {
  return {
    valueBytesMax: limits.valueBytesMax,
    recorder: nullRecorder,
    heartbeat: () => ({ role: "leader", term: 1 }),
    isAlive: () => false,
    run: (op, done) => {
      ran.push(op);
      done(result);
    },
  };
}

const coreResultArb: fc.Arbitrary<ClientResult> = fc.oneof(
  fc.constant<ClientResult>({ ok: true, fields: { status: "created", replicas: 1 } }),
  fc.constantFrom("NOT_LEADER", "UNAVAILABLE", "TIMEOUT", "BAD_REQUEST" as const).map(
    (code): ClientResult => ({ ok: false, code, message: `core says ${code}` }),
  ),
);

test(
  "the client handler answers any frame exactly once, with a reply a client can parse",
  () => {
    const frameArb = fc.oneof(
      bytesArb(200),
      fc.oneof(requestArb, nearlyValidArb).map((raw) => encoder.encode(JSON.stringify(raw))),
      oddJsonArb,
    );
    fc.assert(
      fc.property(frameArb, coreResultArb, (frame, coreResult) => {
        const ran: ClientOp[] = [];
        const replies: Reply[] = [];
        handleClientRequest(contextAnswering(coreResult, ran), frame, (r) => replies.push(r));
        expect(replies).toHaveLength(1);
        const reply = replies[0] as Reply;
        const parsed = parseReply(encodeJson(reply));
        expect(parsed).not.toBeNull();
        const request = parseRequest(frame, limits);
        // Only a valid request reaches the core, and HEARTBEAT never does.
        const reachesCore = request.ok && request.request.op !== "HEARTBEAT";
        expect(ran).toHaveLength(reachesCore ? 1 : 0);
        if (!request.ok) {
          expect(parsed).toMatchObject({ ok: false, error: { code: request.code } });
        }
      }),
      parameters,
    );
  },
  timeoutMs,
);
