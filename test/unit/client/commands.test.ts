// Parsing a command's words: every command form, case-insensitivity, keys checked before any
// request, usage errors, and HELP texts.
import { describe, expect, test } from "bun:test";
import {
  commandHelp,
  commandNames,
  helpFor,
  helpOverview,
  parseWords,
} from "../../../lib/client/commands.ts";

const key = "9b2c1a4e-3f5d-4c2b-8a1e-7d6f5e4c3b2a";
const invalidKey = { code: "INVALID_KEY", message: "key is not a valid UUID4" };
const usage = (name: keyof typeof commandHelp) => ({
  code: "BAD_REQUEST",
  message: `usage: ${commandHelp[name].usage}`,
});

describe("parseWords", () => {
  const cases: [string, string[], unknown][] = [
    ["SET", ["SET", key, "v"], { kind: "set", key, value: "v", ifVersion: null, ttlMs: null }],
    ["set, key upper case", ["set", key.toUpperCase(), "V"],
      { kind: "set", key, value: "V", ifVersion: null, ttlMs: null }],
    ["SET empty value", ["SET", key, ""],
      { kind: "set", key, value: "", ifVersion: null, ttlMs: null }],
    ["SET IF", ["SET", key, "v", "if", "0"],
      { kind: "set", key, value: "v", ifVersion: 0, ttlMs: null }],
    ["SET TTL and IF, either order", ["SET", key, "v", "TTL", "5000", "IF", "42"],
      { kind: "set", key, value: "v", ifVersion: 42, ttlMs: 5000 }],
    ["SET IF without a version", ["SET", key, "v", "IF"],
      { code: "BAD_REQUEST", message: "IF takes a version: IF 0, IF 42" }],
    ["SET TTL 0", ["SET", key, "v", "TTL", "0"],
      { code: "BAD_REQUEST", message: "TTL must be 1 to 2592000000 ms (30 days)" }],
    ["SET IF twice", ["SET", key, "v", "IF", "1", "IF", "2"], {
      code: "BAD_REQUEST",
      message: 'SET takes one value but got 5 words; quote a value with blanks: SET <uuid4> "a b"',
    }],
    ["GET", ["Get", key], { kind: "get", key, isVerbose: false }],
    ["GET --verbose", ["GET", key, "--verbose"], { kind: "get", key, isVerbose: true }],
    ["DELETE and DEL", ["del", key], { kind: "delete", key, ifVersion: null }],
    ["DELETE IF", ["DELETE", key, "IF", "7"], { kind: "delete", key, ifVersion: 7 }],
    ["DELETE TTL is not a thing", ["DELETE", key, "TTL", "7"], usage("DELETE")],
    ["WHERE", ["where", key], { kind: "where", key }],
    ["SCAN", ["scan"], { kind: "scan", cursor: "0", count: 10 }],
    ["SCAN cursor", ["SCAN", `5:${key}`], { kind: "scan", cursor: `5:${key}`, count: 10 }],
    ["SCAN COUNT", ["SCAN", "count", "50"], { kind: "scan", cursor: "0", count: 50 }],
    ["SCAN cursor COUNT", ["SCAN", "7:", "COUNT", "2"], { kind: "scan", cursor: "7:", count: 2 }],
    ["KEYS", ["keys"], { kind: "keys" }],
    ["COUNT", ["COUNT"], { kind: "count", isVerbose: false }],
    ["COUNT --verbose", ["count", "--verbose"], { kind: "count", isVerbose: true }],
    ["HEARTBEAT", ["heartbeat"], { kind: "heartbeat" }],
    ["NODES", ["NODES"], { kind: "nodes" }],
    ["HELP", ["help"], { kind: "help", topic: null }],
    ["HELP scan", ["help", "scan"], { kind: "help", topic: "SCAN" }],
    ["HELP del", ["HELP", "del"], { kind: "help", topic: "DELETE" }],
    ["EXIT and QUIT", ["quit"], { kind: "exit" }],
    ["invalid key", ["GET", "nope"], invalidKey],
    ["nil UUID", ["GET", "00000000-0000-0000-0000-000000000000"], invalidKey],
    ["SET invalid key", ["SET", "nope", "v"], invalidKey],
    ["SET without value", ["SET", key], usage("SET")],
    ["GET extra word", ["GET", key, "x"], usage("GET")],
    ["NODES extra word", ["NODES", "x"], usage("NODES")],
    ["SCAN bad COUNT", ["SCAN", "0", "COUNT", "0"],
      { code: "BAD_REQUEST", message: "COUNT must be 1 to 1000" }],
    ["SCAN bad cursor", ["SCAN", "x"],
      { code: "BAD_REQUEST", message: '"x" is not a SCAN cursor (0 starts)' }],
    ["HELP unknown", ["HELP", "frob"],
      { code: "BAD_REQUEST", message: 'no command "frob" (type HELP)' }],
    ["unknown command", ["FROB"],
      { code: "BAD_REQUEST", message: 'unknown command "FROB" (type HELP)' }],
  ];
  for (const [name, words, expected] of cases) {
    test(name, () => expect(parseWords(words)).toEqual(expected as never));
  }

  test("SET with more than one value word says to quote it", () => {
    const parsed = parseWords(["SET", key, "a", "and", "b"]);
    expect(parsed).toEqual({
      code: "BAD_REQUEST",
      message: 'SET takes one value but got 3 words; quote a value with blanks: SET <uuid4> "a b"',
    });
  });
});

describe("HELP", () => {
  test("lists every command with its usage and explains quoting", () => {
    const text = helpOverview();
    for (const name of commandNames) expect(text).toContain(commandHelp[name].usage);
    expect(text).toContain("'single' is literal");
    expect(text).toContain("HELP <command>");
    for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
  });

  test("HELP <command> shows the usage, the summary and examples", () => {
    const text = helpFor("SET");
    expect(text.split("\n")[0]).toBe("SET <uuid4> <value> [IF <version>] [TTL <ms>]");
    expect(text).toContain(`SET <uuid4> "line 1\\nline 2"`);
    for (const name of commandNames) {
      for (const line of helpFor(name).split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    }
  });
});
