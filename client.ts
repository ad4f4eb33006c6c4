// Entry point of the Warehouse REPL client: parse flags, run the shell, exit with its code
// (0 ok; 1 usage error, or a failed command with --exec or piped input; 2 cluster unreachable).
// It only wires things together: parsing lives in lib/config.ts, the REPL in lib/client/repl*.ts.
import { WarehouseClient } from "./lib/client/client.ts";
import { splitScript } from "./lib/client/repl.ts";
import { exitCodes, runShell } from "./lib/client/repl-shell.ts";
import { clientUsage, parseClientConfig } from "./lib/config.ts";
import { createLogger } from "./lib/util/log.ts";

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseClientConfig(argv);
  if (!parsed.ok) {
    const problems = parsed.errors.map((error) => `Error: ${error}\n`).join("");
    const hint = problems.includes("--help") ? "" : 'Run "bun client.ts --help" for the options.\n';
    process.stderr.write(problems + hint);
    return exitCodes.failed;
  }
  if (parsed.help) {
    process.stdout.write(clientUsage);
    return exitCodes.ok;
  }
  const config = parsed.config;
  // Only errors: the REPL reports everything else itself, and log lines would break the prompt.
  const logger = createLogger("error", { area: "client" });
  return runShell({
    interactive: config.exec === null && process.stdin.isTTY === true,
    json: config.isJsonOutput,
    script: config.exec === null ? null : splitScript(config.exec),
    connect: () =>
      WarehouseClient.connect({
        endpoints: [...config.connectEndpoints],
        requestTimeoutMs: config.requestTimeoutMs,
        giveUpMs: config.giveUpMs,
        logger,
      }),
    streams: { input: process.stdin, output: process.stdout, errors: process.stderr },
  });
}

// Resolves once everything written so far has been handed to the OS, so that exiting does not
// cut off the end of the output when stdout is a pipe.
function flushed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.write("", () => resolve());
  });
}

const exitCode = await main(Bun.argv.slice(2));
await flushed(process.stdout);
await flushed(process.stderr);
// Exit explicitly: the client's sockets and timers are closed, but a stdin that is still open
// (a terminal after Ctrl-D, a pipe after EXIT) would otherwise keep the process alive.
process.exit(exitCode);
