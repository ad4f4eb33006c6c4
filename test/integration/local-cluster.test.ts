// `npm start` (scripts/local-cluster.ts) on a pseudo-terminal: Ctrl-C at the prompt, and a
// SIGINT to the whole foreground process group (what the terminal sends when it is not in raw
// mode), leave the REPL and all three nodes running; only EXIT stops them. Runs in a temporary
// directory on its own ports; every node is killed by its process id at the end.
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitHint } from "../../lib/client/terminal.ts";
import { bunPath, repoRoot, timeouts } from "../harness/cluster.ts";
import { childrenOf } from "../harness/process-tree.ts";
import { PtySession } from "../harness/pty.ts";
import { waitFor } from "../harness/wait.ts";

/** The process group id of `pid` (field 5 of /proc/<pid>/stat, after the command name). */
function processGroupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[2]);
}

// Ports of this test alone (below 32768): requests 27411-27413, heartbeats 27511-27513.
const basePort = 27411;

test("Ctrl-C and SIGINT never stop npm start's cluster; EXIT does", async () => {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-start-"));
  const pty = new PtySession(
    [bunPath, join(repoRoot, "scripts", "local-cluster.ts"), "--history-file", join(dir, "h")],
    { cwd: dir, env: { WAREHOUSE_BASE_PORT: String(basePort) }, waitMs: 3 * timeouts.readyMs },
  );
  const pidFiles = [1, 2, 3].map((id) => join(dir, "data", `node-${id}.pid`));
  const nodePids = (): number[] =>
    pidFiles.filter((file) => existsSync(file)).map((file) => Number(readFileSync(file, "utf8")));
  // The REPL client is the script's child: killing the script alone would orphan it.
  let started: number[] = [];
  try {
    await pty.waitFor("warehouse> ");
    started = childrenOf(pty.process.pid);
    const pids = nodePids();
    expect(pids.length).toBe(3);
    pty.type("\x03");
    await pty.waitFor(exitHint);
    // A terminal not in raw mode sends SIGINT to every process of the foreground process
    // group: the script's own group, which the client shares and the nodes must not.
    const group = processGroupOf(pty.process.pid);
    const children = childrenOf(pty.process.pid);
    expect(children.length).toBe(4);
    for (const pid of pids) expect(processGroupOf(pid)).not.toBe(group);
    for (const pid of [pty.process.pid, ...children]) {
      if (processGroupOf(pid) === group) process.kill(pid, "SIGINT");
    }
    await pty.waitFor(exitHint, 2);
    for (const pid of pids) expect(() => process.kill(pid, 0)).not.toThrow();
    const mark = pty.screen().length;
    pty.type("NODES\r");
    await pty.waitFor("leader: 1 (tcp://127.0.0.1:27411)", 1, mark);
    expect(pty.screen().slice(mark)).not.toContain("down");
    pty.type("EXIT\r");
    await pty.waitFor("Stopped nodes 1-3.");
    await waitFor(() => pty.process.exitCode !== null, { what: "npm start to exit" });
    expect(pty.process.exitCode).toBe(0);
    expect(nodePids()).toEqual([]);
  } finally {
    for (const pid of [...nodePids(), ...started]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    pty.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 4 * timeouts.readyMs);
