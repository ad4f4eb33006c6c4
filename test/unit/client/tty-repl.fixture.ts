// Runs the REPL shell on this process's stdio against FakeClient, so a test can drive the
// interactive (cliffy) path through a pseudo-terminal without a cluster. SIGUSR1 makes the fake
// client report a leader change, to test notices arriving while the prompt is shown. Prints
// "client closed" on close and "exit <code>" before exiting with the shell's code.
import { runShell } from "../../../lib/client/repl-shell.ts";
import { FakeClient } from "./fake-client.ts";

const client = new FakeClient();
const close = client.close.bind(client);
client.close = async () => {
  process.stdout.write("client closed\n");
  await close();
};
process.on("SIGUSR1", () => {
  const leader = { id: 2, endpoint: "tcp://127.0.0.1:7002" };
  client.emit({ type: "leader-changed", leader, term: 4 });
});
const code = await runShell({
  interactive: process.stdin.isTTY === true,
  json: false,
  script: null,
  connect: async () => client,
  streams: { input: process.stdin, output: process.stdout, errors: process.stderr },
});
process.stdout.write(`exit ${code}\n`);
process.exit(code);
