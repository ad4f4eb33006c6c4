// The node program, run by node.ts: parse flags, serve HTTP, start, log one "node_started"
// line with every effective setting, print one JSON "ready" line on stdout, stop cleanly on
// SIGTERM/SIGINT (logging why). Exit codes: 0 stopped, 1 bad flags or refused join, 3 storage.
import {
  nodeUsage, parseNodeConfig, defaults, isLoopbackHost, warehouseVersion,
} from "./config.ts";
import { WarehouseNode } from "./cluster/node.ts";
import { opsSourceOf } from "./cluster/ops-adapter.ts";
import {
  NodeMetrics,
  OpsServer,
  checkAdvertised,
  chooseAdvertise,
  machineInterfaces,
} from "./ops/index.ts";
import type { NodeCurve } from "./cluster/curve-security.ts";
import { readKeyList, readSecretKeyFile, runKeygen } from "./curve-keys.ts";
import { KvError } from "./util/errors.ts";
import { type Logger, createLogger } from "./util/log.ts";
import { programName } from "./util/program.ts";
import { z85Encode } from "./util/z85.ts";
import { loadCurveCrypto } from "./zmtp/index.ts";
import type { NodeConfig } from "./config.ts";
import { allocatorEnv } from "./ops/allocator-env.ts";

if (Bun.argv[2] === "keygen") {
  const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);
  const code = await runKeygen(programName(), Bun.argv.slice(3), await loadCurveCrypto(), {
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

const argv = Bun.argv.slice(2);
const program = programName();
// Checked before the flags: --version alone must not be refused for a missing --id.
if (argv.includes("--version") || argv.includes("-V")) {
  console.log(`warehouse-node ${warehouseVersion}`);
  process.exit(0);
}
const parsed = parseNodeConfig(argv);
if (parsed.ok && parsed.help) {
  process.stdout.write(nodeUsage(program));
  process.exit(0);
}
if (!parsed.ok) {
  for (const error of parsed.errors) console.error(`error: ${error}`);
  console.error(`Run "${program} --help" for the options.`);
  process.exit(1);
}
const config = parsed.config;
const version = warehouseVersion;
const log = createLogger(config.logLevel, { node: config.id });
const startedAt = Date.now();

function fail(message: string, exitCode: number): never {
  log.error("node_stopped", { reason: "failed to start", error: message, exitCode });
  console.error(`error: ${message}`);
  process.exit(exitCode);
}

// A bug must not take the node down silently, nor may a stray rejection kill it.
process.on("unhandledRejection", (reason) =>
  log.error("unhandled_rejection", { reason: String(reason) }),
);

const interfaces = machineInterfaces();
const choice = chooseAdvertise(config.host, config.advertise, interfaces);
if (!choice.ok) fail(choice.error, 1);
const advertise = choice.advertise;
const notLocal = await checkAdvertised(advertise, interfaces);
if (notLocal !== null) fail(notLocal, 1);

const metrics = new NodeMetrics(version);
metrics.event("started", `node ${config.id} started`);
let ops: OpsServer | null = null;
let node: WarehouseNode;
try {
  if (config.httpPort !== null) {
    ops = OpsServer.start({ host: config.host, port: config.httpPort, advertise, metrics, log });
  }
  const curve = await loadCurve(config, log);
  node = await WarehouseNode.start(
    {
      ...(curve === undefined ? {} : { curve }),
      id: config.id,
      host: config.host,
      advertise,
      http: ops?.url ?? null,
      recorder: metrics,
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
      clientLimits: {
        connectionsMax: config.connectionsMax,
        bufferBytesMax: config.clientBufferBytesMax,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
      },
    },
    log,
  );
} catch (error) {
  await ops?.stop();
  const message = error instanceof Error ? error.message : String(error);
  fail(message, error instanceof KvError && error.code === "STORAGE" ? 3 : 1);
}
ops?.attach(opsSourceOf(node, version));

node.onFatal = () => {
  // The log line says why; a node that cannot write must not lead or acknowledge (exit 3).
  log.error("node_stopped", { reason: "storage failure", exitCode: 3 });
  process.exit(3);
};

log.info("node_started", {
  version,
  id: config.id,
  endpoint: node.endpoint,
  pub: node.pub,
  peer: node.peer,
  http: ops?.url ?? null,
  dataDir: config.dataDir,
  rf: node.opsView().state.rf,
  partitions: node.opsView().state.partitions,
  settings: { ...config, advertise },
  // Whether the allocator setting is in force (null: the re-exec was refused or not tried).
  allocator: { [allocatorEnv.name]: process.env[allocatorEnv.name] ?? null },
});
if (config.curveSecretKeyFile === null && !isLoopbackHost(config.host)) {
  log.warn("insecure", {
    message: `--insecure: ${config.host} is reachable from other machines without encryption ` +
      "or authentication; anyone who reaches its ports can read, write and join",
  });
}
console.log(
  JSON.stringify({
    event: "ready",
    id: config.id,
    endpoint: node.endpoint,
    pub: node.pub,
    peer: node.peer,
    http: ops?.url ?? null,
  }),
);

let isStopping = false;
async function stop(signal: string): Promise<void> {
  if (isStopping) return;
  isStopping = true;
  log.info("node_stopping", { reason: `received ${signal}` });
  await ops?.stop();
  await node.stop();
  log.info("node_stopped", {
    reason: `received ${signal}`, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  });
  process.exit(0);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
