// Runs the interactive REPL (Session + TerminalLoop) on this process's terminal against
// FakeClient, so a test can drive it through a pseudo-terminal without a cluster. SIGUSR1 makes
// the fake client report a leader change (a notice while the prompt is shown); FAKE_HANG=1 makes
// every GET wait until it is cancelled. History goes to $WAREHOUSE_HISTORY. Prints "exit <code>"
// before exiting with the shell's code.
import { HistoryFile } from "../../../lib/client/history.ts";
import { fileSink } from "../../../lib/client/output.ts";
import { Session, exitCodeOf } from "../../../lib/client/repl-shell.ts";
import { TerminalLoop } from "../../../lib/client/terminal.ts";
import { FakeClient } from "./fake-client.ts";

const client = new FakeClient();
client.hangs = process.env["FAKE_HANG"] === "1";
process.on("SIGUSR1", () => {
  const leader = { id: 2, endpoint: "tcp://127.0.0.1:7002" };
  client.emit({ type: "leader-changed", leader, term: 4 });
});
const stdout = fileSink(Bun.stdout);
const session = new Session({
  outputMode: "text",
  escapeControls: true,
  isInteractive: true,
  connect: async () => client,
  streams: { input: process.stdin, output: stdout, errors: fileSink(Bun.stderr) },
});
await session.ensureClient();
const historyPath = process.env["WAREHOUSE_HISTORY"];
const loop = new TerminalLoop(session, {
  input: process.stdin,
  output: process.stdout,
  prompt: "warehouse> ",
  history: historyPath === undefined ? null : new HistoryFile(historyPath),
});
const result = await loop.run();
await session.close();
const code = exitCodeOf(result, session, true);
await stdout.write(`exit ${code}\n`);
process.exit(code);
