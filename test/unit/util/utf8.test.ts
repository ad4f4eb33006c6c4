// utf8ByteLength must agree with TextEncoder on well-formed text and refuse lone surrogates.
import { describe, expect, test } from "bun:test";
import { utf8ByteLength } from "../../../lib/util/utf8.ts";

describe("utf8ByteLength", () => {
  test("matches TextEncoder on well-formed text", () => {
    const encoder = new TextEncoder();
    const samples = [
      "", "a", "é", "€", "世界", "🎉", "a\u0000b", "\u007f\u0080\u07ff\u0800\uffff",
      "\ud800\udc00", "\udbff\udfff", "mixed ascii é 世 🎉 end",
    ];
    for (const sample of samples) {
      expect(utf8ByteLength(sample)).toBe(encoder.encode(sample).length);
    }
  });

  test("matches TextEncoder on every BMP code unit outside the surrogates", () => {
    const encoder = new TextEncoder();
    for (let unit = 0; unit < 0x10000; unit += 7) {
      if (unit >= 0xd800 && unit <= 0xdfff) continue;
      const text = String.fromCharCode(unit);
      expect(utf8ByteLength(text)).toBe(encoder.encode(text).length);
    }
  });

  test("refuses lone surrogates anywhere", () => {
    for (const bad of ["\ud800", "\udc00", "a\ud800", "\ud800a", "\udc00\ud800", "🎉\udfff"]) {
      expect(utf8ByteLength(bad)).toBeNull();
    }
  });
});
