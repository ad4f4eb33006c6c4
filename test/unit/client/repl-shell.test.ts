// The REPL shell without a cluster: command execution against FakeClient, script and piped
// modes with their exit codes, lazy connection, notices, --json, and the interactive (cliffy)
// path driven through a real pseudo-terminal (Bun.spawn's `terminal` option).
import { afterEach, describe, expect, test } from "bun:test";
import { Readable, Writable } from "node:stream";
import type { ClusterView } from "../../../lib/client/client.ts";
import { helpText } from "../../../lib/client/repl.ts";
import {
  executeCommand,
  exitCodes,
  type ReplClient,
  runShell,
  type ShellOptions,
} from "../../../lib/client/repl-shell.ts";
import { KvError } from "../../../lib/util/errors.ts";
import { PtySession, visible } from "../../harness/pty.ts";
import { FakeClient, fakeView } from "./fake-client.ts";

const key = "9b2c1a4e-3f5d-4c2b-8a1e-7d6f5e4c3b2a";
const otherKey = "0b5c3a4e-7f1d-4c2b-9e8a-1d2c3b4a5f6e";

interface TextSink {
  readonly stream: Writable;
  text(): string;
}

function textSink(): TextSink {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return { stream, text: () => chunks.join("") };
}

interface Run {
  readonly code: number;
  readonly output: string;
  readonly errors: string;
  readonly connectCount: number;
}

async function run(
  options: Partial<Omit<ShellOptions, "streams" | "connect">> & { input?: string },
  connect: () => Promise<ReplClient>,
): Promise<Run> {
  const output = textSink();
  const errors = textSink();
  let connectCount = 0;
  const code = await runShell({
    interactive: options.interactive ?? false,
    json: options.json ?? false,
    script: options.script ?? null,
    connect: () => {
      connectCount++;
      return connect();
    },
    streams: {
      input: Readable.from([options.input ?? ""]),
      output: output.stream,
      errors: errors.stream,
    },
  });
  return { code, output: output.text(), errors: errors.text(), connectCount };
}

describe("executeCommand (text)", () => {
  test("each command calls the client and formats the reply", async () => {
    const client = new FakeClient();
    const outcomes = [];
    outcomes.push(await executeCommand({ kind: "set", key, value: "v1" }, client, false));
    outcomes.push(await executeCommand({ kind: "set", key, value: "v2" }, client, false));
    outcomes.push(await executeCommand({ kind: "get", key }, client, false));
    outcomes.push(await executeCommand({ kind: "delete", key }, client, false));
    outcomes.push(await executeCommand({ kind: "delete", key }, client, false));
    outcomes.push(await executeCommand({ kind: "get", key }, client, false));
    expect(outcomes).toEqual([
      { text: "Created (2 replicas)", isOk: true },
      { text: "Updated (2 replicas)", isOk: true },
      { text: "v2", isOk: true },
      { text: "Deleted (2 replicas)", isOk: true },
      { text: "Not found", isOk: true },
      { text: "Not found", isOk: true },
    ]);
    expect(client.calls).toEqual([
      `set ${key} v1`, `set ${key} v2`, `get ${key}`,
      `delete ${key}`, `delete ${key}`, `get ${key}`,
    ]);
  });

  test("HEARTBEAT, NODES and WHERE", async () => {
    const client = new FakeClient();
    const heartbeat = await executeCommand({ kind: "heartbeat" }, client, false);
    expect(heartbeat.text).toContain("Known instances (2):");
    expect(heartbeat.text).toContain("Replication factor: 2");
    const nodes = await executeCommand({ kind: "nodes" }, client, false);
    expect(nodes.text).toContain("leader: 1 (tcp://127.0.0.1:7001)  rf: 2  partitions: 64");
    const where = await executeCommand({ kind: "where", key }, client, false);
    expect(where.text).toStartWith(`Key ${key}: partition `);
    expect(client.calls).toEqual(["heartbeat"]);
  });

  test("an error becomes one line with its code, and a failed outcome", async () => {
    const client = new FakeClient();
    client.failure = new KvError("UNAVAILABLE", "no in-sync replica for partition 3");
    expect(await executeCommand({ kind: "get", key }, client, false)).toEqual({
      text: "Error UNAVAILABLE: no in-sync replica for partition 3",
      isOk: false,
    });
  });
});

describe("executeCommand (--json)", () => {
  test("wire ops send the raw request and print the raw reply", async () => {
    const client = new FakeClient();
    const set = await executeCommand({ kind: "set", key, value: "a b" }, client, true);
    expect(JSON.parse(set.text)).toEqual({
      id: 1, ok: true, echo: { op: "SET", key, value: "a b" },
    });
    expect(set.isOk).toBe(true);
    await executeCommand({ kind: "get", key }, client, true);
    await executeCommand({ kind: "delete", key }, client, true);
    await executeCommand({ kind: "heartbeat" }, client, true);
    expect(client.calls).toEqual([
      `request {"op":"SET","key":"${key}","value":"a b"}`,
      `request {"op":"GET","key":"${key}"}`,
      `request {"op":"DELETE","key":"${key}"}`,
      `request {"op":"HEARTBEAT"}`,
    ]);
  });

  test("an error reply is printed as is and counts as a failure", async () => {
    const client = new FakeClient();
    client.failure = new KvError("TIMEOUT", "outcome unknown");
    const outcome = await executeCommand({ kind: "get", key }, client, true);
    expect(JSON.parse(outcome.text)).toEqual({
      id: 1, ok: false, error: { code: "TIMEOUT", message: "outcome unknown" },
    });
    expect(outcome.isOk).toBe(false);
  });

  test("a thrown error becomes a JSON error object", async () => {
    const client = new FakeClient();
    client.request = async () => {
      throw new KvError("UNAVAILABLE", "gave up after 5000 ms");
    };
    const outcome = await executeCommand({ kind: "get", key }, client, true);
    expect(JSON.parse(outcome.text)).toEqual({
      ok: false, error: { code: "UNAVAILABLE", message: "gave up after 5000 ms" },
    });
    expect(outcome.isOk).toBe(false);
  });

  test("NODES prints the view and WHERE the placement", async () => {
    const client = new FakeClient();
    const nodes = await executeCommand({ kind: "nodes" }, client, true);
    expect(JSON.parse(nodes.text)).toEqual(JSON.parse(JSON.stringify(fakeView)));
    const where = await executeCommand({ kind: "where", key }, client, true);
    const partition = parseInt(key.slice(0, 8), 16) % 64;
    expect(JSON.parse(where.text)).toMatchObject({ key, partition });
  });
});

describe("runShell: scripts (--exec)", () => {
  test("runs every command in order and exits 0 when all succeed", async () => {
    const client = new FakeClient();
    const result = await run(
      { script: [`SET ${key} "hello world"`, `get ${key}`, `DELETE ${key}`, `GET ${key}`] },
      async () => client,
    );
    expect(result.output).toBe(
      "Created (2 replicas)\nhello world\nDeleted (2 replicas)\nNot found\n",
    );
    expect(result.code).toBe(exitCodes.ok);
    expect(result.connectCount).toBe(1);
    expect(client.closeCount).toBe(1);
  });

  test("an invalid key is reported, nothing is sent, and the run exits 1", async () => {
    const client = new FakeClient();
    const result = await run({ script: ["SET not-a-uuid x"] }, async () => client);
    expect(result.output).toBe("Error: key is not a valid UUID4\n");
    expect(result.code).toBe(exitCodes.failed);
    expect(result.connectCount).toBe(0);
    expect(client.calls).toEqual([]);
  });

  test("lines that need no cluster never connect", async () => {
    const result = await run({ script: ["HELP", "FOO", "GET"] }, () => {
      throw new Error("must not connect");
    });
    expect(result.output).toBe(
      `${helpText}\nError: unknown command "FOO" (type HELP)\nError: usage: GET <uuid4>\n`,
    );
    expect(result.connectCount).toBe(0);
    expect(result.code).toBe(exitCodes.failed);
  });

  test("a failed command does not stop the script, but the run exits 1", async () => {
    const client = new FakeClient();
    const result = await run(
      { script: [`GET ${key}`, "BAD", `SET ${key} v`, `GET ${key}`] },
      async () => client,
    );
    expect(result.output).toBe(
      'Not found\nError: unknown command "BAD" (type HELP)\nCreated (2 replicas)\nv\n',
    );
    expect(result.code).toBe(exitCodes.failed);
  });

  test("an error reply makes the run exit 1", async () => {
    const client = new FakeClient();
    client.failure = new KvError("UNAVAILABLE", "no leader");
    const result = await run({ script: [`GET ${key}`] }, async () => client);
    expect(result.output).toBe("Error UNAVAILABLE: no leader\n");
    expect(result.code).toBe(exitCodes.failed);
  });

  test("EXIT stops the script", async () => {
    const client = new FakeClient();
    const script = [`GET ${key}`, "EXIT", `GET ${otherKey}`];
    const result = await run({ script }, async () => client);
    expect(client.calls).toEqual([`get ${key}`]);
    expect(result.code).toBe(exitCodes.ok);
  });

  test("an unreachable cluster stops the run with exit 2 and says why on stderr", async () => {
    const result = await run({ script: [`GET ${key}`, `GET ${otherKey}`] }, async () => {
      throw new KvError("UNAVAILABLE", "no node answered within 5000 ms");
    });
    expect(result.errors).toBe("Error UNAVAILABLE: no node answered within 5000 ms\n");
    expect(result.output).toBe("");
    expect(result.code).toBe(exitCodes.unreachable);
    expect(result.connectCount).toBe(1);
  });

  test("--json prints parse errors as wire-style error objects", async () => {
    const result = await run(
      { json: true, script: ["GET nope", "NOPE"] },
      () => Promise.reject(new Error("must not connect")),
    );
    expect(result.output.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      { ok: false, error: { code: "INVALID_KEY", message: "key is not a valid UUID4" } },
      { ok: false, error: { code: "BAD_REQUEST", message: 'unknown command "NOPE" (type HELP)' } },
    ]);
    expect(result.code).toBe(exitCodes.failed);
  });
});

describe("runShell: notices", () => {
  test("in script mode notices go to stderr, once per change", async () => {
    const client = new FakeClient();
    client.get = async () => {
      client.emit({ type: "under-replicated", live: 1, rf: 2 });
      client.emit({ type: "under-replicated", live: 1, rf: 2 });
      client.emit({ type: "member-changed", id: 2, alive: true });
      const leader = { id: 2, endpoint: "tcp://127.0.0.1:7002" };
      client.emit({ type: "leader-changed", leader, term: 4 });
      return { found: false };
    };
    const result = await run({ script: [`GET ${key}`] }, async () => client);
    expect(result.output).toBe("Not found\n");
    expect(result.errors).toBe(
      [
        "WARNING: cluster size (1) is smaller than replication factor (2)",
        "Node 2 is up",
        "Leader changed: node 2 (tcp://127.0.0.1:7002), term 4",
        "",
      ].join("\n"),
    );
    expect(client.listenerCount).toBe(0);
  });

  test("an under-replicated cluster is warned about on connect", async () => {
    const lonely: ClusterView = {
      ...fakeView,
      members: fakeView.members.map((member) => ({ ...member, alive: member.id === 1 })),
    };
    const client = new FakeClient(lonely);
    client.get = async () => {
      // The same condition reported again by the client is not repeated.
      client.emit({ type: "under-replicated", live: 1, rf: 2 });
      return { found: false };
    };
    const result = await run({ script: [`GET ${key}`] }, async () => client);
    expect(result.errors).toBe(
      "WARNING: cluster size (1) is smaller than replication factor (2)\n",
    );
  });
});

describe("runShell: piped stdin", () => {
  test("runs lines as they come (CRLF too), blank lines and comments ignored", async () => {
    const client = new FakeClient();
    const input = `SET ${key} '{"a": 1}'\r\n\n# comment\nGET ${key}\nGET ${otherKey}`;
    const result = await run({ input }, async () => client);
    expect(result.output).toBe('Created (2 replicas)\n{"a": 1}\nNot found\n');
    expect(result.code).toBe(exitCodes.ok);
    expect(client.closeCount).toBe(1);
  });

  test("exits 1 when any line failed", async () => {
    const client = new FakeClient();
    const result = await run({ input: `GET ${key}\nGET bad\n` }, async () => client);
    expect(result.output).toBe("Not found\nError: key is not a valid UUID4\n");
    expect(result.code).toBe(exitCodes.failed);
  });

  test("stops reading at EXIT", async () => {
    const client = new FakeClient();
    const result = await run({ input: `GET ${key}\nquit\nGET ${otherKey}\n` }, async () => client);
    expect(client.calls).toEqual([`get ${key}`]);
    expect(result.code).toBe(exitCodes.ok);
  });

  test("empty input neither connects nor fails", async () => {
    const result = await run({ input: "" }, () => Promise.reject(new Error("must not connect")));
    expect(result.code).toBe(exitCodes.ok);
    expect(result.connectCount).toBe(0);
  });
});

describe("runShell: interactive without a terminal (stdin a TTY, stdout redirected)", () => {
  test("connects, shows the cluster, runs a block of lines in order, ends at EOF", async () => {
    const client = new FakeClient();
    client.set = async (k, v) => {
      // Slow write: the following lines arrive while it runs and must wait their turn.
      await new Promise((resolve) => setTimeout(resolve, 20));
      client.store.set(k, v);
      return { status: "created", replicas: 2 };
    };
    const result = await run(
      { interactive: true, input: `SET ${key} v\nGET ${key}\nBAD\nGET ${key}\n` },
      async () => client,
    );
    const lines = result.output.split("\n");
    expect(lines[0]).toBe("   id  endpoint              role      state");
    expect(result.output).toContain("leader: 1 (tcp://127.0.0.1:7001)  rf: 2  partitions: 64");
    // Without a terminal readline does not echo; the prompt is printed before each question.
    const answers = result.output.split("warehouse> ").slice(1).join("");
    expect(answers).toBe('Created (2 replicas)\nv\nError: unknown command "BAD" (type HELP)\nv\n');
    // Interactive sessions always exit 0; failures are for scripts.
    expect(result.code).toBe(exitCodes.ok);
    expect(client.closeCount).toBe(1);
  });

  test("an unreachable cluster exits 2 before any prompt", async () => {
    const result = await run({ interactive: true, input: "HELP\n" }, async () => {
      throw new KvError("UNAVAILABLE", "no node answered");
    });
    expect(result.code).toBe(exitCodes.unreachable);
    expect(result.output).toBe("");
    expect(result.errors).toBe("Error UNAVAILABLE: no node answered\n");
  });
});

// ---------------------------------------------------------------------------------------------
// The interactive path on a real pseudo-terminal.

const fixture = new URL("./tty-repl.fixture.ts", import.meta.url).pathname;

describe("runShell: interactive on a pseudo-terminal (cliffy)", () => {
  let session: PtySession | null = null;
  afterEach(() => {
    session?.close();
    session = null;
  });

  test("line editing, history, notices above the prompt, Ctrl-C and Ctrl-D", async () => {
    const pty = new PtySession([process.execPath, fixture]);
    session = pty;
    await pty.waitFor("warehouse> ");
    expect(visible(pty.raw)).toContain("leader: 1 (tcp://127.0.0.1:7001)  rf: 2  partitions: 64");

    // Line editing: type "ab", move left twice, insert X -> value "Xab".
    pty.type(`set ${key} ab\x1b[D\x1b[DX\r`);
    await pty.waitFor("Created (2 replicas)");
    pty.type(`get ${key}\r`);
    await pty.waitFor("\nXab\n");

    // History: arrow up recalls the GET.
    pty.type("\x1b[A\r");
    await pty.waitFor("\nXab\n", 2);

    // A notice while a line is half typed: printed on its own line, prompt and text redrawn.
    pty.type("GET ");
    await pty.waitFor("warehouse> GET ", 1, visible(pty.raw).lastIndexOf("Xab"));
    const before = visible(pty.raw).length;
    pty.process.kill("SIGUSR1");
    await pty.waitFor("Leader changed: node 2 (tcp://127.0.0.1:7002), term 4\n", 1, before);
    await pty.waitFor("term 4\nwarehouse> GET ", 1, before);
    pty.type(`${key}\r`);
    await pty.waitFor("\nXab\n", 3);

    // Ctrl-C drops a half-typed line and keeps the session.
    pty.type("DELETE 123");
    await pty.waitFor("DELETE 123");
    pty.type("\x03");
    await pty.waitFor("DELETE 123^C\nwarehouse> ");
    pty.type(`delete ${key}\r`);
    await pty.waitFor("Deleted (2 replicas)");

    // Ctrl-D leaves cleanly: the client is closed and the exit code is 0.
    pty.type("\x04");
    await pty.waitFor("client closed");
    expect(await pty.process.exited).toBe(0);
    expect(visible(pty.raw)).toContain("exit 0");
  });

  test("a pasted block runs in order, then EXIT leaves with code 0", async () => {
    const pty = new PtySession([process.execPath, fixture]);
    session = pty;
    await pty.waitFor("warehouse> ");
    pty.type(`SET ${key} one\rGET ${key}\rSET ${key} two\rGET ${key}\rEXIT\r`);
    await pty.waitFor("client closed");
    expect(await pty.process.exited).toBe(0);
    // The block is echoed as typed, then the results follow in order, with no prompt
    // printed in between (the next prompt waits until every queued line has run).
    const text = visible(pty.raw);
    expect(text).toContain(
      `GET ${key}\nEXIT\nCreated (2 replicas)\none\nUpdated (2 replicas)\ntwo\nclient closed\n`,
    );
  });
});
