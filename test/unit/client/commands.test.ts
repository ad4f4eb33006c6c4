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
    ["SET", ["SET", key, "v"], { kind: "set", key, value: "v" }],
    ["set, key upper case", ["set", key.toUpperCase(), "V"], { kind: "set", key, value: "V" }],
    ["SET empty value", ["SET", key, ""], { kind: "set", key, value: "" }],
    ["GET", ["Get", key], { kind: "get", key }],
    ["DELETE and DEL", ["del", key], { kind: "delete", key }],
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
    expect(text.split("\n")[0]).toBe("SET <uuid4> <value>");
    expect(text).toContain(`SET <uuid4> "line 1\\nline 2"`);
    for (const name of commandNames) {
      for (const line of helpFor(name).split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    }
  });
});
