// Entry point of the Warehouse client: parse flags, then run one command given as arguments,
// an --exec script, piped input, or the interactive REPL, and exit with the shell's code
// (0 ok; 1 not found or a command failed; 2 cluster unreachable; 64 usage error).
// It only wires things together: parsing lives in lib/config.ts, the rest in lib/client/.
import { homedir } from "node:os";
import { join } from "node:path";
import { WarehouseClient } from "./lib/client/client.ts";
import { HistoryFile } from "./lib/client/history.ts";
import { fileSink } from "./lib/client/output.ts";
import {
  type ExitCode,
  type LineResult,
  Session,
  exitCodeOf,
  exitCodes,
  runCommands,
  runPiped,
} from "./lib/client/repl-shell.ts";
import { TerminalLoop } from "./lib/client/terminal.ts";
import { tokenize } from "./lib/client/tokenize.ts";
import {
  type ClientConfig,
  clientUsage,
  parseClientConfig,
  warehouseVersion,
} from "./lib/config.ts";
import {
  generateKeyPair,
  readPublicKey,
  readSecretKeyFile,
  runKeygen,
} from "./lib/curve-keys.ts";
import { createLogger } from "./lib/util/log.ts";
import { programName } from "./lib/util/program.ts";
import { type CurveOptions, loadCurveCrypto } from "./lib/zmtp/index.ts";

const stdout = fileSink(Bun.stdout);
const stderr = fileSink(Bun.stderr);
const program = programName();

async function usageError(problems: readonly string[]): Promise<ExitCode> {
  const lines = problems.map((problem) => `Error: ${problem}\n`).join("");
  await stderr.write(`${lines}Run "${program} --help" for the options.\n`);
  return exitCodes.usage;
}

/** The command given as arguments, with SET's value from stdin (`-`) or --value-file. */
async function commandWords(config: ClientConfig): Promise<string[] | string> {
  const words = [...config.command];
  const name = words[0]?.toUpperCase();
  if (config.isVerbose && (name === "COUNT" || name === "GET")) words.push("--verbose");
  // SET's IF and TTL clauses come after the value, so an even word count past the key means
  // the value is missing (given by --value-file) and an odd one that it is there.
  const hasNoValue = words.length >= 2 && words.length % 2 === 0;
  if (config.valueFile !== null) {
    if (name !== "SET" || !hasNoValue) return "--value-file needs the command set <key>";
    try {
      const file = config.valueFile === "-" ? Bun.stdin : Bun.file(config.valueFile);
      words.splice(2, 0, await file.text());
    } catch (error) {
      return `cannot read --value-file ${config.valueFile}: ${(error as Error).message}`;
    }
  } else if (name === "SET" && words.length >= 3 && words[2] === "-") {
    words[2] = await Bun.stdin.text();
  }
  return words;
}

function historyPath(config: ClientConfig): string {
  return config.historyFile ?? process.env["WAREHOUSE_HISTORY"] ??
    join(homedir(), ".warehouse_history");
}

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

async function main(argv: readonly string[]): Promise<ExitCode> {
  if (argv[0] === "keygen") {
    const code = await runKeygen(program, argv.slice(1), await loadCurveCrypto(), {
      stdout: (text) => void stdout.write(text),
      stderr: (text) => void stderr.write(text),
    });
    return code as ExitCode;
  }
  const parsed = parseClientConfig(argv);
  if (!parsed.ok) return usageError(parsed.errors);
  if (parsed.help) {
    await stdout.write(clientUsage(program));
    return exitCodes.ok;
  }
  const config = parsed.config;
  if (config.isVersion) {
    await stdout.write(`warehouse ${warehouseVersion}\n`);
    return exitCodes.ok;
  }
  let words: string[] | null = null;
  if (config.command.length > 0) {
    const found = await commandWords(config);
    if (typeof found === "string") return usageError([found]);
    words = found;
  } else if (config.valueFile !== null) {
    return usageError(["--value-file needs the command set <key>"]);
  }
  if (config.exec !== null) {
    const script = tokenize(config.exec);
    if (!script.ok) return usageError([`--exec: ${script.error}`]);
  }
  let curve: CurveOptions | undefined;
  try {
    curve = await loadCurve(config);
  } catch (error) {
    return usageError([error instanceof Error ? error.message : String(error)]);
  }
  const isInteractive = words === null && config.exec === null && process.stdin.isTTY === true;
  // Only errors: the shell reports everything else itself, and log lines would break the prompt.
  const logger = createLogger("error", { area: "client" });
  const session = new Session({
    outputMode: config.output,
    escapeControls: config.output === "text" && process.stdout.isTTY === true,
    isInteractive,
    connect: () =>
      WarehouseClient.connect({
        endpoints: [...config.connectEndpoints],
        requestTimeoutMs: config.requestTimeoutMs,
        giveUpMs: config.giveUpMs,
        ...(curve === undefined ? {} : { curve }),
        logger,
      }),
    streams: { input: process.stdin, output: stdout, errors: stderr },
  });
  let result: LineResult;
  try {
    if (words !== null) {
      result = await runCommands(session, { words });
      // A usage problem in the command's own arguments is a usage error of the command line.
      if (session.failureCount > 0 && session.usageFailureCount > 0) return exitCodes.usage;
    } else if (config.exec !== null) {
      result = await runCommands(session, { script: config.exec });
    } else if (isInteractive) {
      result = await runInteractive(session, config);
    } else {
      result = await runPiped(session, process.stdin);
    }
  } finally {
    await session.close();
  }
  return exitCodeOf(result, session, isInteractive);
}

async function runInteractive(session: Session, config: ClientConfig): Promise<LineResult> {
  await stdout.write(`Warehouse ${warehouseVersion} (${program}). HELP lists the commands; ` +
    "Ctrl-D or EXIT leaves.\n");
  if ((await session.ensureClient()) === null) return "unreachable";
  const history = new HistoryFile(historyPath(config), undefined, (message) => {
    void stderr.write(`${message}\n`);
  });
  const loop = new TerminalLoop(session, {
    input: process.stdin,
    output: process.stdout,
    prompt: "warehouse> ",
    history,
  });
  return loop.run();
}

const exitCode = await main(Bun.argv.slice(2));
// Exit explicitly: a stdin that is still open (a terminal after Ctrl-D, a pipe after EXIT)
// would otherwise keep the process alive. Every write above has been awaited to the end.
process.exit(exitCode);
