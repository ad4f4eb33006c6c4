// The shell without a cluster, against FakeClient: each command in text, raw and json output,
// results on stdout and errors on stderr, exit codes, lazy connection, notices, KEYS paging and
// its warning, cancellation, and piped input with quoted values across lines.
import { describe, expect, test } from "bun:test";
import { Readable } from "node:stream";
import {
  type LineResult,
  type OutputMode,
  type ReplClient,
  Session,
  exitCodeOf,
  exitCodes,
  keysWarningCount,
  runCommands,
  runPiped,
} from "../../../lib/client/repl-shell.ts";
import type { OutputSink } from "../../../lib/client/output.ts";
import { KvError } from "../../../lib/util/errors.ts";
import { FakeClient, fakeView } from "./fake-client.ts";

const key = "9b2c1a4e-3f5d-4c2b-8a1e-7d6f5e4c3b2a";
const otherKey = "0b5c3a4e-7f1d-4c2b-9e8a-1d2c3b4a5f6e";

function memorySink(): OutputSink & { text: string } {
  const sink = {
    text: "",
    write: async (text: string) => {
      sink.text += text;
    },
  };
  return sink;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly connectCount: number;
}

async function run(
  source: { script: string } | { words: string[] } | { piped: string },
  options: { mode?: OutputMode; escape?: boolean; client?: ReplClient } = {},
): Promise<Run> {
  const stdout = memorySink();
  const stderr = memorySink();
  let connectCount = 0;
  const client = options.client ?? new FakeClient();
  const session = new Session({
    outputMode: options.mode ?? "text",
    escapeControls: options.escape ?? false,
    isInteractive: false,
    connect: async () => {
      connectCount++;
      if (client instanceof FakeClient && client.failure?.code === "UNAVAILABLE" &&
        client.failure.message.startsWith("cannot reach")) {
        throw client.failure;
      }
      return client;
    },
    streams: { input: Readable.from([]), output: stdout, errors: stderr },
  });
  let result: LineResult;
  if ("piped" in source) result = await runPiped(session, Readable.from([source.piped]));
  else result = await runCommands(session, source);
  await session.close();
  return {
    code: exitCodeOf(result, session, false), stdout: stdout.text, stderr: stderr.text,
    connectCount,
  };
}

describe("text output", () => {
  test("every command's result on stdout, exit 0 when all succeed", async () => {
    const script = `SET ${key} "a b"; SET ${key} v2; GET ${key}; COUNT; SCAN; KEYS; ` +
      `DELETE ${key}; KEYS`;
    const result = await run({ script });
    expect(result.stdout).toBe([
      "Created (2 replicas)", "Updated (2 replicas)", "v2", "1 key",
      "cursor: 0 (scan complete)", `${key}  v2`, key, "Deleted (2 replicas)", "(empty)", "",
    ].join("\n"));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(exitCodes.ok);
  });

  test("a missing key prints (nil) and exits 1; DELETE of one prints (not found)", async () => {
    const result = await run({ script: `GET ${key}; DELETE ${key}` });
    expect(result.stdout).toBe("(nil)\n(not found)\n");
    expect(result.code).toBe(exitCodes.failed);
  });

  test("GET --verbose shows the version; writes with IF or TTL print theirs", async () => {
    const client = new FakeClient();
    const result = await run({
      script: `SET ${key} a; SET ${key} b TTL 100; GET ${key} --verbose; GET ${key}; ` +
        `DELETE ${key} IF 2`,
    }, { client });
    expect(result.stdout).toBe("Created (2 replicas)\nUpdated (2 replicas), version 2\n" +
      "b\n(version 2)\nb\nDeleted (2 replicas), version 3\n");
    expect(result.code).toBe(exitCodes.ok);
  });

  test("errors go to stderr, results to stdout, and the script goes on", async () => {
    const client = new FakeClient();
    client.failure = new KvError("UNAVAILABLE", "no live in-sync replica of partition 3");
    const result = await run({ script: `GET nope; GET ${key}; HELP GET` }, { client });
    expect(result.stderr).toBe("Error: key is not a valid UUID4\n" +
      "Error UNAVAILABLE: no live in-sync replica of partition 3\n");
    expect(result.stdout).toStartWith("GET <uuid4> [--verbose]\n");
    expect(result.code).toBe(exitCodes.failed);
  });

  test("control characters are escaped when asked (a terminal), values and errors", async () => {
    const client = new FakeClient();
    client.store.set(key, "a\x1b[2Jb\x07c\u009bd");
    const result = await run({ script: `GET ${key}; GET ${otherKey}` }, { client, escape: true });
    expect(result.stdout).toBe("a\\e[2Jb\\ac\\x9bd\n(nil)\n");
    client.failure = new KvError("BAD_REQUEST", "bad \x1b]0;title\x07");
    const failed = await run({ script: `GET ${key}` }, { client, escape: true });
    expect(failed.stderr).toBe("Error BAD_REQUEST: bad \\e]0;title\\a\n");
  });
});

describe("raw output", () => {
  test("values exactly as stored, nothing for a missing key", async () => {
    const client = new FakeClient();
    client.store.set(key, "a\x1b[2Jb");
    const result = await run({ script: `GET ${key}; GET ${otherKey}; COUNT; SCAN` },
      { client, mode: "raw", escape: false });
    expect(result.stdout).toBe(`a\x1b[2Jb\n1\n0\n${key}\ta\x1b[2Jb\n`);
    expect(result.code).toBe(exitCodes.failed);
  });
});

describe("json output", () => {
  test("raw replies as JSON lines; a missing key fails the run", async () => {
    const result = await run({ script: `SET ${key} v; GET ${key}; SCAN 0 COUNT 5; COUNT` },
      { mode: "json" });
    const lines = result.stdout.trimEnd().split("\n").map((line) => JSON.parse(line) as unknown);
    expect(lines).toEqual([
      { id: 1, ok: true, echo: { op: "SET", key, value: "v" } },
      { id: 1, ok: true, echo: { op: "GET", key } },
      { id: 1, ok: true, echo: { op: "SCAN", cursor: "0", count: 5 } },
      { id: 1, ok: true, echo: { op: "COUNT" } },
    ]);
    // The fake's GET reply has no found: true, so it counts as not found.
    expect(result.code).toBe(exitCodes.failed);
  });

  test("a usage error is a JSON error object on stdout", async () => {
    const result = await run({ script: "GET nope" }, { mode: "json" });
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false, error: { code: "INVALID_KEY", message: "key is not a valid UUID4" },
    });
  });

  test("NODES prints the view", async () => {
    const result = await run({ script: "NODES" }, { mode: "json" });
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(JSON.stringify(fakeView)));
  });
});

describe("connection and exit codes", () => {
  test("lines that need no cluster never connect", async () => {
    const result = await run({ script: "HELP; HELP SCAN; GET nope" });
    expect(result.connectCount).toBe(0);
    expect(result.code).toBe(exitCodes.failed);
  });

  test("an unreachable cluster stops the run with exit 2", async () => {
    const client = new FakeClient();
    client.failure = new KvError("UNAVAILABLE", "cannot reach the cluster at tcp://x:1: down");
    const result = await run({ script: `GET ${key}; GET ${key}` }, { client });
    expect(result.code).toBe(exitCodes.unreachable);
    expect(result.stderr).toBe("Error UNAVAILABLE: cannot reach the cluster at tcp://x:1: down\n");
    expect(result.stdout).toBe("");
    expect(result.connectCount).toBe(1);
  });

  test("EXIT stops a script", async () => {
    const client = new FakeClient();
    const result = await run({ script: `EXIT; SET ${key} v` }, { client });
    expect(client.calls).toEqual([]);
    expect(result.code).toBe(exitCodes.ok);
  });

  test("a command given as words runs once", async () => {
    const client = new FakeClient();
    const result = await run({ words: ["set", key, "two words; kept"] }, { client });
    expect(client.calls).toEqual([`set ${key} two words; kept`]);
    expect(result.stdout).toBe("Created (2 replicas)\n");
  });
});

describe("KEYS", () => {
  test("pages through every key", async () => {
    const client = new FakeClient();
    const keys = [key, otherKey, "1b5c3a4e-7f1d-4c2b-9e8a-1d2c3b4a5f6e"].sort();
    for (const each of keys) client.store.set(each, "v");
    const result = await run({ script: "KEYS" }, { client, mode: "raw" });
    expect(result.stdout).toBe(`${keys.join("\n")}\n`);
    expect(client.calls.filter((call) => call.startsWith("scan")).length).toBe(2);
    expect(result.stderr).toBe("");
  });

  test("warns on stderr before fetching a large store", async () => {
    const client = new FakeClient();
    client.countOverride = keysWarningCount + 1;
    const result = await run({ script: "KEYS" }, { client });
    expect(result.stderr).toBe(`WARNING: KEYS fetches all ${keysWarningCount + 1} keys; ` +
      "SCAN <cursor> COUNT <n> pages through them\n");
  });
});

describe("notices and cancellation", () => {
  test("notices go to stderr once per change in scripts", async () => {
    const client = new FakeClient();
    const stdout = memorySink();
    const stderr = memorySink();
    const session = new Session({
      outputMode: "text", escapeControls: false, isInteractive: false,
      connect: async () => client,
      streams: { input: Readable.from([]), output: stdout, errors: stderr },
    });
    await session.runText("NODES");
    const leader = { id: 2, endpoint: "tcp://127.0.0.1:7002" };
    client.emit({ type: "leader-changed", leader, term: 4 });
    client.emit({ type: "leader-changed", leader, term: 4 });
    await session.close();
    expect(stderr.text).toBe("Leader changed: node 2 (tcp://127.0.0.1:7002), term 4\n");
  });

  test("a cancel also drops the rest of the line", async () => {
    const client = new FakeClient();
    client.hangs = true;
    const stderr = memorySink();
    const session = new Session({
      outputMode: "text", escapeControls: false, isInteractive: false,
      connect: async () => client,
      streams: { input: Readable.from([]), output: memorySink(), errors: stderr },
    });
    const cancel = new AbortController();
    const running = session.runText(`GET ${key}; SET ${key} v; GET ${otherKey}`, cancel.signal);
    await new Promise((resolve) => setImmediate(resolve));
    cancel.abort();
    await running;
    expect(client.calls).toEqual([`get ${key}`]);
    expect(stderr.text.split("\n").filter((line) => line.startsWith("Cancelled")).length).toBe(1);
  });

  test("an aborted command says it was abandoned and counts as failed", async () => {
    const client = new FakeClient();
    client.hangs = true;
    const stdout = memorySink();
    const stderr = memorySink();
    const session = new Session({
      outputMode: "text", escapeControls: false, isInteractive: false,
      connect: async () => client,
      streams: { input: Readable.from([]), output: stdout, errors: stderr },
    });
    const cancel = new AbortController();
    const running = session.runText(`GET ${key}`, cancel.signal);
    await new Promise((resolve) => setImmediate(resolve));
    cancel.abort();
    expect(await running).toBe("continue");
    expect(stderr.text).toBe("Cancelled: GET abandoned at tcp://127.0.0.1:7001; the request " +
      "was abandoned (a write may still be carried out)\n");
    expect(session.failureCount).toBe(1);
  });
});

describe("piped input", () => {
  test("lines run in order; a quoted value may span lines; CRLF and comments", async () => {
    const client = new FakeClient();
    const input = `# comment\r\nSET ${key} "line 1\nline 2"\r\nGET ${key}\n\n` +
      `SET ${otherKey} \\\na\n`;
    const result = await run({ piped: input }, { client, mode: "raw" });
    expect(client.store.get(key)).toBe("line 1\nline 2");
    expect(client.store.get(otherKey)).toBe("a");
    expect(result.stdout).toBe("created\nline 1\nline 2\ncreated\n");
    expect(result.code).toBe(exitCodes.ok);
  });

  test("an unterminated quote at the end is an error, exit 1", async () => {
    const result = await run({ piped: `SET ${key} "open\n` });
    expect(result.stderr).toBe("Error: unterminated double quote\n");
    expect(result.code).toBe(exitCodes.failed);
  });
});

describe("WATCH", () => {
  const changes = [
    { key, op: "SET" as const, value: "a b", version: 4 },
    { key, op: "DELETE" as const, version: 9 },
  ];

  async function watchUntilCtrlC(
    mode: OutputMode,
    line: string,
  ): Promise<Run & { calls: string[] }> {
    const client = new FakeClient();
    client.watchChanges = changes;
    const stdout = memorySink();
    const stderr = memorySink();
    const session = new Session({
      outputMode: mode,
      escapeControls: false,
      isInteractive: false,
      connect: async () => client,
      streams: { input: Readable.from([]), output: stdout, errors: stderr },
    });
    const ctrlC = new AbortController();
    const running = session.runText(line, ctrlC.signal);
    // It prints as changes come and keeps watching: only Ctrl-C (the signal) ends it.
    while (stdout.text.split("\n").length < 3) await Bun.sleep(1);
    expect(await Promise.race([running, Bun.sleep(20).then(() => "still watching")]))
      .toBe("still watching");
    ctrlC.abort();
    const result = await running;
    await session.close();
    return {
      code: exitCodeOf(result, session, false), stdout: stdout.text, stderr: stderr.text,
      connectCount: 1, calls: client.calls,
    };
  }

  test("text: each change with its version until Ctrl-C, which is not a failure", async () => {
    const result = await watchUntilCtrlC("text", `WATCH ${key.toUpperCase()} SINCE 3`);
    expect(result.stdout).toBe("version 4: SET a b\nversion 9: DELETE\n");
    expect(result.calls).toEqual([`watch ${key} 3`]);
    expect(result.code).toBe(exitCodes.ok);
  });

  test("raw and json: tab-separated lines, the feed's objects", async () => {
    expect((await watchUntilCtrlC("raw", `WATCH ${key}`)).stdout)
      .toBe("4\tSET\ta b\n9\tDELETE\n");
    const json = await watchUntilCtrlC("json", `WATCH ${key}`);
    expect(json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual(changes);
    expect(json.calls).toEqual([`watch ${key} now`]);
  });

  test("bad words are usage errors before anything is sent", async () => {
    const result = await run({ script: `WATCH ${key} SINCE x; WATCH ${key} 5; WATCH nope` });
    expect(result.stderr).toBe("Error: SINCE takes a version (a whole number)\n" +
      "Error: usage: WATCH <uuid4> [SINCE v]\nError: key is not a valid UUID4\n");
    expect(result.code).toBe(exitCodes.failed);
  });
});
