// Field checks behind the peer protocol's parsers (peer-protocol.ts, peer-data-parse.ts). Each
// reads one value of untrusted, already JSON-parsed input and returns it typed, or throws
// PeerInvalid with the value's path (e.g. "body.changes[3].seq"). Only parsePeerMessage catches
// PeerInvalid, so it never escapes the module. Pure: no I/O.
//
// Objects are read strictly: exactly the fields a message kind has, no others. Both ends run the
// same code at one protocol version, so an unknown field means a bug or a hostile sender; and it
// keeps keys like "__proto__" or "constructor" from ever being read (fields are read only by
// name from a fixed list, after Object.hasOwn).

import { utf8ByteLength } from "../util/utf8.ts";

/** A refusal of untrusted input: the message names what is wrong and where. */
export class PeerInvalid extends Error {}

export function invalid(message: string): never {
  throw new PeerInvalid(message);
}

export type Fields = { readonly [name: string]: unknown };

/** A short, printable description of an unexpected value for an error message. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return `a string of ${value.length} characters`;
  return `a ${typeof value}`;
}

/** A field name from the input, shortened and quoted so a hostile name cannot flood the log. */
export function quote(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}...` : name);
}

/** `value` as an object holding every `required` field, any `optional` ones, and no other. */
export function exactObject(
  value: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(`${path} must be an object, got ${describe(value)}`);
  }
  for (const name of Object.keys(value)) {
    if (!required.includes(name) && !optional.includes(name)) {
      invalid(`${path} has an unexpected field ${quote(name)}`);
    }
  }
  for (const name of required) {
    if (!Object.hasOwn(value, name)) invalid(`${path}.${name} is missing`);
  }
  return value as Fields;
}

/** Any object (not an array or null), for a body whose fields another parser checks. */
export function anyObject(value: unknown, path: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(`${path} must be an object, got ${describe(value)}`);
  }
  return value as Fields;
}

/** A safe integer in [min, max]. */
export function integer(
  value: unknown,
  path: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    invalid(`${path} must be a safe integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    invalid(`${path} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

export function boolean(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") invalid(`${path} must be a boolean, got ${describe(value)}`);
  return value;
}

/**
 * A well-formed string of 1 to `charsMax` UTF-16 units. Lone surrogates are refused: such a
 * string has no UTF-8 form and would not come back as it was sent.
 */
export function text(value: unknown, path: string, charsMax: number): string {
  if (typeof value !== "string") invalid(`${path} must be a string, got ${describe(value)}`);
  if (value.length === 0) invalid(`${path} must not be empty`);
  if (value.length > charsMax) {
    invalid(`${path} is longer than ${charsMax} characters (${value.length})`);
  }
  if (utf8ByteLength(value) === null) invalid(`${path} holds a lone surrogate`);
  return value;
}

/** A stored value: any well-formed string of at most `bytesMax` UTF-8 bytes. */
export function valueText(value: unknown, path: string, bytesMax: number): string {
  if (typeof value !== "string") invalid(`${path} must be a string, got ${describe(value)}`);
  // Cheap bound first: a string of n units takes at least n bytes.
  if (value.length > bytesMax) invalid(`${path} is larger than ${bytesMax} bytes`);
  const bytes = utf8ByteLength(value);
  if (bytes === null) invalid(`${path} holds a lone surrogate`);
  if (bytes > bytesMax) invalid(`${path} is larger than ${bytesMax} bytes (${bytes})`);
  return value;
}

/** An array of at most `lengthMax` items (the items are the caller's to check). */
export function list(value: unknown, path: string, lengthMax: number): readonly unknown[] {
  if (!Array.isArray(value)) invalid(`${path} must be an array, got ${describe(value)}`);
  if (value.length > lengthMax) {
    invalid(`${path} has ${value.length} items, at most ${lengthMax} are allowed`);
  }
  return value;
}

/** One of `options` (strings compared exactly). */
export function oneOf<T extends string>(value: unknown, path: string, options: readonly T[]): T {
  const found = options.find((option) => option === value);
  if (found === undefined) {
    const shown = typeof value === "string" ? quote(value) : describe(value);
    invalid(`${path} must be one of ${options.join(", ")}, got ${shown}`);
  }
  return found;
}

/**
 * The deepest nesting of arrays and objects in JSON text, counted on its bytes without parsing
 * (brackets inside strings do not count). Stops counting past `depthMax`, so a hostile frame of
 * a million "[" costs one pass and no allocation.
 */
export function jsonDepthExceeds(frame: Uint8Array, depthMax: number): boolean {
  let depth = 0;
  let isInString = false;
  for (let i = 0; i < frame.length; i++) {
    const byte = frame[i];
    if (isInString) {
      if (byte === 0x5c) i++; // a backslash escapes the next byte, which may be a quote
      else if (byte === 0x22) isInString = false;
    } else if (byte === 0x22) {
      isInString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      depth++;
      if (depth > depthMax) return true;
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
  return false;
}
