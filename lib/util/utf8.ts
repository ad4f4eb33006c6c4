// UTF-8 size of a JavaScript string without encoding it. Pure: no I/O, no allocation.

/**
 * The number of bytes `text` takes in UTF-8, or null when it holds a lone surrogate (such a
 * string has no UTF-8 form: encoding it would silently replace the surrogate with U+FFFD).
 */
export function utf8ByteLength(text: string): number | null {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit < 0xd800 || unit > 0xdfff) bytes += 3;
    else if (unit <= 0xdbff) {
      // A high surrogate must be followed by a low one; the pair is one 4-byte code point.
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) return null;
      bytes += 4;
      i++;
    } else {
      return null;
    }
  }
  return bytes;
}
