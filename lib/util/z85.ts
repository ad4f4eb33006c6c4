// Z85 (ZeroMQ RFC 32): the printable text form libzmq uses for CURVE keys (zmq_z85_encode,
// zmq_curve_keypair). Pure: no I/O. Input lengths must be multiples of 4 (bytes) or 5 (text).

const ALPHABET =
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** Character code → digit value, -1 for characters outside the alphabet. */
const DIGITS = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Encodes bytes as Z85; null when the length is not a multiple of 4. */
export function z85Encode(bytes: Uint8Array): string | null {
  if (bytes.length % 4 !== 0) return null;
  let text = "";
  for (let at = 0; at < bytes.length; at += 4) {
    // Big-endian 32-bit group, written as five base-85 digits, most significant first.
    let value =
      (bytes[at] as number) * 0x1000000 +
      (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) |
        (bytes[at + 3] as number));
    const group = new Array<string>(5);
    for (let i = 4; i >= 0; i--) {
      group[i] = ALPHABET[value % 85] as string;
      value = Math.floor(value / 85);
    }
    text += group.join("");
  }
  return text;
}

/** Decodes Z85 text; null when the length is not a multiple of 5 or a character is invalid. */
export function z85Decode(text: string): Uint8Array | null {
  if (text.length % 5 !== 0) return null;
  const out = new Uint8Array((text.length / 5) * 4);
  for (let at = 0, o = 0; at < text.length; at += 5, o += 4) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const code = text.charCodeAt(at + i);
      const digit = code < 128 ? (DIGITS[code] as number) : -1;
      if (digit < 0) return null;
      value = value * 85 + digit;
    }
    // Five digits can express up to 85^5 - 1, above 2^32 - 1: such a group is not valid Z85.
    if (value > 0xffffffff) return null;
    out[o] = value >>> 24;
    out[o + 1] = (value >>> 16) & 0xff;
    out[o + 2] = (value >>> 8) & 0xff;
    out[o + 3] = value & 0xff;
  }
  return out;
}
