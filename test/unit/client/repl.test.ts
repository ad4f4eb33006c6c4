// The REPL's pure core: every command form, quoting, case-insensitivity, every error text and
// every formatter, with exact expected output.
import { describe, expect, test } from "bun:test";
import type { ClusterView } from "../../../lib/client/client.ts";
import {
  errorJson,
  formatCluster,
  formatDelete,
  formatError,
  formatEvent,
  formatGet,
  formatHeartbeat,
  formatSet,
  formatWhere,
  helpText,
  isParseError,
  parseCommand,
  placementOf,
  splitScript,
  underReplicationWarning,
  unquote,
} from "../../../lib/client/repl.ts";
import type { HeartbeatInfo } from "../../../lib/protocol.ts";
import { ConfigError, KvError } from "../../../lib/util/errors.ts";

const key = "9b2c1a4e-3f5d-4c2b-8a1e-7d6f5e4c3b2a";
const upperKey = key.toUpperCase();
const invalidKey = "Error: key is not a valid UUID4";

const view: ClusterView = {
  leader: { id: 1, endpoint: "tcp://127.0.0.1:7001" },
  rf: 2,
  partitions: 64,
  term: 3,
  members: [
    { id: 2, endpoint: "tcp://127.0.0.1:7002", pub: "tcp://127.0.0.1:7102", alive: true,
      role: "follower" },
    { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101", alive: true,
      role: "leader" },
    { id: 3, endpoint: "tcp://127.0.0.1:7003", pub: "tcp://127.0.0.1:7103", alive: false },
  ],
};

describe("parseCommand: commands", () => {
  test("SET takes the rest of the line as the value", () => {
    expect(parseCommand(`SET ${key} hello world`)).toEqual({
      kind: "set",
      key,
      value: "hello world",
    });
  });

  test("command words are case-insensitive and keys are stored lower case", () => {
    for (const word of ["set", "Set", "sEt"]) {
      expect(parseCommand(`${word} ${upperKey} v`)).toEqual({ kind: "set", key, value: "v" });
    }
    for (const word of ["get", "GET", "Get"]) {
      expect(parseCommand(`${word} ${upperKey}`)).toEqual({ kind: "get", key });
    }
    for (const word of ["delete", "DELETE", "Delete"]) {
      expect(parseCommand(`${word} ${key}`)).toEqual({ kind: "delete", key });
    }
    for (const word of ["where", "WHERE"]) {
      expect(parseCommand(`${word} ${key}`)).toEqual({ kind: "where", key });
    }
    expect(parseCommand("heartbeat")).toEqual({ kind: "heartbeat" });
    expect(parseCommand("HEARTBEAT")).toEqual({ kind: "heartbeat" });
    expect(parseCommand("nodes")).toEqual({ kind: "nodes" });
    expect(parseCommand("NODES")).toEqual({ kind: "nodes" });
    expect(parseCommand("help")).toEqual({ kind: "help" });
    expect(parseCommand("HELP")).toEqual({ kind: "help" });
    expect(parseCommand("exit")).toEqual({ kind: "exit" });
    expect(parseCommand("EXIT")).toEqual({ kind: "exit" });
    expect(parseCommand("quit")).toEqual({ kind: "exit" });
    expect(parseCommand("QUIT")).toEqual({ kind: "exit" });
  });

  test("blanks around and between words are ignored (tabs too)", () => {
    expect(parseCommand(`  \tGET \t ${key}  \t`)).toEqual({ kind: "get", key });
    expect(parseCommand(`  NODES  `)).toEqual({ kind: "nodes" });
    expect(parseCommand(`SET\t${key}\tv`)).toEqual({ kind: "set", key, value: "v" });
  });

  test("empty lines, blank lines and # comments are no-ops", () => {
    expect(parseCommand("")).toEqual({ kind: "empty" });
    expect(parseCommand("   \t ")).toEqual({ kind: "empty" });
    expect(parseCommand("# SET something")).toEqual({ kind: "empty" });
    expect(parseCommand("  #comment")).toEqual({ kind: "empty" });
  });
});

describe("parseCommand: SET values and quoting", () => {
  const valueOf = (line: string): string => {
    const parsed = parseCommand(line);
    if (isParseError(parsed) || parsed.kind !== "set") throw new Error(`not a SET: ${line}`);
    return parsed.value;
  };

  test("inner blanks are kept, trailing blanks are not", () => {
    expect(valueOf(`SET ${key} a   b  `)).toBe("a   b");
  });

  test("surrounding double quotes are stripped", () => {
    expect(valueOf(`SET ${key} "hello world"`)).toBe("hello world");
  });

  test("surrounding single quotes are stripped", () => {
    expect(valueOf(`SET ${key} 'hello world'`)).toBe("hello world");
  });

  test("blanks inside quotes are kept", () => {
    expect(valueOf(`SET ${key} "  padded  "`)).toBe("  padded  ");
  });

  test("a JSON document with spaces works unquoted and single-quoted", () => {
    const json = '{"name": "Ada Lovelace", "tags": ["a", "b"], "n": 1}';
    expect(valueOf(`SET ${key} ${json}`)).toBe(json);
    expect(valueOf(`SET ${key} '${json}'`)).toBe(json);
  });

  test("a JSON string value keeps its own quotes when wrapped in single quotes", () => {
    expect(valueOf(`SET ${key} '"quoted"'`)).toBe('"quoted"');
  });

  test("unmatched or mixed quotes are kept as typed", () => {
    expect(valueOf(`SET ${key} "abc`)).toBe('"abc');
    expect(valueOf(`SET ${key} abc"`)).toBe('abc"');
    expect(valueOf(`SET ${key} "abc'`)).toBe(`"abc'`);
    expect(valueOf(`SET ${key} "`)).toBe('"');
  });

  test("nothing inside the quotes is unescaped", () => {
    expect(valueOf(`SET ${key} "a \\"b\\" c"`)).toBe('a \\"b\\" c');
  });

  test("a pair of empty quotes is the empty value", () => {
    expect(valueOf(`SET ${key} ""`)).toBe("");
    expect(valueOf(`SET ${key} ''`)).toBe("");
  });

  test("unquote strips exactly one matching pair", () => {
    expect(unquote("''x''")).toBe("'x'");
    expect(unquote("x")).toBe("x");
    expect(unquote("")).toBe("");
  });
});

describe("parseCommand: errors", () => {
  test("an invalid key is refused with the exact text, for every keyed command", () => {
    for (const line of [
      "SET not-a-uuid x",
      "GET not-a-uuid",
      "DELETE 123",
      "WHERE zzz",
      // Version 1, not 4.
      "GET 9b2c1a4e-3f5d-1c2b-8a1e-7d6f5e4c3b2a",
      // Variant nibble c is not 8, 9, a or b.
      "GET 9b2c1a4e-3f5d-4c2b-ca1e-7d6f5e4c3b2a",
      `GET ${key}0`,
    ]) {
      expect(parseCommand(line)).toEqual({
        error: invalidKey,
        code: "INVALID_KEY",
        message: "key is not a valid UUID4",
      });
    }
  });

  test("missing arguments give the command's usage", () => {
    expect(parseCommand("SET")).toMatchObject({ error: "Error: usage: SET <uuid4> <value>" });
    const setUsage = { error: "Error: usage: SET <uuid4> <value>" };
    expect(parseCommand(`SET ${key}`)).toMatchObject(setUsage);
    expect(parseCommand(`set ${key}   `)).toMatchObject(setUsage);
    expect(parseCommand("GET")).toMatchObject({ error: "Error: usage: GET <uuid4>" });
    expect(parseCommand("delete")).toMatchObject({ error: "Error: usage: DELETE <uuid4>" });
    expect(parseCommand("WHERE")).toMatchObject({ error: "Error: usage: WHERE <uuid4>" });
  });

  test("a SET without a value is a usage error even when the key is also bad", () => {
    expect(parseCommand("SET not-a-uuid")).toMatchObject({ code: "BAD_REQUEST" });
  });

  test("extra arguments give the command's usage", () => {
    expect(parseCommand(`GET ${key} extra`)).toMatchObject({ error: "Error: usage: GET <uuid4>" });
    expect(parseCommand(`DELETE ${key} x`)).toMatchObject({
      error: "Error: usage: DELETE <uuid4>",
    });
    expect(parseCommand(`WHERE ${key} x`)).toMatchObject({ error: "Error: usage: WHERE <uuid4>" });
    expect(parseCommand("HEARTBEAT now")).toMatchObject({ error: "Error: usage: HEARTBEAT" });
    expect(parseCommand("NODES all")).toMatchObject({ error: "Error: usage: NODES" });
    expect(parseCommand("HELP SET")).toMatchObject({ error: "Error: usage: HELP" });
    expect(parseCommand("EXIT 1")).toMatchObject({ error: "Error: usage: EXIT" });
    expect(parseCommand("quit now")).toMatchObject({ error: "Error: usage: EXIT" });
  });

  test("usage errors carry BAD_REQUEST and the text without the prefix", () => {
    expect(parseCommand("GET")).toEqual({
      error: "Error: usage: GET <uuid4>",
      code: "BAD_REQUEST",
      message: "usage: GET <uuid4>",
    });
  });

  test("an unknown command names the word as typed", () => {
    expect(parseCommand("FOO")).toEqual({
      error: 'Error: unknown command "FOO" (type HELP)',
      code: "BAD_REQUEST",
      message: 'unknown command "FOO" (type HELP)',
    });
    expect(parseCommand("foo bar baz")).toMatchObject({
      error: 'Error: unknown command "foo" (type HELP)',
    });
    expect(parseCommand("DEL " + key)).toMatchObject({
      error: 'Error: unknown command "DEL" (type HELP)',
    });
  });

  test("isParseError tells errors from commands", () => {
    expect(isParseError(parseCommand("FOO"))).toBe(true);
    expect(isParseError(parseCommand("HELP"))).toBe(false);
  });
});

describe("splitScript", () => {
  test("splits at ; and newlines and drops blank pieces", () => {
    expect(splitScript("HEARTBEAT; NODES;;\n HELP ;")).toEqual(["HEARTBEAT", "NODES", "HELP"]);
  });

  test("a ; or newline inside quotes stays in the command", () => {
    expect(splitScript(`SET ${key} "a; b"; GET ${key}`)).toEqual([
      `SET ${key} "a; b"`,
      `GET ${key}`,
    ]);
    expect(splitScript(`SET ${key} '{"x": "1;2"}';NODES`)).toEqual([
      `SET ${key} '{"x": "1;2"}'`,
      "NODES",
    ]);
    expect(splitScript(`SET ${key} 'line1\nline2'`)).toEqual([`SET ${key} 'line1\nline2'`]);
  });

  test("a double quote inside single quotes does not open a quote", () => {
    expect(splitScript(`SET ${key} 'say "hi'; NODES`)).toEqual([`SET ${key} 'say "hi'`, "NODES"]);
  });

  test("an empty script has no commands", () => {
    expect(splitScript(" ; ;\n")).toEqual([]);
  });
});

describe("reply formatters", () => {
  test("formatSet", () => {
    expect(formatSet({ status: "created", replicas: 2 })).toBe("Created (2 replicas)");
    expect(formatSet({ status: "updated", replicas: 2 })).toBe("Updated (2 replicas)");
    expect(formatSet({ status: "created", replicas: 1 })).toBe("Created (1 replica)");
    expect(formatSet({ status: "updated", replicas: 3 })).toBe("Updated (3 replicas)");
  });

  test("formatGet", () => {
    expect(formatGet({ found: true, value: '{"a": 1}' })).toBe('{"a": 1}');
    expect(formatGet({ found: true, value: "" })).toBe("");
    expect(formatGet({ found: false })).toBe("Not found");
  });

  test("formatDelete", () => {
    expect(formatDelete({ status: "deleted", replicas: 2 })).toBe("Deleted (2 replicas)");
    expect(formatDelete({ status: "deleted", replicas: 1 })).toBe("Deleted (1 replica)");
    expect(formatDelete({ status: "not_found", replicas: 2 })).toBe("Not found");
  });
});

describe("formatCluster", () => {
  test("members sorted by id, leader marked, roles, liveness and the summary line", () => {
    expect(formatCluster(view)).toBe(
      [
        "   id  endpoint              role      state",
        "*  1   tcp://127.0.0.1:7001  leader    alive",
        "   2   tcp://127.0.0.1:7002  follower  alive",
        "   3   tcp://127.0.0.1:7003  -         down",
        "leader: 1 (tcp://127.0.0.1:7001)  rf: 2  partitions: 64  term: 3",
      ].join("\n"),
    );
  });

  test("no leader and no members", () => {
    const empty: ClusterView = { leader: null, rf: 2, partitions: 64, members: [], term: 0 };
    expect(formatCluster(empty)).toBe(
      ["(no members known)", "leader: none  rf: 2  partitions: 64  term: 0"].join("\n"),
    );
  });

  test("a leader without a reported role is shown as leader", () => {
    const text = formatCluster({
      ...view,
      members: [
        { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101", alive: true },
      ],
    });
    expect(text.split("\n")[1]).toBe("*  1   tcp://127.0.0.1:7001  leader  alive");
  });
});

describe("underReplicationWarning", () => {
  test("warns when fewer members are live than rf", () => {
    const lonely: ClusterView = {
      ...view,
      members: view.members.map((member) => ({ ...member, alive: member.id === 1 })),
    };
    expect(underReplicationWarning(lonely)).toBe(
      "WARNING: cluster size (1) is smaller than replication factor (2)",
    );
  });

  test("silent when enough members are live, or before rf is known", () => {
    expect(underReplicationWarning(view)).toBeNull();
    expect(underReplicationWarning({ ...view, members: [], rf: 0 })).toBeNull();
  });
});

describe("formatHeartbeat", () => {
  test("who answered, every known instance and the replication factor", () => {
    const info: HeartbeatInfo = {
      node: { id: 2, endpoint: "tcp://127.0.0.1:7002", pub: "tcp://127.0.0.1:7102" },
      role: "follower",
      term: 7,
      leader: { id: 1, endpoint: "tcp://127.0.0.1:7001" },
      rf: 2,
      partitions: 64,
      members: [
        { id: 2, endpoint: "tcp://127.0.0.1:7002", pub: "tcp://127.0.0.1:7102", alive: true },
        { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101", alive: true },
        { id: 3, endpoint: "tcp://127.0.0.1:7003", pub: "tcp://127.0.0.1:7103", alive: false },
      ],
    };
    expect(formatHeartbeat(info)).toBe(
      [
        "Heartbeat from node 2 (tcp://127.0.0.1:7002): follower, term 7",
        "Known instances (3):",
        "  *  1  tcp://127.0.0.1:7001  pub tcp://127.0.0.1:7101  alive",
        "     2  tcp://127.0.0.1:7002  pub tcp://127.0.0.1:7102  alive",
        "     3  tcp://127.0.0.1:7003  pub tcp://127.0.0.1:7103  down",
        "Replication factor: 2  partitions: 64  leader: 1 (tcp://127.0.0.1:7001)",
      ].join("\n"),
    );
  });

  test("no leader", () => {
    const info: HeartbeatInfo = {
      node: { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101" },
      role: "candidate",
      term: 1,
      leader: null,
      rf: 1,
      partitions: 8,
      members: [],
    };
    expect(formatHeartbeat(info)).toBe(
      [
        "Heartbeat from node 1 (tcp://127.0.0.1:7001): candidate, term 1",
        "Known instances (0):",
        "Replication factor: 1  partitions: 8  leader: none",
      ].join("\n"),
    );
  });
});

describe("WHERE", () => {
  // Partition 3 of 64; with members 1..3 and rf 2 docs/protocol.md's placement gives [3, 2]
  // (golden vector in test/unit/placement.test.ts, computed with python3 hashlib).
  const keyInPartition3 = "00000003-0000-4000-8000-000000000000";

  test("placementOf computes partition and replicas from the view", () => {
    expect(placementOf(keyInPartition3, view)).toEqual({
      key: keyInPartition3,
      partition: 3,
      replicas: [
        { id: 3, endpoint: "tcp://127.0.0.1:7003", alive: false },
        { id: 2, endpoint: "tcp://127.0.0.1:7002", alive: true },
      ],
    });
  });

  test("formatWhere lists the partition and the replica nodes with endpoints", () => {
    expect(formatWhere(keyInPartition3, view)).toBe(
      [
        `Key ${keyInPartition3}: partition 3 of 64`,
        "Replicas (rf 2):",
        "  3  tcp://127.0.0.1:7003  down",
        "  2  tcp://127.0.0.1:7002  alive",
      ].join("\n"),
    );
  });

  test("the partition is the first 8 hex digits mod the partition count", () => {
    const highKey = "ffffffff-0000-4000-8000-000000000000";
    const placement = placementOf(highKey, { ...view, partitions: 10 });
    expect(placement?.partition).toBe(0xffffffff % 10);
  });

  test("without members or before a heartbeat there is nothing to compute", () => {
    expect(formatWhere(key, { ...view, members: [] })).toBe(
      `Key ${key}: partition ${parseInt(key.slice(0, 8), 16) % 64} of 64\nReplicas: none known`,
    );
    expect(placementOf(key, { ...view, partitions: 0 })).toBeNull();
    expect(placementOf(key, { ...view, rf: 0 })).toBeNull();
    expect(formatWhere(key, { ...view, rf: 0 })).toBe(
      "Placement unknown: no cluster information yet",
    );
  });
});

describe("formatEvent", () => {
  test("leader changes, including losing the leader", () => {
    expect(
      formatEvent({
        type: "leader-changed",
        leader: { id: 2, endpoint: "tcp://127.0.0.1:7002" },
        term: 3,
      }),
    ).toBe("Leader changed: node 2 (tcp://127.0.0.1:7002), term 3");
    expect(formatEvent({ type: "leader-changed", leader: null, term: 4 })).toBe(
      "Leader lost: no leader, term 4",
    );
  });

  test("under-replication warning, exactly as the architecture words it", () => {
    expect(formatEvent({ type: "under-replicated", live: 1, rf: 2 })).toBe(
      "WARNING: cluster size (1) is smaller than replication factor (2)",
    );
  });

  test("member up and down", () => {
    expect(formatEvent({ type: "member-changed", id: 3, alive: false })).toBe("Node 3 is down");
    expect(formatEvent({ type: "member-changed", id: 3, alive: true })).toBe("Node 3 is up");
  });
});

describe("formatError and errorJson", () => {
  test("a KvError shows its code, never a stack", () => {
    const error = new KvError("UNAVAILABLE", "no leader known after 5000 ms");
    expect(formatError(error)).toBe("Error UNAVAILABLE: no leader known after 5000 ms");
    expect(formatError(new ConfigError("bad flag"))).toBe("Error CONFIG: bad flag");
    expect(formatError(new KvError("TIMEOUT", "x"))).not.toContain("    at ");
  });

  test("other errors and thrown values", () => {
    expect(formatError(new Error("boom"))).toBe("Error: boom");
    expect(formatError("plain")).toBe("Error: plain");
  });

  test("errorJson mirrors the wire error object", () => {
    expect(errorJson(new KvError("TIMEOUT", "outcome unknown"))).toEqual({
      ok: false,
      error: { code: "TIMEOUT", message: "outcome unknown" },
    });
    expect(errorJson(new Error("boom"))).toEqual({
      ok: false,
      error: { code: "ERROR", message: "boom" },
    });
  });
});

describe("helpText", () => {
  test("names every command and the ways to leave", () => {
    for (const word of ["SET <uuid4> <value>", "GET <uuid4>", "DELETE <uuid4>", "WHERE <uuid4>",
      "HEARTBEAT", "NODES", "HELP", "EXIT", "QUIT", "Ctrl-D"]) {
      expect(helpText).toContain(word);
    }
  });

  test("fits in 100 columns", () => {
    for (const line of helpText.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
  });
});
