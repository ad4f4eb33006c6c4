// fast-check generators of client request frames (docs/protocol.md): request-shaped objects
// with any field values, valid requests with one field changed, and JSON text with escapes
// JSON.stringify never writes. Shared by the unit fuzz test and the fuzz run against a node.
import fc from "fast-check";
import { requestOps, scanCountMax } from "../../lib/protocol.ts";

const encoder = new TextEncoder();

const uuidArb = fc.oneof(
  fc.uuid({ version: 4 }),
  fc.uuid({ version: 4 }).map((key) => key.toUpperCase()),
  fc.uuid(),
  fc.string({ maxLength: 40 }),
);

/** Values a field might hold: the right type near its limits, or any JSON at all. */
export const fieldArb = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1, 1000, 1001, 2 ** 53, -0, 0.5, 1e308, "", "0", "3:", true, null),
  fc.string({ maxLength: 80 }),
);

const requestFields = [
  "id", "op", "key", "value", "writer", "retry", "cursor", "count", "keysOnly", "member",
] as const;

export const requestArb = fc.record(
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
export const nearlyValidArb = fc
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
export const oddJsonArb = fc
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
/** Every kind above, plus raw bytes and any JSON value, as request frames. */
export const requestFrameArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.oneof(requestArb, nearlyValidArb, nearlyValidArb)
    .map((raw) => encoder.encode(JSON.stringify(raw))),
  oddJsonArb,
  fc.jsonValue({ maxDepth: 3 }).map((value) => encoder.encode(JSON.stringify(value))),
  fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ maxLength: 300, size: "max" })),
);
