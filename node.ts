// Entry point of a Warehouse node: parse flags, start, print one JSON "ready" line on stdout,
// stop cleanly on SIGTERM/SIGINT. Exit codes: 0 stopped, 1 bad flags or refused join, 3 storage.
import { nodeUsage, parseNodeConfig, defaults, type NodeConfig } from "./lib/config.ts";
import type { NodeCurve } from "./lib/cluster/curve-security.ts";
import { WarehouseNode } from "./lib/cluster/node.ts";
import { readKeyList, readSecretKeyFile, runKeygen } from "./lib/curve-keys.ts";
import { KvError } from "./lib/util/errors.ts";
import { type Logger, createLogger } from "./lib/util/log.ts";
import { z85Encode } from "./lib/util/z85.ts";
import { loadCurveCrypto } from "./lib/zmtp/index.ts";

if (Bun.argv[2] === "keygen") {
  const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);
  const code = await runKeygen("node.ts", Bun.argv.slice(3), await loadCurveCrypto(), {
    stdout: write(process.stdout),
    stderr: write(process.stderr),
  });
  process.exit(code);
}

/**
 * The cluster key and the client allow-list from their files. The list is read again on
 * SIGHUP; a list that fails to load then leaves the previous one in force.
 */
async function loadCurve(config: NodeConfig, log: Logger): Promise<NodeCurve | undefined> {
  const keyFile = config.curveSecretKeyFile;
  if (keyFile === null) return undefined;
  const crypto = await loadCurveCrypto();
  const pair = await readSecretKeyFile(keyFile, crypto, "--curve-secret-key-file");
  const listFile = config.clientKeysFile;
  let clientKeys = listFile === null ? null : await readKeyList(listFile, "--client-keys");
  if (listFile !== null) {
    process.on("SIGHUP", () => {
      readKeyList(listFile, "--client-keys").then(
        (keys) => {
          clientKeys = keys;
          log.info("client_keys_reloaded", { count: keys.size });
        },
        (error: unknown) => log.error("client_keys_reload_failed", { error: String(error) }),
      );
    });
  }
  log.info("curve", {
    backend: crypto.name,
    publicKey: z85Encode(pair.publicKey),
    clientKeys: clientKeys === null ? "any" : clientKeys.size,
  });
  return { crypto, ...pair, clientKeys: () => clientKeys };
}

const parsed = parseNodeConfig(Bun.argv.slice(2));
if (parsed.ok && parsed.help) {
  console.log(nodeUsage);
  process.exit(0);
}
if (!parsed.ok) {
  for (const error of parsed.errors) console.error(`error: ${error}`);
  console.error("Run with --help for usage.");
  process.exit(1);
}
const config = parsed.config;
const log = createLogger(config.logLevel, { node: config.id });

// A bug must not take the node down silently, nor may a stray rejection kill it.
process.on("unhandledRejection", (reason) =>
  log.error("unhandled_rejection", { reason: String(reason) }),
);

let node: WarehouseNode;
try {
  const curve = await loadCurve(config, log);
  node = await WarehouseNode.start(
    {
      id: config.id,
      host: config.host,
      port: config.port,
      pubPort: config.pubPort,
      rf: config.rf ?? undefined,
      join: [...config.joinEndpoints],
      dataDir: config.dataDir,
      partitions: config.partitions ?? defaults.node.partitions,
      heartbeatMs: config.heartbeatIntervalMs,
      suspectMs: config.suspectTimeoutMs,
      valueBytesMax: config.valueBytesMax,
      minInsync: config.minInsync,
      requestTimeoutMs: config.requestTimeoutMs,
      ...(curve === undefined ? {} : { curve }),
    },
    log,
  );
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`error: ${message}`);
  process.exit(error instanceof KvError && error.code === "STORAGE" ? 3 : 1);
}

console.log(
  JSON.stringify({ event: "ready", id: config.id, endpoint: node.endpoint, pub: node.pub }),
);

let isStopping = false;
async function stop(): Promise<void> {
  if (isStopping) return;
  isStopping = true;
  await node.stop();
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
