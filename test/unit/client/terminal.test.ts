// The interactive REPL driven through a real pseudo-terminal against FakeClient: Tab
// completion, history kept across two sessions in the file given, Ctrl-R, Ctrl-C on a typed
// line, on an empty line and during a command that hangs, notices above the prompt, Ctrl-D.
// Completion candidates are also checked directly.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { complete, continuationPrompt, exitHint } from "../../../lib/client/terminal.ts";
import { PtySession } from "../../harness/pty.ts";
import { waitFor } from "../../harness/wait.ts";

const key = "9b2c1a4e-3f5d-4c2b-8a1e-7d6f5e4c3b2a";
const otherKey = "9b00a4e0-7f1d-4c2b-9e8a-1d2c3b4a5f6e";
const fixture = join(import.meta.dir, "tty-repl.fixture.ts");
const prompt = "warehouse> ";

const dirs: string[] = [];
const sessions: PtySession[] = [];
afterEach(() => {
  for (const session of sessions.splice(0)) session.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function historyFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-history-"));
  dirs.push(dir);
  return join(dir, "history");
}

function start(env: Record<string, string>): PtySession {
  const session = new PtySession([process.execPath, fixture], { env });
  sessions.push(session);
  return session;
}

async function exited(session: PtySession): Promise<number | null> {
  await waitFor(() => session.process.exitCode !== null, { what: "the REPL to exit" });
  return session.process.exitCode;
}

describe("complete", () => {
  const seen = new Set([key, otherKey]);
  test("command words, in the case typed", () => {
    expect(complete("sc", seen)).toEqual([["scan"], "sc"]);
    expect(complete("DE", seen)).toEqual([["DELETE", "DEL"], "DE"]);
    expect(complete("", seen)[0]).toContain("HEARTBEAT");
  });
  test("keys seen after a keyed command, names after HELP, options after SCAN and COUNT", () => {
    expect(complete("get 9b2", seen)).toEqual([[key], "9b2"]);
    expect(complete("GET 9b", seen)).toEqual([[otherKey, key], "9b"]);
    expect(complete("set x; where 9b0", seen)).toEqual([[otherKey], "9b0"]);
    expect(complete("help sc", seen)).toEqual([["scan"], "sc"]);
    expect(complete("SCAN 0 C", seen)).toEqual([["COUNT"], "C"]);
    expect(complete("count --v", seen)).toEqual([["--verbose"], "--v"]);
    expect(complete(`get ${key} `, seen)).toEqual([[], ""]);
  });
});

describe("the REPL on a pseudo-terminal", () => {
  test("Tab, history across two sessions, Ctrl-R, Ctrl-C on a typed and empty line", async () => {
    const history = historyFile();
    const first = start({ WAREHOUSE_HISTORY: history });
    await first.waitFor(prompt);
    // Tab completes the command word, then a key this session has seen.
    first.type(`SET ${key} "first value"\r`);
    await first.waitFor(`Created (2 replicas)\n${prompt}`);
    let mark = first.screen().length;
    first.type("ge\t");
    await first.waitFor("get", 1, mark);
    first.type(" 9b2\t");
    await first.waitFor(`get ${key}`, 1, mark);
    first.type("\r");
    // Each step waits for the prompt that ends it: a key typed before that would reach a
    // command still running (and Ctrl-C would cancel it).
    await first.waitFor(`first value\n${prompt}`, 1, mark);
    // Ctrl-C on a half-typed line drops it: Enter then runs nothing.
    mark = first.screen().length;
    first.type("HEARTBE\x03");
    await first.waitFor(`HEARTBE\n${prompt}`, 1, mark);
    first.type("\r");
    await first.waitFor(`HEARTBE\n${prompt}\n${prompt}`, 1, mark);
    expect(first.screen().slice(mark)).not.toContain("Known instances");
    // Ctrl-C on an empty line tells how to leave and stays.
    first.type("\x03");
    await first.waitFor(exitHint);
    first.type("\x04");
    expect(await exited(first)).toBe(0);
    expect(readFileSync(history, "utf8")).toBe(`SET ${key} "first value"\nget ${key}\n`);
    expect(statSync(history).mode & 0o777).toBe(0o600);

    // A second session: Up recalls the last line, Ctrl-R finds an older one by a fragment.
    const second = start({ WAREHOUSE_HISTORY: history });
    await second.waitFor(prompt);
    second.type("\x1b[A");
    await second.waitFor(`${prompt}get ${key}`);
    second.type("\x03");
    mark = second.screen().length;
    second.type("\x12first");
    await second.waitFor(`(reverse-i-search)'first': SET ${key} "first value"`, 1, mark);
    second.type("\r");
    await second.waitFor("Created (2 replicas)", 1, mark);
    second.type("EXIT\r");
    expect(await exited(second)).toBe(0);
    const lines = readFileSync(history, "utf8").trimEnd().split("\n");
    expect(lines).toEqual([`get ${key}`, `SET ${key} "first value"`, "EXIT"]);
  });

  test("Ctrl-C during a command that hangs cancels it and the prompt comes back", async () => {
    const session = start({ FAKE_HANG: "1" });
    await session.waitFor(prompt);
    session.type(`GET ${key}\r`);
    await session.waitFor(`GET ${key}\n`);
    session.type("\x03");
    await session.waitFor("Cancelled: GET abandoned at tcp://127.0.0.1:7001; the request was " +
      "abandoned (a write may still be carried out)\nwarehouse> ");
    // Still alive and usable: a command that needs no cluster answers.
    session.type("HELP EXIT\r");
    await session.waitFor("leave (also QUIT, or Ctrl-D)");
    session.type("\x04");
    expect(await exited(session)).toBe(0);
  });

  test("a quote left open continues on the next line; Ctrl-C drops the pending lines", async () => {
    const session = start({});
    await session.waitFor(prompt);
    session.type(`SET ${key} "line 1\r`);
    await session.waitFor(continuationPrompt);
    session.type('line 2"\r');
    await session.waitFor(`Created (2 replicas)\n${prompt}`);
    session.type(`GET ${key}\r`);
    await session.waitFor(`line 1\nline 2\n${prompt}`);
    let mark = session.screen().length;
    session.type(`SET ${otherKey} 'never\r`);
    await session.waitFor(continuationPrompt, 1, mark);
    session.type("\x03");
    await session.waitFor(prompt, 1, mark);
    mark = session.screen().length;
    session.type(`GET ${otherKey}\r`);
    await session.waitFor(`(nil)\n${prompt}`, 1, mark);
    session.type("\x04");
    expect(await exited(session)).toBe(0);
  });

  test("a notice is printed above the prompt and the typed text is kept", async () => {
    const session = start({});
    await session.waitFor(prompt);
    session.type("NOD");
    await session.waitFor(`${prompt}NOD`);
    session.process.kill("SIGUSR1");
    await session.waitFor("Leader changed: node 2 (tcp://127.0.0.1:7002), term 4\n");
    session.type("ES\r");
    await session.waitFor("leader: 1 (tcp://127.0.0.1:7001)  rf: 2", 2);
    session.type("\x04");
    expect(await exited(session)).toBe(0);
  });
});
