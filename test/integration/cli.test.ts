// The client as a command-line tool against a real 1-node cluster: commands as arguments, their
// exit codes and streams, values from stdin and files, every output mode, a 1 MiB value read
// back through a pipe whose reader is slow (nothing lost at exit), and a value holding terminal
// controls printed escaped on a pseudo-terminal but byte for byte with --output raw.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cluster, bunPath, repoRoot, timeouts } from "../harness/cluster.ts";
import { PtySession } from "../harness/pty.ts";
import { type RunResult, runToEnd } from "../harness/run.ts";
import { waitFor } from "../harness/wait.ts";

const clientPath = join(repoRoot, "client.ts");
let cluster: Cluster | null = null;

function connect(): string[] {
  if (cluster === null) throw new Error("no cluster");
  return ["--connect", cluster.endpoints().join(",")];
}

function cli(args: readonly string[], stdin?: string): Promise<RunResult> {
  return runToEnd([bunPath, clientPath, ...connect(), ...args], {
    cwd: repoRoot, deadlineMs: 30_000, ...(stdin === undefined ? {} : { stdin }),
  });
}

beforeAll(async () => {
  cluster = new Cluster();
  await cluster.start({ id: 1, rf: 1 });
}, timeouts.readyMs);

afterAll(async () => {
  await cluster?.[Symbol.asyncDispose]();
  cluster = null;
});

describe("commands as arguments", () => {
  test("set, get, delete, count and scan with their exit codes and streams", async () => {
    const key = crypto.randomUUID();
    expect(await cli(["set", key, "two words"])).toEqual({
      code: 0, stdout: "Created (1 replica)\n", stderr: "",
    });
    expect(await cli(["get", key])).toEqual({ code: 0, stdout: "two words\n", stderr: "" });
    expect(await cli(["--output", "raw", "get", key])).toEqual({
      code: 0, stdout: "two words\n", stderr: "",
    });
    const scan = await cli(["--raw", "scan", "count", "1000"]);
    expect(scan.stdout.split("\n")).toContain(`${key}\ttwo words`);
    expect(await cli(["delete", key])).toEqual({
      code: 0, stdout: "Deleted (1 replica)\n", stderr: "",
    });
    // A missing key: (nil) for a person, nothing in raw output, and exit 1 either way.
    expect(await cli(["get", key])).toEqual({ code: 1, stdout: "(nil)\n", stderr: "" });
    expect(await cli(["--raw", "get", key])).toEqual({ code: 1, stdout: "", stderr: "" });
    const json = await cli(["--json", "get", key]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, found: false });
    expect(json.code).toBe(1);
    expect(await cli(["delete", key])).toEqual({ code: 1, stdout: "(not found)\n", stderr: "" });
  });

  test("usage errors exit 64 with the message on stderr and nothing on stdout", async () => {
    const unknown = await cli(["frob"]);
    expect(unknown).toEqual({
      code: 64, stdout: "", stderr: 'Error: unknown command "frob" (type HELP)\n',
    });
    const extra = await cli(["get", crypto.randomUUID(), "extra"]);
    expect(extra.code).toBe(64);
    expect(extra.stderr).toBe("Error: usage: GET <uuid4> [--verbose]\n");
  });

  test("a value from stdin (-) and from --value-file, byte for byte", async () => {
    const key = crypto.randomUUID();
    const value = 'line 1\n  "quoted" \\ and ;\ttab\n';
    expect((await cli(["set", key, "-"], value)).code).toBe(0);
    expect((await cli(["--raw", "get", key])).stdout).toBe(`${value}\n`);
    const file = join(cluster?.root ?? "/nonexistent", "value.txt");
    writeFileSync(file, "from a file");
    expect((await cli(["--value-file", file, "set", key])).stdout).toBe("Updated (1 replica)\n");
    expect((await cli(["get", key])).stdout).toBe("from a file\n");
    const missing = await cli(["--value-file", `${file}.none`, "set", key]);
    expect(missing.code).toBe(64);
    expect(missing.stderr).toStartWith(`Error: cannot read --value-file ${file}.none`);
  });
});

describe("history", () => {
  test("--exec, piped input and commands as arguments never write the history file", async () => {
    const history = join(cluster?.root ?? "/nonexistent", "never-written");
    const env = { ...process.env, WAREHOUSE_HISTORY: history };
    const key = crypto.randomUUID();
    const runs = [
      [...connect(), "--exec", `SET ${key} v; GET ${key}`],
      [...connect(), "get", key],
      [...connect(), "--history-file", history],
    ];
    for (const [index, args] of runs.entries()) {
      const stdin = index === 2 ? `GET ${key}\n` : undefined;
      const result = await runToEnd([bunPath, clientPath, ...args], {
        cwd: repoRoot, env, deadlineMs: 30_000, ...(stdin === undefined ? {} : { stdin }),
      });
      expect(result.code).toBe(0);
    }
    expect(existsSync(history)).toBe(false);
  });
});

/** Runs the client with stdout on a pipe that is read a little at a time, with a pause between
 * reads, so the pipe stays full while the client writes and exits. */
async function readSlowly(args: readonly string[]): Promise<{ code: number; bytes: Uint8Array }> {
  const proc = Bun.spawn([bunPath, clientPath, ...connect(), ...args], {
    cwd: repoRoot, stdin: "ignore", stdout: "pipe", stderr: "pipe",
  });
  try {
    const chunks: Uint8Array[] = [];
    const reader = proc.stdout.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      // The pause is the point of the test (a slow consumer), not a wait for a condition.
      if (chunks.length % 8 === 1) await Bun.sleep(2);
    }
    const code = await proc.exited;
    return { code, bytes: Buffer.concat(chunks) };
  } finally {
    proc.kill("SIGKILL");
  }
}

describe("output is never lost", () => {
  test("a 1 MiB value through a slow pipe, in raw, text and json output", async () => {
    const key = crypto.randomUUID();
    // Just under the node's 1 MiB limit in UTF-8 bytes, with multi-byte characters, quotes and
    // backslashes that JSON output must escape.
    const piece = `ñ-✓;"\\ `;
    const pieces: string[] = [];
    for (let i = 0, bytes = 0; bytes < 1_048_576 - 64; i++) {
      pieces.push(`${i}${piece}`);
      bytes += Buffer.byteLength(pieces[i] as string);
    }
    const value = pieces.join("");
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(1_048_576);
    expect(Buffer.byteLength(value)).toBeGreaterThan(1_048_000);
    expect((await cli(["set", key, "-"], value)).code).toBe(0);
    const expected = Buffer.from(`${value}\n`);
    const raw = await readSlowly(["--raw", "get", key]);
    expect(raw.code).toBe(0);
    expect(raw.bytes.length).toBe(expected.length);
    expect(Buffer.compare(Buffer.from(raw.bytes), expected)).toBe(0);
    const text = await readSlowly(["get", key]);
    expect(Buffer.compare(Buffer.from(text.bytes), expected)).toBe(0);
    const json = await readSlowly(["--json", "get", key]);
    expect(JSON.parse(Buffer.from(json.bytes).toString("utf8"))).toMatchObject({ value });
  });
});

describe("terminal safety (issue 8)", () => {
  test("ESC, BEL and C1 controls print escaped on a terminal and as bytes with --raw", async () => {
    const key = crypto.randomUUID();
    const value = "red\x1b[31m bell\x07 csi\u009b2J osc\x1b]0;title\x07 end";
    expect((await cli(["set", key, "-"], value)).code).toBe(0);
    const raw = await cli(["--raw", "get", key]);
    expect(raw.stdout).toBe(`${value}\n`);

    const pty = new PtySession([bunPath, clientPath, ...connect(), "get", key], { cwd: repoRoot });
    try {
      // The output can reach us after the process has exited: wait for it, not for the exit.
      await pty.waitFor(" end\n");
      await waitFor(() => pty.process.exitCode !== null, { what: "the client to exit" });
      // What reached the terminal, before any control sequence is stripped for reading.
      expect(pty.raw).toBe("red\\e[31m bell\\a csi\\x9b2J osc\\e]0;title\\a end\r\n");
      expect(pty.process.exitCode).toBe(0);
    } finally {
      pty.close();
    }
  });
});
