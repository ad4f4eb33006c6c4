// Entry point of a Warehouse node: parse flags, start, print one JSON "ready" line on stdout,
// stop cleanly on SIGTERM/SIGINT. Exit codes: 0 stopped, 1 bad flags or refused join, 3 storage.
import { nodeUsage, parseNodeConfig, defaults } from "./lib/config.ts";
import { WarehouseNode } from "./lib/cluster/node.ts";
import { KvError } from "./lib/util/errors.ts";
import { createLogger } from "./lib/util/log.ts";

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
  node = await WarehouseNode.start(
    {
      id: config.id,
      host: config.host,
      port: config.port,
      pubPort: config.pubPort,
      peerPort: config.peerPort,
      electionTimeoutMs: config.electionTimeoutMs,
      rf: config.rf ?? undefined,
      join: [...config.joinEndpoints],
      dataDir: config.dataDir,
      partitions: config.partitions ?? defaults.node.partitions,
      heartbeatMs: config.heartbeatIntervalMs,
      suspectMs: config.suspectTimeoutMs,
      valueBytesMax: config.valueBytesMax,
      minInsync: config.minInsync,
      requestTimeoutMs: config.requestTimeoutMs,
    },
    log,
  );
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`error: ${message}`);
  process.exit(error instanceof KvError && error.code === "STORAGE" ? 3 : 1);
}

node.onFatal = () => {
  // The log line says why; a node that cannot write must not lead or acknowledge (exit 3).
  process.exit(3);
};

console.log(
  JSON.stringify({
    event: "ready",
    id: config.id,
    endpoint: node.endpoint,
    pub: node.pub,
    peer: node.peer,
  }),
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
