// Property-based fuzzing of the client request path with fast-check: lib/protocol.ts's
// parseRequest and lib/cluster/client-handlers.ts's handleClientRequest. Whatever arrives (raw
// bytes, any JSON value, request-shaped objects with any field values, JSON text with lone
// surrogates and odd escapes), nothing throws; the answer is exactly one reply that encodes to
// JSON a client parses back: a valid request's, or an error with a protocol code and a message;
// and an accepted request is a fixed point (encoding it and parsing again gives it back). The
// client's side too: replies and heartbeats from the network parse without throwing, and only
// into well-formed values.
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
  decodeHeartbeat,
  encodeHeartbeat,
  encodeJson,
  encodeRequest,
  errorReply,
  isRequestId,
  leaderHintOf,
  nodeRoles,
  parseReply,
  parseRequest,
  requestOps,
  scanCountMax,
  wireErrorCodes,
} from "../../lib/protocol.ts";
import { formatTcpEndpoint, parseTcpEndpoint } from "../../lib/util/endpoint.ts";
import { isCanonicalUuid4 } from "../../lib/util/uuid4.ts";
import { utf8ByteLength } from "../../lib/util/utf8.ts";
import { bytesArb, fuzzSettings } from "../harness/fuzz.ts";
import { fieldArb, nearlyValidArb, oddJsonArb, requestArb } from "./request-arbitraries.ts";

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

// ---- what a client decodes: replies and heartbeats ----------------------------------------------

const endpointArb = fc.oneof(
  fc.tuple(
    fc.constantFrom("127.0.0.1", "localhost", "::1", "10.0.0.7"),
    fc.integer({ min: 1, max: 65535 }),
  ).map(([host, port]) => formatTcpEndpoint(host, port)),
  fc.string({ maxLength: 30 }),
);

const heartbeatArb = fc.record({
  node: fc.record({ id: fc.integer({ min: 1, max: 9 }), endpoint: endpointArb, pub: endpointArb }),
  role: fc.oneof(fc.constantFrom(...nodeRoles), fc.string({ maxLength: 8 })),
  term: fc.oneof(fc.nat(), fc.constantFrom(-1, 0.5, 2 ** 53)),
  leader: fc.oneof(
    fc.constant(null),
    fc.record({ id: fc.integer({ min: 0, max: 9 }), endpoint: endpointArb }),
  ),
  rf: fc.integer({ min: 0, max: 5 }),
  partitions: fc.integer({ min: 0, max: 64 }),
  members: fc.array(
    fc.record({
      id: fc.integer({ min: 0, max: 9 }),
      endpoint: endpointArb,
      pub: endpointArb,
      alive: fc.oneof(fc.boolean(), fieldArb),
    }),
    { maxLength: 5 },
  ),
});

test(
  "replies: any bytes or JSON never throw, and what parses is a well-formed reply",
  () => {
    const errorArb = fc.record({
      code: fc.oneof(fc.constantFrom(...wireErrorCodes), fieldArb),
      message: fieldArb,
      leader: fc.oneof(fieldArb, fc.record({ id: fieldArb, endpoint: endpointArb })),
    });
    const replyArb = fc.record(
      { id: fieldArb, ok: fc.oneof(fc.boolean(), fieldArb), error: fc.oneof(errorArb, fieldArb) },
      { requiredKeys: [] },
    );
    const frameArb = fc.oneof(
      bytesArb(200),
      fc.oneof(fc.jsonValue({ maxDepth: 3 }), replyArb)
        .map((value) => encoder.encode(JSON.stringify(value))),
    );
    fc.assert(
      fc.property(frameArb, (frame) => {
        const reply = parseReply(frame);
        if (reply === null) return;
        expect(reply.id === null || isRequestId(reply.id)).toBe(true);
        if (reply.ok) return;
        expect(wireErrorCodes).toContain(reply.error.code);
        expect(typeof reply.error.message).toBe("string");
        const hint = leaderHintOf(reply);
        if (hint !== null) {
          expect(Number.isSafeInteger(hint.id) && hint.id > 0).toBe(true);
          expect(parseTcpEndpoint(hint.endpoint)).not.toBeNull();
        }
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "heartbeats: any frames never throw; an accepted one is valid and round-trips",
  () => {
    const framesArb = fc.oneof(
      fc.oneof(heartbeatArb, fc.jsonValue({ maxDepth: 3 }))
        .map((value) => [encoder.encode("hb"), encoder.encode(JSON.stringify(value))]),
      fc.array(bytesArb(200), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(framesArb, (frames) => {
        const info = decodeHeartbeat(frames);
        if (info === null) return;
        expect(nodeRoles).toContain(info.role);
        const ids = info.members.map((m) => m.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const m of info.members) {
          expect(parseTcpEndpoint(m.endpoint)).not.toBeNull();
          expect(parseTcpEndpoint(m.pub)).not.toBeNull();
        }
        expect(decodeHeartbeat(encodeHeartbeat(info))).toEqual(info);
      }),
      parameters,
    );
  },
  timeoutMs,
);
