// Command-line flags of node.ts and client.ts: the defaults table, parsing, validation and --help
// text. Produces frozen NodeConfig / ClientConfig objects and reports every problem in one pass
// (after etcd's Config.validate). Pure: it reads only the argv it is given, never process.env,
// the file system or the clock; the entry files pass Bun.argv.slice(2) in.
import { parseArgs } from "node:util";
import { formatTcpEndpoint, isValidHost, parsePort, parseTcpEndpoint } from "./util/endpoint.ts";
import type { LogLevel } from "./util/log.ts";

// ---------------------------------------------------------------------------------------------
// Defaults and bounds

// State changes (start, stop, leader, members) by default; per-partition detail is debug.
const defaultLogLevel: LogLevel = "info";

/** Every default, in one table. */
export const defaults = Object.freeze({
  node: Object.freeze({
    host: "127.0.0.1",
    port: 7001,
    /** Used when a bootstrapping node gets no --rf; a joining node takes the cluster's. */
    rf: 2,
    /** Used when a bootstrapping node gets no --partitions; a joining node takes the cluster's. */
    partitions: 64,
    /** Data directory is `<dataRoot>/<id>`. */
    dataRoot: "./data",
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 200,
    /** Without --suspect-ms, a member is suspected after this many missed heartbeats. */
    suspectHeartbeats: 5,
    valueBytesMax: 1_048_576,
    minInsync: 1,
    requestTimeoutMs: 1000,
    logLevel: defaultLogLevel,
    /** Client limits (lib/cluster/client-limits.ts; README, Security). */
    connectionsMax: 4096,
    clientBufferBytesMax: 128 * 1024 * 1024,
    handshakeTimeoutMs: 10_000,
    idleTimeoutMs: 300_000,
  }),
  client: Object.freeze({
    connect: "tcp://127.0.0.1:7001",
    requestTimeoutMs: 1000,
    giveUpMs: 5000,
  }),
});

/** The accepted range of every numeric flag. */
/**
 * The publish port defaults to the request port + 100 (7001 publishes on 7101), so that nodes
 * on consecutive ports (7001, 7002, 7003) do not collide.
 */
export const pubPortOffset = 100;
/** The peer port (members only: Raft and replication) defaults to the request port + 300. */
export const peerPortOffset = 300;

/** The HTTP port defaults to the request port + 200 (7001 serves HTTP on 7201). */
export const httpPortOffset = 200;

export const bounds = Object.freeze({
  idMax: 2_147_483_647,
  rfMax: 64,
  partitionsMax: 4096,
  heartbeatIntervalMsMin: 10,
  heartbeatIntervalMsMax: 60_000,
  suspectTimeoutMsMax: 600_000,
  electionTimeoutMsMin: 40,
  electionTimeoutMsMax: 60_000,
  // A value's JSON form can take 6 bytes per byte ("\u0000"), and 6 * 8 MiB = 48 MiB still fits
  // the 64 MiB ZMTP message limit (socketDefaults.maxMessageBytes) with room for the envelope.
  valueBytesMax: 8 * 1024 * 1024,
  requestTimeoutMsMax: 600_000,
  connectionsMax: 1_000_000,
  // Enough for one reply of the largest value (6 x 8 MiB) with room to spare.
  clientBufferBytesMin: 64 * 1024 * 1024,
  clientBufferBytesMax: 2 ** 40,
  // CURVE servers must drop a handshake's cookie key within 60 s (RFC 26).
  handshakeTimeoutMsMax: 60_000,
  idleTimeoutMsMax: 86_400_000,
  giveUpMsMax: 3_600_000,
});

const logLevels: readonly LogLevel[] = ["debug", "info", "warn", "error"];

// ---------------------------------------------------------------------------------------------
// Config types

export interface NodeConfig {
  /** This node's id: a positive integer, unique and never reused in the cluster. */
  readonly id: number;
  /** Address to bind (0.0.0.0 or :: for every interface). */
  readonly host: string;
  /** Address other nodes and clients dial, or null to derive it from host when the node
   * starts (host itself, or the first non-loopback address when host is a wildcard). */
  readonly advertise: string | null;
  /** Request (ROUTER) port; 0 = any free port, reported in the ready line. */
  readonly port: number;
  /** Publish (PUB) port for heartbeats; 0 = any free port. */
  readonly pubPort: number;
  /** Peer (ROUTER) port for member-to-member traffic; 0 = any free port. */
  readonly peerPort: number;
  /** HTTP port (/health, /ready, /metrics, /status, the status page); 0 = any free port;
   * null = no HTTP server. */
  readonly httpPort: number | null;
  /** Replication factor asked for on the command line, or null when not given: a bootstrapping
   * node then uses defaults.node.rf, a joining node takes the cluster's. A joining node that
   * gives a different rf from the cluster's is refused. */
  readonly rf: number | null;
  /** Partition count asked for, or null when not given (same rules as rf). */
  readonly partitions: number | null;
  /** Members to join through; empty means bootstrap (unless the data directory has a cluster). */
  readonly joinEndpoints: readonly string[];
  readonly dataDir: string;
  readonly heartbeatIntervalMs: number;
  /** A member silent this long is suspected dead. Always more than 2 heartbeat intervals. */
  readonly suspectTimeoutMs: number;
  /** The shortest Raft election timeout; the Raft tick is an eighth of it. */
  readonly electionTimeoutMs: number;
  /** Largest value accepted, in UTF-8 bytes. */
  readonly valueBytesMax: number;
  /** Acknowledgements a write needs, the leader's own included. */
  readonly minInsync: number;
  /** How long the leader waits for a replica's acknowledgement. */
  readonly requestTimeoutMs: number;
  /** Client connections open at once on the request port. */
  readonly connectionsMax: number;
  /** Bytes of client requests in flight and unsent replies, all clients together. */
  readonly clientBufferBytesMax: number;
  /** A connection must complete its ZMTP handshake within this. */
  readonly handshakeTimeoutMs: number;
  /** A client connection that sends nothing this long is closed; 0 never. */
  readonly idleTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** The cluster's CURVE secret key (Z85 file); null serves without encryption (NULL). */
  readonly curveSecretKeyFile: string | null;
  /** --insecure: a --host reachable from other machines is allowed without CURVE keys. */
  readonly isInsecure: boolean;
  /** Allow-list of client public keys (Z85, one per line); null admits any CURVE client. */
  readonly clientKeysFile: string | null;
}

/** text: for a person; json: raw replies as JSON lines; raw: values exactly as stored. */
export type ClientOutput = "text" | "json" | "raw";
const clientOutputs: readonly ClientOutput[] = ["text", "json", "raw"];

export interface ClientConfig {
  /** Seed endpoints, in the order given. */
  readonly connectEndpoints: readonly string[];
  /** Commands to run instead of the interactive REPL, separated by ";" (raw text, not split). */
  readonly exec: string | null;
  /** A command given as arguments (`get <key>`), or empty: none. */
  readonly command: readonly string[];
  readonly output: ClientOutput;
  /** SET's value from this file instead of an argument. */
  readonly valueFile: string | null;
  /** COUNT per partition. */
  readonly isVerbose: boolean;
  /** History file of the interactive REPL; null: the default (see client.ts). */
  readonly historyFile: string | null;
  readonly isVersion: boolean;
  /** Deadline of one request attempt. */
  readonly requestTimeoutMs: number;
  /** Total time spent retrying one command before giving up. */
  readonly giveUpMs: number;
  /** The cluster's CURVE public key, as Z85 text or a file path; null speaks NULL. */
  readonly serverKey: string | null;
  /** This client's CURVE secret key file; null uses a fresh key pair per run. */
  readonly curveKeyFile: string | null;
}

/** Result of parsing flags: a config, a request for --help (which wins over any error), or every
 * problem found, each a sentence for a person. */
export type ConfigResult<T> =
  | { readonly ok: true; readonly help: false; readonly config: T }
  | { readonly ok: true; readonly help: true }
  | { readonly ok: false; readonly help: false; readonly errors: readonly string[] };

// ---------------------------------------------------------------------------------------------
// Flag tables (also the source of the --help text)

interface FlagSpec {
  readonly name: string;
  readonly short?: string;
  readonly kind: "string" | "boolean";
  /** May be given more than once (values are concatenated). */
  readonly isRepeatable?: boolean;
  readonly valueName?: string;
  readonly description: string;
}

const helpFlag: FlagSpec = {
  name: "help", short: "h", kind: "boolean", description: "show this help",
};

const nodeFlags: readonly FlagSpec[] = [
  { name: "id", kind: "string", valueName: "n",
    description: "this node's id: a positive integer, unique in the cluster, never reused " +
      "(required)" },
  { name: "host", kind: "string", valueName: "host",
    description: `address to bind; 0.0.0.0 or :: binds every interface ` +
      `(default ${defaults.node.host})` },
  { name: "advertise", kind: "string", valueName: "host",
    description: "address other nodes and clients dial; must be one of this machine's " +
      "(default --host, or the first non-loopback address when --host is 0.0.0.0 or ::)" },
  { name: "port", kind: "string", valueName: "port",
    description: `request port; 0 picks a free port (default ${defaults.node.port})` },
  { name: "pub-port", kind: "string", valueName: "port",
    description: `heartbeat publish port (default --port + ${pubPortOffset}, ` +
      "or 0 when --port is 0)" },
  { name: "peer-port", kind: "string", valueName: "port",
    description: `port for traffic between members only (Raft, replication); firewall it ` +
      `from clients (default --port + ${peerPortOffset}, or 0 when --port is 0)` },
  { name: "http-port", kind: "string", valueName: "port|off",
    description: "HTTP port for /health, /ready, /metrics, /status and the status page; " +
      `off serves none (default --port + ${httpPortOffset}, or 0 when --port is 0)` },
  { name: "rf", kind: "string", valueName: "n",
    description: `replication factor, fixed when the cluster is created (default ` +
      `${defaults.node.rf} on bootstrap; a joining node takes the cluster's)` },
  { name: "partitions", kind: "string", valueName: "n",
    description: `partition count 1..${bounds.partitionsMax}, fixed when the cluster is ` +
      `created (default ${defaults.node.partitions} on bootstrap)` },
  { name: "join", kind: "string", isRepeatable: true, valueName: "endpoints",
    description: "join the cluster through these members: comma-separated tcp://host:port " +
      "(default: bootstrap a new cluster)" },
  { name: "data", kind: "string", valueName: "dir",
    description: `data directory (default ${defaults.node.dataRoot}/<id>)` },
  { name: "heartbeat-ms", kind: "string", valueName: "ms",
    description: `heartbeat interval (default ${defaults.node.heartbeatIntervalMs})` },
  { name: "suspect-ms", kind: "string", valueName: "ms",
    description: "a member silent this long is suspected dead; more than 2 heartbeats " +
      `(default ${defaults.node.suspectHeartbeats} x --heartbeat-ms)` },
  { name: "election-timeout-ms", kind: "string", valueName: "ms",
    description: "a follower that hears no leader this long starts an election; failover " +
      `takes about this plus 25% (default ${defaults.node.electionTimeoutMs})` },
  { name: "max-value", kind: "string", valueName: "bytes",
    description: `largest value in UTF-8 bytes, at most ${bounds.valueBytesMax} ` +
      `(default ${defaults.node.valueBytesMax})` },
  { name: "min-insync", kind: "string", valueName: "n",
    description: "acknowledgements a write needs, at most rf " +
      `(default ${defaults.node.minInsync})` },
  { name: "request-timeout-ms", kind: "string", valueName: "ms",
    description: `how long to wait for a replica's acknowledgement ` +
      `(default ${defaults.node.requestTimeoutMs})` },
  { name: "max-connections", kind: "string", valueName: "n",
    description: "connections open at once on each port, handshaking or not; more are closed " +
      `on arrival; keep it under the open-file limit (default ${defaults.node.connectionsMax})` },
  { name: "max-client-buffer", kind: "string", valueName: "bytes",
    description: "bytes of client requests in flight and replies not yet sent, all clients " +
      `together; when full the node stops reading requests (default ` +
      `${defaults.node.clientBufferBytesMax})` },
  { name: "handshake-timeout-ms", kind: "string", valueName: "ms",
    description: "a connection must finish its ZMTP handshake within this, at most " +
      `${bounds.handshakeTimeoutMsMax} (default ${defaults.node.handshakeTimeoutMs})` },
  { name: "idle-timeout-ms", kind: "string", valueName: "ms",
    description: "close a client connection that sends nothing for this long; 0 never " +
      `(default ${defaults.node.idleTimeoutMs})` },
  { name: "log-level", kind: "string", valueName: "level",
    description: `debug, info, warn or error (default ${defaults.node.logLevel}); ` +
      "logs are JSON lines on stderr" },
  { name: "curve-secret-key-file", kind: "string", valueName: "file",
    description: "serve and peer with CURVE encryption using this secret key (Z85, from " +
      "keygen); every member uses the same key (default: no encryption)" },
  { name: "client-keys", kind: "string", valueName: "file",
    description: "admit only clients whose public key is listed (Z85, one per line), " +
      "re-read on SIGHUP; needs --curve-secret-key-file (default: any CURVE client)" },
  { name: "insecure", kind: "boolean",
    description: "allow a --host other machines can reach without CURVE keys: anyone who " +
      "reaches a port can then read, write and join (default: refused)" },
  { name: "version", short: "V", kind: "boolean", description: "print the version" },
  helpFlag,
];

const clientFlags: readonly FlagSpec[] = [
  { name: "connect", kind: "string", isRepeatable: true, valueName: "endpoints",
    description: `nodes to contact: comma-separated tcp://host:port ` +
      `(default ${defaults.client.connect})` },
  { name: "exec", kind: "string", valueName: "commands",
    description: "run these commands, separated by ';', then exit (default: interactive REPL)" },
  { name: "output", short: "o", kind: "string", valueName: "mode",
    description: "text (for people; the default), json (each reply as a JSON line) or raw " +
      "(values exactly as stored, nothing for a missing key)" },
  { name: "json", kind: "boolean", description: "the same as --output json" },
  { name: "raw", kind: "boolean", description: "the same as --output raw" },
  { name: "value-file", kind: "string", valueName: "file",
    description: "SET reads its value from this file (- reads stdin, as does the value -)" },
  {
    name: "verbose",
    kind: "boolean",
    description: "COUNT shows every partition's count; GET the version",
  },
  { name: "history-file", kind: "string", valueName: "file",
    description: "REPL history (default $WAREHOUSE_HISTORY, else ~/.warehouse_history)" },
  { name: "timeout-ms", kind: "string", valueName: "ms",
    description: `deadline of one request attempt (default ${defaults.client.requestTimeoutMs})` },
  { name: "give-up-ms", kind: "string", valueName: "ms",
    description: `stop retrying a command after this long (default ${defaults.client.giveUpMs})` },
  { name: "version", short: "V", kind: "boolean", description: "print the version" },
  { name: "server-key", kind: "string", valueName: "z85|file",
    description: "the cluster's CURVE public key, as Z85 text or a .pub file: talk to the " +
      "nodes with CURVE encryption (default: no encryption)" },
  { name: "curve-key-file", kind: "string", valueName: "file",
    description: "this client's CURVE secret key (Z85, from keygen), for clusters that admit " +
      "listed clients only; needs --server-key (default: a fresh key pair)" },
  helpFlag,
];

const keygenFlags: readonly FlagSpec[] = [
  { name: "out", kind: "string", valueName: "path",
    description: "write the secret key to <path>.key and the public key to <path>.pub, both " +
      "mode 0600, never over an existing file (default: print both)" },
  helpFlag,
];

// ---------------------------------------------------------------------------------------------
// Scanning argv

/** String flags hold their values (several when repeatable); boolean flags hold true. */
type FlagValues = ReadonlyMap<string, readonly string[] | true>;

interface ScanResult {
  readonly values: FlagValues;
  /** Names of the known flags that appear at all, valid or not. */
  readonly mentioned: ReadonlySet<string>;
  readonly errors: readonly string[];
  readonly isHelp: boolean;
}

interface ScanState {
  readonly values: Map<string, string[] | true>;
  readonly mentioned: Set<string>;
  readonly errors: string[];
  /** Where arguments that are not flags go; null: they are errors. */
  readonly positionals: string[] | null;
}

function parseArgsTokens(argv: readonly string[], specs: readonly FlagSpec[]) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const spec of specs) {
    options[spec.name] =
      spec.short === undefined ? { type: spec.kind } : { type: spec.kind, short: spec.short };
  }
  // Not strict, so that every problem can be reported at once rather than only the first;
  // the checks strict mode would make are done below on the tokens.
  const config = {
    args: [...argv], options, strict: false, allowPositionals: true, tokens: true,
  } as const;
  return parseArgs(config).tokens;
}

// A value taken from the next argument that is really another flag ("--port --json").
function looksLikeFlag(value: string): boolean {
  return value.startsWith("--") || /^-[a-zA-Z]/.test(value);
}

function scanFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  positionals: string[] | null = null,
): ScanResult {
  const state: ScanState = { values: new Map(), mentioned: new Set(), errors: [], positionals };
  scanInto(argv, specs, state);
  return { ...state, isHelp: state.values.get("help") === true };
}

// Records flags and problems into `state`. Recursion (bounded by argv's length) resumes the scan
// after a flag that swallowed the next flag as its value.
function scanInto(argv: readonly string[], specs: readonly FlagSpec[], state: ScanState): void {
  const { values, mentioned, errors, positionals } = state;
  let tokens: ReturnType<typeof parseArgsTokens>;
  try {
    tokens = parseArgsTokens(argv, specs);
  } catch (error) {
    errors.push(error instanceof Error ? error.message : String(error));
    return;
  }
  // An unknown flag cannot say whether it takes a value, so the argument right after it is
  // taken as its value rather than reported a second time as a stray argument.
  let unknownFlagIndex = -2;
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      if (token.index === unknownFlagIndex + 1) continue;
      if (positionals !== null) {
        positionals.push(token.value);
        continue;
      }
      errors.push(`unexpected argument ${JSON.stringify(token.value)} (flags start with --)`);
      continue;
    }
    const spec = specs.find((candidate) => candidate.name === token.name);
    if (spec === undefined) {
      errors.push(`unknown flag ${token.rawName}`);
      if (token.value === undefined) unknownFlagIndex = token.index;
      continue;
    }
    mentioned.add(spec.name);
    const flag = `--${spec.name}`;
    if (spec.kind === "boolean") {
      if (token.value !== undefined) errors.push(`${flag} takes no value`);
      else values.set(spec.name, true);
      continue;
    }
    if (token.value === undefined) {
      errors.push(`${flag} needs a value: ${flag} <${spec.valueName ?? "value"}>`);
      continue;
    }
    if (!token.inlineValue && looksLikeFlag(token.value)) {
      errors.push(`${flag} needs a value: ${flag} <${spec.valueName ?? "value"}>`);
      scanInto(argv.slice(token.index + 1), specs, state);
      return;
    }
    const previous = values.get(spec.name);
    if (previous !== undefined && spec.isRepeatable !== true) {
      errors.push(`${flag} is given more than once`);
      continue;
    }
    const earlier = previous === true || previous === undefined ? [] : previous;
    values.set(spec.name, [...earlier, token.value]);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading values (each reader records its own problem and returns undefined on failure)

class Reader {
  readonly errors: string[] = [];
  constructor(private readonly values: FlagValues) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  flag(name: string): boolean {
    return this.values.get(name) === true;
  }

  /** The single value of a string flag, or undefined when absent. */
  text(name: string): string | undefined {
    const value = this.values.get(name);
    return value === undefined || value === true ? undefined : value[0];
  }

  /** All values of a repeatable flag, each split on commas. */
  list(name: string): string[] | undefined {
    const value = this.values.get(name);
    if (value === undefined || value === true) return undefined;
    return value.flatMap((item) => item.split(",")).map((item) => item.trim());
  }

  integer(name: string, min: number, max: number): number | undefined {
    const text = this.text(name);
    if (text === undefined) return undefined;
    const value = /^[0-9]{1,16}$/.test(text) ? Number.parseInt(text, 10) : Number.NaN;
    if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
    this.errors.push(
      `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
    return undefined;
  }

  port(name: string): number | undefined {
    const text = this.text(name);
    if (text === undefined) return undefined;
    const port = parsePort(text);
    if (port === null) {
      this.errors.push(`--${name} must be a port from 0 to 65535, got ${JSON.stringify(text)}`);
      return undefined;
    }
    return port;
  }

  endpoints(name: string): string[] | undefined {
    const items = this.list(name);
    if (items === undefined) return undefined;
    const endpoints: string[] = [];
    for (const item of items) {
      if (item === "") {
        this.errors.push(`--${name} has an empty entry; separate endpoints with single commas`);
        continue;
      }
      const endpoint = parseTcpEndpoint(item);
      if (endpoint === null) {
        this.errors.push(
          `--${name}: ${JSON.stringify(item)} is not an endpoint like tcp://127.0.0.1:7001`,
        );
        continue;
      }
      const canonical = formatTcpEndpoint(endpoint.host, endpoint.port);
      if (!endpoints.includes(canonical)) endpoints.push(canonical);
    }
    return endpoints;
  }
}

// ---------------------------------------------------------------------------------------------
// Node

// Every reader that returns undefined records an error, so this is never shown; it stands in for
// an assertion so that a gap in validation still yields a message rather than a stack trace.
const unrecordedProblem = "internal error: a flag is invalid but no problem was recorded";

interface NodeAddresses {
  host: string;
  port: number;
  pubPort?: number;
  peerPort?: number;
}

function readNodeAddresses(reader: Reader): NodeAddresses {
  const host = reader.text("host") ?? defaults.node.host;
  if (!isValidHost(host)) {
    reader.errors.push(`--host must be a host name or IP address, got ${JSON.stringify(host)}`);
  }
  const advertise = reader.text("advertise");
  if (advertise !== undefined && (!isValidHost(advertise) || isWildcardHost(advertise))) {
    reader.errors.push("--advertise must be a host name or IP address others can dial, got " +
      JSON.stringify(advertise));
  }
  const port = reader.has("port") ? reader.port("port") : defaults.node.port;
  if (port === undefined) return { host, port: 0 };
  const pubPort = readDerivedPort(reader, "pub-port", port, pubPortOffset);
  const peerPort = readDerivedPort(reader, "peer-port", port, peerPortOffset);
  if (pubPort !== undefined && peerPort !== undefined && pubPort !== 0 && pubPort === peerPort) {
    reader.errors.push(`--peer-port must differ from --pub-port (both are ${pubPort})`);
  }
  return { host, port, pubPort, peerPort };
}

/** A port given by its flag, or --port + offset (0 when --port is 0). */
function readDerivedPort(
  reader: Reader,
  name: string,
  port: number,
  offset: number,
): number | undefined {
  const given = reader.port(name);
  if (given !== undefined) {
    if (given !== 0 && given === port) {
      reader.errors.push(`--${name} must differ from --port (both are ${port})`);
    }
    return given;
  }
  if (reader.has(name)) return undefined;
  if (port === 0) return 0;
  if (port + offset > 65535) {
    reader.errors.push(`--${name} defaults to --port + ${offset} = ${port + offset}, ` +
      `which is not a port; give --${name}`);
    return undefined;
  }
  return port + offset;
}

/** True for the addresses that bind every interface and that nobody can dial. */
export function isWildcardHost(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "0:0:0:0:0:0:0:0";
}

// Same rules as the publish port: an offset from --port unless given, 0 follows --port 0.
function readHttpPort(reader: Reader, port: number, pubPort: number | undefined): number | null {
  const text = reader.text("http-port");
  if (text === "off") return null;
  if (text !== undefined) {
    const given = reader.port("http-port");
    if (given !== undefined && given !== 0 && (given === port || given === pubPort)) {
      reader.errors.push(`--http-port must differ from --port and --pub-port (${given})`);
    }
    return given ?? 0;
  }
  if (port === 0) return 0;
  const httpPort = port + httpPortOffset;
  if (httpPort > 65535) {
    reader.errors.push(`--http-port defaults to --port + ${httpPortOffset} = ${httpPort}, ` +
      "which is not a port; give --http-port (or --http-port off)");
  } else if (httpPort === pubPort) {
    reader.errors.push(`--http-port defaults to --port + ${httpPortOffset} = ${httpPort}, ` +
      "which is --pub-port; give another --http-port");
  }
  return httpPort;
}

function readNodeTimings(
  reader: Reader,
): { heartbeatIntervalMs?: number; suspectTimeoutMs?: number } {
  const heartbeatIntervalMs = reader.has("heartbeat-ms")
    ? reader.integer("heartbeat-ms", bounds.heartbeatIntervalMsMin, bounds.heartbeatIntervalMsMax)
    : defaults.node.heartbeatIntervalMs;
  const suspectTimeoutMs = reader.integer("suspect-ms", 1, bounds.suspectTimeoutMsMax);
  if (heartbeatIntervalMs === undefined) return {};
  if (!reader.has("suspect-ms")) {
    return {
      heartbeatIntervalMs,
      suspectTimeoutMs: heartbeatIntervalMs * defaults.node.suspectHeartbeats,
    };
  }
  if (suspectTimeoutMs === undefined) return { heartbeatIntervalMs };
  // Fewer than two missed heartbeats would suspect members for ordinary jitter.
  if (suspectTimeoutMs <= 2 * heartbeatIntervalMs) {
    reader.errors.push(`--suspect-ms (${suspectTimeoutMs}) must be more than 2 x --heartbeat-ms ` +
      `(${2 * heartbeatIntervalMs})`);
    return { heartbeatIntervalMs };
  }
  return { heartbeatIntervalMs, suspectTimeoutMs };
}

function readLogLevel(reader: Reader): LogLevel | undefined {
  const text = reader.text("log-level");
  if (text === undefined) return defaults.node.logLevel;
  const level = logLevels.find((candidate) => candidate === text);
  if (level === undefined) {
    reader.errors.push(`--log-level must be one of ${logLevels.join(", ")}, got ` +
      JSON.stringify(text));
  }
  return level;
}

function readReplication(reader: Reader): { rf?: number | null; minInsync?: number } {
  const rf = reader.has("rf") ? reader.integer("rf", 1, bounds.rfMax) : null;
  const minInsync = reader.has("min-insync")
    ? reader.integer("min-insync", 1, bounds.rfMax)
    : defaults.node.minInsync;
  if (rf === undefined || minInsync === undefined) return { rf, minInsync };
  // Without --rf the cluster's rf is unknown here; the node checks min-insync when it learns it.
  if (rf !== null && minInsync > rf) {
    reader.errors.push(`--min-insync (${minInsync}) cannot be more than --rf (${rf})`);
    return { rf };
  }
  return { rf, minInsync };
}

function readDataDir(reader: Reader, id: number | undefined): string | undefined {
  const text = reader.text("data");
  if (text === undefined) return id === undefined ? undefined : `${defaults.node.dataRoot}/${id}`;
  if (text.trim() === "" || text.includes("\u0000")) {
    reader.errors.push(`--data must be a directory path, got ${JSON.stringify(text)}`);
    return undefined;
  }
  return text;
}

type ClientLimitFlags = Pick<
  NodeConfig,
  "connectionsMax" | "clientBufferBytesMax" | "handshakeTimeoutMs" | "idleTimeoutMs"
>;

/** The client limit flags; undefined when one is invalid (the reader then holds why). */
function readClientLimits(reader: Reader): ClientLimitFlags | undefined {
  const d = defaults.node;
  const read = (name: string, min: number, max: number, fallback: number) =>
    reader.has(name) ? reader.integer(name, min, max) : fallback;
  const connectionsMax = read("max-connections", 1, bounds.connectionsMax, d.connectionsMax);
  const clientBufferBytesMax = read("max-client-buffer", bounds.clientBufferBytesMin,
    bounds.clientBufferBytesMax, d.clientBufferBytesMax);
  const handshakeTimeoutMs = read("handshake-timeout-ms", 1, bounds.handshakeTimeoutMsMax,
    d.handshakeTimeoutMs);
  const idleTimeoutMs = read("idle-timeout-ms", 0, bounds.idleTimeoutMsMax, d.idleTimeoutMs);
  if (connectionsMax === undefined || clientBufferBytesMax === undefined ||
    handshakeTimeoutMs === undefined || idleTimeoutMs === undefined) return undefined;
  return { connectionsMax, clientBufferBytesMax, handshakeTimeoutMs, idleTimeoutMs };
}

/** Parses node.ts flags (argv without the runtime and script). */
export function parseNodeConfig(argv: readonly string[]): ConfigResult<NodeConfig> {
  const scan = scanFlags(argv, nodeFlags);
  if (scan.isHelp) return { ok: true, help: true };
  const reader = new Reader(scan.values);
  reader.errors.push(...scan.errors);
  const id = reader.integer("id", 1, bounds.idMax);
  if (!scan.mentioned.has("id")) {
    reader.errors.push("--id is required: a positive integer, e.g. --id 1");
  }
  const addresses = readNodeAddresses(reader);
  const httpPort = readHttpPort(reader, addresses.port, addresses.pubPort);
  const { rf, minInsync } = readReplication(reader);
  const partitions = reader.has("partitions")
    ? reader.integer("partitions", 1, bounds.partitionsMax)
    : null;
  const joinEndpoints = reader.endpoints("join") ?? [];
  const dataDir = readDataDir(reader, id);
  const { heartbeatIntervalMs, suspectTimeoutMs } = readNodeTimings(reader);
  const valueBytesMax = reader.has("max-value")
    ? reader.integer("max-value", 1, bounds.valueBytesMax)
    : defaults.node.valueBytesMax;
  const requestTimeoutMs = reader.has("request-timeout-ms")
    ? reader.integer("request-timeout-ms", 1, bounds.requestTimeoutMsMax)
    : defaults.node.requestTimeoutMs;
  const electionTimeoutMs = reader.has("election-timeout-ms")
    ? reader.integer("election-timeout-ms", bounds.electionTimeoutMsMin, bounds.electionTimeoutMsMax)
    : defaults.node.electionTimeoutMs;
  const clientLimits = readClientLimits(reader);
  const logLevel = readLogLevel(reader);
  const curveSecretKeyFile = readPath(reader, "curve-secret-key-file");
  const clientKeysFile = readPath(reader, "client-keys");
  if (clientKeysFile !== null && curveSecretKeyFile === null) {
    reader.errors.push("--client-keys needs --curve-secret-key-file: without CURVE, clients " +
      "have no key to check");
  }
  const isInsecure = reader.flag("insecure");
  // Checked last: a --host that is itself wrong is reported as such, not as insecure.
  const isExposed = reader.errors.length === 0 && !isLoopbackHost(addresses.host);
  if (isExposed && curveSecretKeyFile === null && !isInsecure) {
    reader.errors.push(`--host ${addresses.host} can be reached from other machines, and ` +
      "without --curve-secret-key-file anyone who reaches it can read, write and join: give " +
      "the cluster key (README, Security), or pass --insecure on a network you trust");
  }
  if (reader.errors.length > 0) return { ok: false, help: false, errors: reader.errors };
  if (
    id === undefined || addresses.pubPort === undefined || addresses.peerPort === undefined ||
    electionTimeoutMs === undefined || rf === undefined ||
    minInsync === undefined || partitions === undefined || dataDir === undefined ||
    heartbeatIntervalMs === undefined || suspectTimeoutMs === undefined ||
    valueBytesMax === undefined || requestTimeoutMs === undefined || logLevel === undefined ||
    clientLimits === undefined
  ) {
    return { ok: false, help: false, errors: [unrecordedProblem] };
  }
  const config: NodeConfig = {
    id, host: addresses.host, advertise: reader.text("advertise") ?? null, port: addresses.port,
    pubPort: addresses.pubPort, peerPort: addresses.peerPort, httpPort, rf, partitions,
    electionTimeoutMs,
    joinEndpoints: Object.freeze(joinEndpoints), dataDir, heartbeatIntervalMs, suspectTimeoutMs,
    valueBytesMax, minInsync, requestTimeoutMs, logLevel, curveSecretKeyFile, clientKeysFile,
    isInsecure, ...clientLimits,
  };
  return { ok: true, help: false, config: Object.freeze(config) };
}

// ---------------------------------------------------------------------------------------------
// Client

/** Parses client.ts flags (argv without the runtime and script). */
export function parseClientConfig(argv: readonly string[]): ConfigResult<ClientConfig> {
  const command: string[] = [];
  const scan = scanFlags(argv, clientFlags, command);
  if (scan.isHelp) return { ok: true, help: true };
  const reader = new Reader(scan.values);
  reader.errors.push(...scan.errors);
  // An empty --connect list cannot pass: each empty entry is reported by endpoints().
  const connectEndpoints = reader.endpoints("connect") ?? [defaults.client.connect];
  const exec = reader.text("exec") ?? null;
  if (exec !== null && exec.replaceAll(";", "").trim() === "") {
    reader.errors.push("--exec needs at least one command, e.g. --exec 'HEARTBEAT; NODES'");
  }
  const requestTimeoutMs = reader.has("timeout-ms")
    ? reader.integer("timeout-ms", 1, bounds.requestTimeoutMsMax)
    : defaults.client.requestTimeoutMs;
  const giveUpMs = reader.has("give-up-ms")
    ? reader.integer("give-up-ms", 1, bounds.giveUpMsMax)
    : defaults.client.giveUpMs;
  if (requestTimeoutMs !== undefined && giveUpMs !== undefined && giveUpMs < requestTimeoutMs) {
    reader.errors.push(`--give-up-ms (${giveUpMs}) must be at least --timeout-ms ` +
      `(${requestTimeoutMs}), or no request could run to its deadline`);
  }
  const serverKey = readPath(reader, "server-key");
  const curveKeyFile = readPath(reader, "curve-key-file");
  if (curveKeyFile !== null && serverKey === null) {
    reader.errors.push("--curve-key-file needs --server-key: a client key is only used with " +
      "the cluster's public key");
  }
  const output = clientOutputOf(reader);
  if (exec !== null && command.length > 0) {
    reader.errors.push(`give commands either with --exec or as arguments, not both ` +
      `(got ${JSON.stringify(command.join(" "))})`);
  }
  if (reader.errors.length > 0) return { ok: false, help: false, errors: reader.errors };
  if (requestTimeoutMs === undefined || giveUpMs === undefined) {
    return { ok: false, help: false, errors: [unrecordedProblem] };
  }
  const config: ClientConfig = {
    connectEndpoints: Object.freeze(connectEndpoints),
    exec,
    command: Object.freeze(command),
    output,
    valueFile: reader.text("value-file") ?? null,
    isVerbose: reader.flag("verbose"),
    historyFile: reader.text("history-file") ?? null,
    isVersion: reader.flag("version"),
    requestTimeoutMs,
    giveUpMs,
    serverKey,
    curveKeyFile,
  };
  return { ok: true, help: false, config: Object.freeze(config) };
}

// --output, or its shorthands --json and --raw; more than one that disagree is an error.
function clientOutputOf(reader: Reader): ClientOutput {
  const chosen: ClientOutput[] = [];
  const text = reader.text("output");
  if (text !== undefined) {
    const known = clientOutputs.find((mode) => mode === text);
    if (known === undefined) reader.errors.push(`--output must be text, json or raw, got ` +
      `${JSON.stringify(text)}`);
    else chosen.push(known);
  }
  if (reader.flag("json")) chosen.push("json");
  if (reader.flag("raw")) chosen.push("raw");
  if (new Set(chosen).size > 1) {
    reader.errors.push(`choose one output mode: ${chosen.join(" and ")} were both asked for`);
  }
  return chosen[0] ?? "text";
}

/** A path flag (or a key given inline): null when absent; empty text is a problem. */
function readPath(reader: Reader, name: string): string | null {
  const text = reader.text(name);
  if (text === undefined) return null;
  if (text.trim() === "" || text.includes("\u0000")) {
    reader.errors.push(`--${name} needs a file path, got ${JSON.stringify(text)}`);
    return null;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// keygen (both executables)

export interface KeygenConfig {
  /** Base path of the files to write, or null to print the pair. */
  readonly out: string | null;
}

/** Parses the flags after `keygen` (node.ts keygen / client.ts keygen). */
export function parseKeygenConfig(argv: readonly string[]): ConfigResult<KeygenConfig> {
  const scan = scanFlags(argv, keygenFlags);
  if (scan.isHelp) return { ok: true, help: true };
  const reader = new Reader(scan.values);
  reader.errors.push(...scan.errors);
  const out = readPath(reader, "out");
  if (reader.errors.length > 0) return { ok: false, help: false, errors: reader.errors };
  return { ok: true, help: false, config: Object.freeze({ out }) };
}

/** --help text of the keygen command; `program` is how it was started ("bun node.ts", ...). */
export function keygenUsage(program: string): string {
  return [
    `Usage: ${program} keygen [--out <path>]`,
    "",
    "Creates a CURVE key pair and prints it as Z85 text (public, then secret), the form libzmq",
    "uses. Give the secret key to --curve-secret-key-file (nodes) or --curve-key-file (clients),",
    "and the public key to --server-key (clients) or a --client-keys list (nodes).",
    "",
    "Options:",
    formatFlags(keygenFlags),
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Help text

const usageWidth = 100;
const usageColumn = 28;

function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

function formatFlags(specs: readonly FlagSpec[]): string {
  const out: string[] = [];
  for (const spec of specs) {
    const short = spec.short === undefined ? "" : `-${spec.short}, `;
    const value = spec.valueName === undefined ? "" : ` <${spec.valueName}>`;
    const head = `  ${short}--${spec.name}${value}`;
    const body = wrapWords(spec.description, usageWidth - usageColumn);
    const [first = "", ...rest] = body;
    if (head.length < usageColumn) out.push(head.padEnd(usageColumn) + first);
    else out.push(head, " ".repeat(usageColumn) + first);
    for (const line of rest) out.push(" ".repeat(usageColumn) + line);
  }
  return out.join("\n");
}

/** The version of both executables (package.json's, checked by a unit test). */
export const warehouseVersion = "0.1.0";

/** --help text of node.ts; `program` is how it was started (`bun node.ts`, `warehouse-node`). */
export function nodeUsage(program: string): string {
  return [
    `Usage: ${program} --id <n> [options]`,
    "",
    "Runs one Warehouse database node. The first node bootstraps the cluster and fixes its",
    "replication factor and partition count; every other node joins through any member.",
    "",
    "Options:",
    formatFlags(nodeFlags),
    "",
    "Examples:",
    `  ${program} --id 1 --rf 2                                   bootstrap a cluster on :7001`,
    `  ${program} --id 2 --port 7002 --join tcp://127.0.0.1:7001  join it`,
    "",
  ].join("\n");
}

/** --help text of client.ts; `program` is how it was started (`bun client.ts`, `warehouse`). */
export function clientUsage(program: string): string {
  const key = "0b5c3a4e-7f1d-4c2b-9e8a-1d2c3b4a5f6e";
  return [
    `Usage: ${program} [options] [command [arguments]]`,
    "",
    "Client for a Warehouse cluster. With no command it opens the interactive REPL (HELP lists",
    "its commands); with one it runs it and exits. Keys are UUID version 4 strings.",
    "",
    "Commands:",
    "  get <key> [--verbose]     print the value ((nil) in text output when there is none);",
    "                            --verbose adds its version",
    "  set <key> <value> [if <version>] [ttl <ms>]",
    "                            store a value; <value> - reads stdin, or use --value-file;",
    "                            if: only at that version (0: absent); ttl: expire after ms",
    "  delete <key> [if <version>]",
    "                            delete a key (if: only at that version)",
    "  watch <key> [since <v>]   print the key's changes as they commit, until Ctrl-C",
    "  scan [cursor] [count n]   one page of keys and values, and the cursor of the next",
    "  keys                      every key",
    "  count [--verbose]         number of live keys (per partition with --verbose)",
    "  where <key>               the key's partition and the nodes that hold it",
    "  nodes                     the members and their roles",
    "  heartbeat                 ask the cluster for its instances and replication factor",
    "  remove <node id>          retire a stopped member for good; its partitions move to others",
    "",
    "Options:",
    formatFlags(clientFlags),
    "",
    "Results go to stdout; errors and notices to stderr. Exit status: 0 ok; 1 key not found",
    "or a command failed; 2 cluster unreachable; 64 usage error (bad flags or arguments).",
    "",
    "Examples:",
    `  ${program} --connect tcp://127.0.0.1:7001,tcp://127.0.0.1:7002`,
    `  ${program} set ${key} "hello world"`,
    `  ${program} --output raw get ${key} > value.txt`,
    `  ${program} --json --exec 'SET ${key} hi; COUNT'`,
    "",
  ].join("\n");
}

/** Whether binding `host` keeps every port on this machine (no other machine can connect). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
