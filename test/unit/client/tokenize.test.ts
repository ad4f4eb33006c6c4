// The one tokenizer of the REPL, --exec and piped input, table-driven: quoting, escapes, JSON
// string literals, separators, comments and every error.
import { describe, expect, test } from "bun:test";
import { quoteWord, tokenize, wordAtEnd } from "../../../lib/client/tokenize.ts";

const key = "9b2c1a4e-3f5d-4c2b-8a1e-7d6f5e4c3b2a";

describe("tokenize: words and commands", () => {
  const cases: [string, string, string[][]][] = [
    ["plain words", `SET ${key} hello`, [["SET", key, "hello"]]],
    ["blanks and tabs between words", `  GET \t ${key}  `, [["GET", key]]],
    ["double quotes keep blanks", `SET k "a  b"`, [["SET", "k", "a  b"]]],
    ["single quotes keep blanks", `SET k 'a  b'`, [["SET", "k", "a  b"]]],
    ["the issue's example is three words", `SET k "a" and "b"`, [["SET", "k", "a", "and", "b"]]],
    ["a double quote inside single quotes", `SET k 'say "hi"'`, [["SET", "k", 'say "hi"']]],
    ["a single quote inside double quotes", `SET k "it's"`, [["SET", "k", "it's"]]],
    ["escaped quote in double quotes", `SET k "a \\"b\\" c"`, [["SET", "k", 'a "b" c']]],
    ["backslash in double quotes", `SET k "C:\\\\dir"`, [["SET", "k", "C:\\dir"]]],
    ["single quotes take backslashes literally", `SET k 'a\\nb'`, [["SET", "k", "a\\nb"]]],
    ["JSON escapes", `SET k "l1\\nl2\\tt\\/\\b\\f\\r"`, [["SET", "k", "l1\nl2\tt/\b\f\r"]]],
    ["\\u escapes and a surrogate pair", `SET k "\\u00e9\\ud83d\\ude00"`,
      [["SET", "k", "é\u{1F600}"]]],
    ["\\x, \\e and \\a", `SET k "\\x41\\e[0m\\a"`, [["SET", "k", "A\x1b[0m\x07"]]],
    ["a JSON document in single quotes", `SET k '{"a": [1, "x y"]}'`,
      [["SET", "k", '{"a": [1, "x y"]}']]],
    ["unquoted backslash takes the next character", "SET k a\\ b\\;c\\'d",
      [["SET", "k", "a b;c'd"]]],
    ["adjacent pieces join", `SET k a"b c"'d e'f`, [["SET", "k", "ab cd ef"]]],
    ["empty quotes are an empty word", `SET k ""`, [["SET", "k", ""]]],
    ["empty single quotes too", `SET k ''`, [["SET", "k", ""]]],
    ["; separates commands", `GET a; GET b;GET c`, [["GET", "a"], ["GET", "b"], ["GET", "c"]]],
    ["; inside quotes is kept", `SET k "a; b"; GET k`, [["SET", "k", "a; b"], ["GET", "k"]]],
    ["; inside single quotes is kept", `SET k 'a;b'`, [["SET", "k", "a;b"]]],
    ["newlines separate commands", "GET a\nGET b\r\n", [["GET", "a"], ["GET", "b"]]],
    ["a newline inside quotes is kept", `SET k "a\nb"`, [["SET", "k", "a\nb"]]],
    ["backslash-newline continues a command", "SET k \\\nv", [["SET", "k", "v"]]],
    ["blank commands are dropped", " ; ;\n\n", []],
    ["a # comment to the end of the line", "# note\nGET a # trailing\nGET b",
      [["GET", "a"], ["GET", "b"]]],
    ["# inside a word or quotes is text", `SET k a#b "#c"`, [["SET", "k", "a#b", "#c"]]],
    ["non-ASCII text", "SET k ñandú", [["SET", "k", "ñandú"]]],
  ];
  for (const [name, input, commands] of cases) {
    test(name, () => {
      expect(tokenize(input)).toEqual({ ok: true, commands });
    });
  }
});

describe("tokenize: errors", () => {
  const cases: [string, string, string][] = [
    ["unterminated double quote", `SET k "abc`, "unterminated double quote"],
    ["unterminated single quote", `SET k 'abc`, "unterminated single quote"],
    ["unknown escape", `SET k "\\q"`, "unknown escape \\q inside double quotes"],
    ["short \\x", `SET k "\\x4"`, "\\x needs two hex digits"],
    ["short \\u", `SET k "\\u12"`, "\\u needs four hex digits"],
    ["trailing backslash", "SET k v\\", "a backslash ends the input"],
    ["backslash at the end inside quotes", `SET k "v\\`,
      "a backslash ends the input inside double quotes"],
  ];
  for (const [name, input, error] of cases) {
    test(name, () => {
      const result = tokenize(input);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toStartWith(error);
    });
  }
});

describe("quoteWord", () => {
  test("reads back as the same single word", () => {
    const words = ["plain", "two words", "", 'quo"te', "back\\slash", "line\nbreak", "a;b",
      "ctrl\x1b", "'single'", "ñ"];
    for (const word of words) {
      expect(tokenize(`X ${quoteWord(word)}`)).toEqual({ ok: true, commands: [["X", word]] });
    }
    expect(quoteWord("plain")).toBe("plain");
  });

  test("any JSON string literal is a double-quoted word with the same text", () => {
    for (const text of ["a\u0000b", "tab\there", "\u2028", "emoji \u{1F600}", '"{}"']) {
      const literal = JSON.stringify(text);
      expect(tokenize(`SET k ${literal}`)).toEqual({ ok: true, commands: [["SET", "k", text]] });
    }
  });
});

describe("wordAtEnd", () => {
  test("the word being typed and the words before it in the same command", () => {
    expect(wordAtEnd("GE")).toEqual({ previous: [], partial: "GE", start: 0 });
    expect(wordAtEnd("GET 9b")).toEqual({ previous: ["GET"], partial: "9b", start: 4 });
    expect(wordAtEnd("GET a; SE")).toEqual({ previous: [], partial: "SE", start: 7 });
    expect(wordAtEnd("SCAN 0 ")).toEqual({ previous: ["SCAN", "0"], partial: "", start: 7 });
  });
});
