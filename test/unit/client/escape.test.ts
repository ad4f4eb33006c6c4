// Control characters are written as escapes before reaching a terminal (issue 8): ESC, BEL, C1
// controls and bidirectional overrides can no longer drive the terminal; text stays as it was.
import { describe, expect, test } from "bun:test";
import { escapeControls } from "../../../lib/client/escape.ts";
import { jsonLine } from "../../../lib/client/repl-shell.ts";

describe("escapeControls", () => {
  const cases: [string, string, string][] = [
    ["ESC of a colour sequence", "a\x1b[31mred", "a\\e[31mred"],
    ["BEL", "ding\x07", "ding\\a"],
    ["C1 CSI (U+009B) and NEL (U+0085)", "x\u009b2Jy\u0085", "x\\x9b2Jy\\x85"],
    ["NUL, CR, backspace, DEL", "a\0b\rc\bd\x7f", "a\\0b\\rc\\bd\\x7f"],
    ["OSC title sequence", "\x1b]0;pwned\x07", "\\e]0;pwned\\a"],
    ["bidi override", "abc\u202edef", "abc\\u202edef"],
    ["tab and newline are kept", "a\tb\nc", "a\tb\nc"],
    ["plain and non-ASCII text is kept", "héllo wörld ✓", "héllo wörld ✓"],
  ];
  for (const [name, input, output] of cases) {
    test(name, () => expect(escapeControls(input)).toBe(output));
  }

  test("the output holds no control character but tab and newline", () => {
    let all = "";
    for (let code = 0; code < 0x100; code++) all += String.fromCharCode(code);
    const escaped = escapeControls(all);
    expect(escaped).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });
});

describe("jsonLine", () => {
  test("C1 controls and bidi marks become \\u escapes and the JSON still parses", () => {
    const value = { value: "x\u009b31my\u202e" };
    const line = jsonLine(value);
    expect(line).toBe('{"value":"x\\u009b31my\\u202e"}');
    expect(JSON.parse(line)).toEqual(value);
  });
});
