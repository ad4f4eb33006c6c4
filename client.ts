// Entry point of the Warehouse REPL client: parse flags, run the shell, exit with its code
// (0 ok; 1 usage error, or a failed command with --exec or piped input; 2 cluster unreachable).
// It only wires things together: parsing lives in lib/config.ts, the REPL in lib/client/repl*.ts.
import { WarehouseClient } from "./lib/client/client.ts";
import { splitScript } from "./lib/client/repl.ts";
import { exitCodes, runShell } from "./lib/client/repl-shell.ts";
import { type ClientConfig, clientUsage, parseClientConfig } from "./lib/config.ts";
import {
  generateKeyPair,
  readPublicKey,
  readSecretKeyFile,
  runKeygen,
} from "./lib/curve-keys.ts";
import { createLogger } from "./lib/util/log.ts";
import { type CurveOptions, loadCurveCrypto } from "./lib/zmtp/index.ts";

/** CURVE options from --server-key and --curve-key-file (a fresh pair without the latter). */
async function loadCurve(config: ClientConfig): Promise<CurveOptions | undefined> {
  if (config.serverKey === null) return undefined;
  const crypto = await loadCurveCrypto();
  const serverKey = await readPublicKey(config.serverKey, "--server-key");
  const own =
    config.curveKeyFile === null
      ? generateKeyPair(crypto)
      : await readSecretKeyFile(config.curveKeyFile, crypto, "--curve-key-file");
  return { crypto, ...own, serverKey };
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === "keygen") {
    return runKeygen("client.ts", argv.slice(1), await loadCurveCrypto(), {
      stdout: (text) => void process.stdout.write(text),
      stderr: (text) => void process.stderr.write(text),
    });
  }
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
  let curve: CurveOptions | undefined;
  try {
    curve = await loadCurve(config);
  } catch (error) {
    process.stderr.write(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
    return exitCodes.failed;
  }
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
        ...(curve === undefined ? {} : { curve }),
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
