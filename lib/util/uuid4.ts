// The one place that decides what a key is: a UUID version 4 (RFC 9562), checked with the uuid
// package's validate and version rather than a regex of our own. validate() also admits the nil
// and max UUIDs and other versions; version() === 4 refuses those. Upper case is accepted on the
// wire and stored in lower case, the canonical form placement hashes.
import { validate, version } from "uuid";

/** True for a UUID version 4 in any letter case. */
export function isUuid4(text: unknown): text is string {
  return typeof text === "string" && validate(text) && version(text) === 4;
}

/** True for a UUID version 4 in canonical (lower-case) form, as the store holds keys. */
export function isCanonicalUuid4(text: unknown): text is string {
  return isUuid4(text) && text === text.toLowerCase();
}
