// UTF-8 size of a JavaScript string without encoding it. Pure: no I/O, no allocation.

/**
 * The number of bytes `text` takes in UTF-8, or null when it holds a lone surrogate (such a
 * string has no UTF-8 form: encoding it would silently replace the surrogate with U+FFFD).
 */
export function utf8ByteLength(text: string): number | null {
  // Both checks are native: a loop over the UTF-16 units in JavaScript cost 0.4 µs per 256
  // characters, 1.5 ms per MiB, on every value a request or a peer message carries.
  return text.isWellFormed() ? Buffer.byteLength(text, "utf8") : null;
}
