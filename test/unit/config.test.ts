// Flag parsing for node.ts and client.ts: defaults, valid values, every problem reported in one
// pass, unknown flags, --help, and the help text itself.
import { describe, expect, test } from "bun:test";
import {
  bounds,
  type ClientConfig,
  clientUsage,
  type ConfigResult,
  defaults,
  type NodeConfig,
  keygenUsage,
  nodeUsage,
  parseClientConfig,
  parseKeygenConfig,
  parseNodeConfig,
} from "../../lib/config.ts";

function nodeConfigOf(argv: readonly string[]): NodeConfig {
  const result = parseNodeConfig(argv);
  if (!result.ok || result.help) throw new Error(`no config: ${JSON.stringify(result)}`);
  return result.config;
}

function clientConfigOf(argv: readonly string[]): ClientConfig {
  const result = parseClientConfig(argv);
  if (!result.ok || result.help) throw new Error(`no config: ${JSON.stringify(result)}`);
  return result.config;
}

function errorsOf<T>(result: ConfigResult<T>): readonly string[] {
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result)}`);
  return result.errors;
}

describe("parseNodeConfig: an address other machines reach needs keys or --insecure", () => {
  test("without keys, only a loopback --host is accepted", () => {
    for (const host of ["127.0.0.1", "127.8.9.10", "localhost", "::1"]) {
      expect(nodeConfigOf(["--id", "1", "--host", host]).host).toBe(host);
    }
    for (const host of ["0.0.0.0", "10.0.0.11", "db1.example", "::"]) {
      const errors = errorsOf(parseNodeConfig(["--id", "1", "--host", host, "--advertise", "x"]));
      expect(errors).toEqual([expect.stringContaining(`--host ${host} can be reached from other ` +
        "machines, and without --curve-secret-key-file anyone")]);
      expect(errors[0]).toContain("--insecure");
    }
  });

  test("the cluster key or --insecure allows it", () => {
    const withKey = ["--id", "1", "--host", "0.0.0.0", "--curve-secret-key-file", "c.key"];
    expect(nodeConfigOf(withKey).isInsecure).toBe(false);
    expect(nodeConfigOf(["--id", "1", "--host", "10.0.0.11", "--insecure"]).isInsecure).toBe(true);
  });
});

describe("parseNodeConfig: defaults and valid values", () => {
  test("only --id: every default", () => {
    expect(nodeConfigOf(["--id", "1"])).toEqual({
      id: 1,
      host: "127.0.0.1",
      advertise: null,
      port: 7001,
      pubPort: 7101,
      peerPort: 7301,
      httpPort: 7201,
      rf: null,
      partitions: null,
      electionTimeoutMs: 200,
      joinEndpoints: [],
      dataDir: "./data/1",
      heartbeatIntervalMs: 100,
      suspectTimeoutMs: 500,
      valueBytesMax: 1_048_576,
      minInsync: 1,
      requestTimeoutMs: 1000,
      logLevel: "info",
      curveSecretKeyFile: null,
      clientKeysFile: null,
      isInsecure: false,
      connectionsMax: 4096,
      clientBufferBytesMax: 134_217_728,
      handshakeTimeoutMs: 10_000,
      idleTimeoutMs: 300_000,
    });
  });

  test("the defaults table matches the documented values", () => {
    expect(defaults.node.port).toBe(7001);
    expect(defaults.node.rf).toBe(2);
    expect(defaults.node.partitions).toBe(64);
    expect(defaults.node.heartbeatIntervalMs * defaults.node.suspectHeartbeats).toBe(500);
    expect(defaults.node.logLevel).toBe("info");
    expect(defaults.client.connect).toBe("tcp://127.0.0.1:7001");
    expect(Object.isFrozen(defaults)).toBe(true);
    expect(Object.isFrozen(defaults.node)).toBe(true);
  });

  test("every flag set", () => {
    const config = nodeConfigOf([
      "--id", "7", "--host", "0.0.0.0", "--advertise", "db7.example", "--port", "9000",
      "--pub-port", "9100", "--http-port", "9200", "--rf", "3",
      "--peer-port", "9300", "--election-timeout-ms", "400",
      "--partitions", "128", "--join", "tcp://127.0.0.1:7001,tcp://[::1]:7003",
      "--join=tcp://db2:7005", "--data", "/tmp/wh", "--heartbeat-ms", "50", "--suspect-ms", "300",
      "--max-value", "2048", "--min-insync", "2", "--request-timeout-ms", "750",
      "--log-level", "debug", "--curve-secret-key-file", "cluster.key",
      "--client-keys", "clients.txt", "--insecure", "--max-connections", "100",
      "--max-client-buffer", "67108864", "--handshake-timeout-ms", "500",
      "--idle-timeout-ms", "0",
    ]);
    expect(config).toEqual({
      id: 7,
      host: "0.0.0.0",
      advertise: "db7.example",
      port: 9000,
      pubPort: 9100,
      peerPort: 9300,
      httpPort: 9200,
      rf: 3,
      partitions: 128,
      electionTimeoutMs: 400,
      joinEndpoints: ["tcp://127.0.0.1:7001", "tcp://[::1]:7003", "tcp://db2:7005"],
      dataDir: "/tmp/wh",
      heartbeatIntervalMs: 50,
      suspectTimeoutMs: 300,
      valueBytesMax: 2048,
      minInsync: 2,
      requestTimeoutMs: 750,
      logLevel: "debug",
      curveSecretKeyFile: "cluster.key",
      clientKeysFile: "clients.txt",
      isInsecure: true,
      connectionsMax: 100,
      clientBufferBytesMax: 67_108_864,
      handshakeTimeoutMs: 500,
      idleTimeoutMs: 0,
    });
  });

  test("the config and its lists are frozen", () => {
    const config = nodeConfigOf(["--id", "1", "--join", "tcp://h:1"]);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.joinEndpoints)).toBe(true);
  });

  test("port 0 means any free port, and then the pub port defaults to 0 too", () => {
    const config = nodeConfigOf(["--id", "1", "--port", "0"]);
    expect(config.port).toBe(0);
    expect(config.pubPort).toBe(0);
    expect(nodeConfigOf(["--id", "1", "--port", "0", "--pub-port", "0"]).pubPort).toBe(0);
    expect(nodeConfigOf(["--id", "1", "--port", "0", "--pub-port", "8000"]).pubPort).toBe(8000);
  });

  test("the pub port defaults to port + 100, so consecutive node ports never collide", () => {
    expect(nodeConfigOf(["--id", "1", "--port", "7001"]).pubPort).toBe(7101);
    expect(nodeConfigOf(["--id", "1", "--port", "7001"]).peerPort).toBe(7301);
    expect(nodeConfigOf(["--id", "1", "--port", "0"]).peerPort).toBe(0);
    expect(nodeConfigOf(["--id", "1", "--port", "65435", "--peer-port", "9", "--http-port", "off"]).pubPort)
      .toBe(65535);
  });

  test("the HTTP port defaults to port + 200, follows --port 0, and can be off", () => {
    expect(nodeConfigOf(["--id", "1", "--port", "7003"]).httpPort).toBe(7203);
    expect(nodeConfigOf(["--id", "1", "--port", "0"]).httpPort).toBe(0);
    expect(nodeConfigOf(["--id", "1", "--http-port", "0"]).httpPort).toBe(0);
    expect(nodeConfigOf(["--id", "1", "--http-port", "off"]).httpPort).toBe(null);
    expect(nodeConfigOf(["--id", "1", "--http-port", "8080"]).httpPort).toBe(8080);
  });

  test("HTTP port problems are reported with what to do", () => {
    expect(errorsOf(parseNodeConfig(["--id", "1", "--port", "65400", "--peer-port", "9"]))).toEqual([
      "--http-port defaults to --port + 200 = 65600, which is not a port; give --http-port " +
        "(or --http-port off)",
    ]);
    expect(errorsOf(parseNodeConfig(["--id", "1", "--port", "7001", "--http-port", "7101"])))
      .toEqual(["--http-port must differ from --port and --pub-port (7101)"]);
    expect(errorsOf(parseNodeConfig(["--id", "1", "--port", "7001", "--pub-port", "7201"])))
      .toEqual(["--http-port defaults to --port + 200 = 7201, which is --pub-port; " +
        "give another --http-port"]);
    expect(errorsOf(parseNodeConfig(["--id", "1", "--http-port", "on"]))).toEqual([
      '--http-port must be a port from 0 to 65535, got "on"',
    ]);
  });

  test("--advertise must be a dialable host", () => {
    expect(nodeConfigOf(["--id", "1", "--advertise", "10.0.0.7"]).advertise).toBe("10.0.0.7");
    for (const bad of ["0.0.0.0", "::", "a b"]) {
      expect(errorsOf(parseNodeConfig(["--id", "1", "--advertise", bad]))).toEqual([
        `--advertise must be a host name or IP address others can dial, got "${bad}"`,
      ]);
    }
  });

  test("--suspect-ms defaults to 5 heartbeats", () => {
    expect(nodeConfigOf(["--id", "1", "--heartbeat-ms", "400"]).suspectTimeoutMs).toBe(2000);
  });

  test("--join entries are trimmed and de-duplicated; inline and repeated forms work", () => {
    const config = nodeConfigOf([
      "--id", "2", "--join", " tcp://a:1 , tcp://b:2", "--join", "tcp://a:1",
    ]);
    expect(config.joinEndpoints).toEqual(["tcp://a:1", "tcp://b:2"]);
  });

  test("--id=5 inline syntax and the data default follow the id", () => {
    const config = nodeConfigOf(["--id=5"]);
    expect(config.id).toBe(5);
    expect(config.dataDir).toBe("./data/5");
  });

  test("a value that starts with - but is not a flag is read as a value and judged", () => {
    expect(errorsOf(parseNodeConfig(["--id", "-1"]))).toEqual([
      `--id must be an integer from 1 to ${bounds.idMax}, got "-1"`,
    ]);
  });

  test("bounds are inclusive", () => {
    const config = nodeConfigOf([
      "--id", String(bounds.idMax), "--partitions", String(bounds.partitionsMax),
      "--rf", String(bounds.rfMax), "--max-value", String(bounds.valueBytesMax), "--port", "65535",
      "--pub-port", "1", "--peer-port", "2", "--http-port", "3",
    ]);
    expect(config.id).toBe(bounds.idMax);
    expect(config.partitions).toBe(bounds.partitionsMax);
    expect(config.valueBytesMax).toBe(bounds.valueBytesMax);
  });
});

describe("parseNodeConfig: problems", () => {
  test("no flags: --id is required", () => {
    expect(errorsOf(parseNodeConfig([]))).toEqual([
      "--id is required: a positive integer, e.g. --id 1",
    ]);
  });

  // [argv after --id 1, the expected single error]
  const single: readonly (readonly [readonly string[], string])[] = [
    [["--port", "70000"], '--port must be a port from 0 to 65535, got "70000"'],
    [["--port", "7e3"], '--port must be a port from 0 to 65535, got "7e3"'],
    [["--port", ""], '--port must be a port from 0 to 65535, got ""'],
    [["--pub-port", "x"], '--pub-port must be a port from 0 to 65535, got "x"'],
    [["--port", "8000", "--pub-port", "8000"],
      "--pub-port must differ from --port (both are 8000)"],
    [["--port", "65436", "--peer-port", "9", "--http-port", "off"],
      "--pub-port defaults to --port + 100 = 65536, which is not a port; " +
      "give --pub-port"],
    [["--port", "65300"], "--peer-port defaults to --port + 300 = 65600, which is not a port; " +
      "give --peer-port"],
    [["--host", "bad host"], '--host must be a host name or IP address, got "bad host"'],
    [["--host", ""], '--host must be a host name or IP address, got ""'],
    [["--rf", "0"], '--rf must be an integer from 1 to 64, got "0"'],
    [["--rf", "2.5"], '--rf must be an integer from 1 to 64, got "2.5"'],
    [["--partitions", "0"], '--partitions must be an integer from 1 to 4096, got "0"'],
    [["--partitions", "4097"], '--partitions must be an integer from 1 to 4096, got "4097"'],
    [["--join", "127.0.0.1:7001"],
      '--join: "127.0.0.1:7001" is not an endpoint like tcp://127.0.0.1:7001'],
    [["--join", "tcp://h:0"], '--join: "tcp://h:0" is not an endpoint like tcp://127.0.0.1:7001'],
    [["--join", "tcp://a:1,"], "--join has an empty entry; separate endpoints with single commas"],
    [["--data", " "], '--data must be a directory path, got " "'],
    [["--heartbeat-ms", "5"], '--heartbeat-ms must be an integer from 10 to 60000, got "5"'],
    [["--suspect-ms", "200"], "--suspect-ms (200) must be more than 2 x --heartbeat-ms (200)"],
    [["--suspect-ms", "0"], '--suspect-ms must be an integer from 1 to 600000, got "0"'],
    [["--max-value", "0"], '--max-value must be an integer from 1 to 8388608, got "0"'],
    [["--max-value", "1MB"], '--max-value must be an integer from 1 to 8388608, got "1MB"'],
    [["--min-insync", "3", "--rf", "2"], "--min-insync (3) cannot be more than --rf (2)"],
    [["--min-insync", "0"], '--min-insync must be an integer from 1 to 64, got "0"'],
    [["--request-timeout-ms", "-5"],
      '--request-timeout-ms must be an integer from 1 to 600000, got "-5"'],
    [["--log-level", "INFO"], '--log-level must be one of debug, info, warn, error, got "INFO"'],
    [["--max-connections", "0"], '--max-connections must be an integer from 1 to 1000000, got "0"'],
    [["--max-client-buffer", "1000"],
      '--max-client-buffer must be an integer from 67108864 to 1099511627776, got "1000"'],
    [["--handshake-timeout-ms", "60001"],
      '--handshake-timeout-ms must be an integer from 1 to 60000, got "60001"'],
    [["--idle-timeout-ms", "-1"],
      '--idle-timeout-ms must be an integer from 0 to 86400000, got "-1"'],
    [["--bogus"], "unknown flag --bogus"],
    [["-x"], "unknown flag -x"],
    [["extra"], 'unexpected argument "extra" (flags start with --)'],
    [["--port"], "--port needs a value: --port <port>"],
    [["--port", "1", "--port", "2"], "--port is given more than once"],
    [["--help=yes"], "--help takes no value"],
  ];
  for (const [argv, expected] of single) {
    test(`${argv.join(" ")}`, () => {
      expect(errorsOf(parseNodeConfig(["--id", "1", ...argv]))).toEqual([expected]);
    });
  }

  test("an unknown flag takes the next argument as its value, unless it had an inline one", () => {
    expect(errorsOf(parseNodeConfig(["--id", "1", "--color", "red"]))).toEqual([
      "unknown flag --color",
    ]);
    expect(errorsOf(parseNodeConfig(["--id", "1", "--color=red", "blue"]))).toEqual([
      "unknown flag --color",
      'unexpected argument "blue" (flags start with --)',
    ]);
  });

  test("a flag that swallows the next flag is reported, and the scan goes on after it", () => {
    // Scan problems come first, then the values in flag order; --id is not also "required".
    expect(errorsOf(parseNodeConfig(["--id", "--port", "x", "--nope"]))).toEqual([
      "--id needs a value: --id <n>",
      "unknown flag --nope",
      '--port must be a port from 0 to 65535, got "x"',
    ]);
  });

  test("every problem is reported together in one pass", () => {
    const errors = errorsOf(parseNodeConfig([
      "--id", "zero", "--port", "99999", "stray", "--bogus", "--rf", "0", "--partitions", "-2",
      "--join", "nowhere", "--heartbeat-ms", "1", "--max-value", "huge", "--min-insync", "x",
      "--request-timeout-ms", "0", "--log-level", "loud", "--host", "a b", "--other",
    ]));
    const fragments = [
      "--id must be", "--port must be", "unknown flag --bogus", 'unexpected argument "stray"',
      "--rf must be", "--partitions must be", '--join: "nowhere"', "--heartbeat-ms must be",
      "--max-value must be", "--min-insync must be", "--request-timeout-ms must be",
      "--log-level must be", "--host must be", "unknown flag --other",
    ];
    for (const fragment of fragments) {
      expect(errors.some((error) => error.includes(fragment))).toBe(true);
    }
    expect(errors.length).toBe(fragments.length);
  });
});

describe("help", () => {
  test("--help and -h return help, even next to errors", () => {
    expect(parseNodeConfig(["--help"])).toEqual({ ok: true, help: true });
    expect(parseNodeConfig(["-h"])).toEqual({ ok: true, help: true });
    expect(parseNodeConfig(["--id", "x", "--bogus", "--help"])).toEqual({ ok: true, help: true });
    expect(parseClientConfig(["--help"])).toEqual({ ok: true, help: true });
    expect(parseClientConfig(["--nope", "-h"])).toEqual({ ok: true, help: true });
  });

  test("node usage lists every flag, its default and an example", () => {
    const flags = [
      "--id", "--host", "--advertise", "--port", "--pub-port", "--http-port", "--rf",
      "--partitions", "--join", "--data",
      "--heartbeat-ms", "--suspect-ms", "--max-value", "--min-insync", "--request-timeout-ms",
      "--log-level", "--help",
    ];
    const usage = nodeUsage("warehouse-node");
    for (const flag of flags) expect(usage).toContain(`${flag} `);
    for (const text of ["7001", "127.0.0.1", "./data/<id>", "1048576", "(default info)",
      "Usage: warehouse-node --id", "Examples:", "warehouse-node --id 2 --port 7002 --join tcp://",
      "--version"]) {
      expect(usage).toContain(text);
    }
  });

  test("client usage lists every flag, its default and an example", () => {
    const flags = ["--connect", "--exec", "--output", "--json", "--raw", "--value-file",
      "--verbose", "--history-file", "--timeout-ms", "--give-up-ms", "--version", "--help"];
    const usage = clientUsage("warehouse");
    for (const flag of flags) {
      expect(usage).toContain(flag);
    }
    for (const text of ["tcp://127.0.0.1:7001", "(default 1000)", "(default 5000)", "Examples:",
      "Usage: warehouse [options] [command [arguments]]", "  where <key>", "  scan [cursor]",
      "64 usage error", "  warehouse --output raw get "]) {
      expect(usage).toContain(text);
    }
  });

  test("usage lines fit in 100 columns", () => {
    const lines = [...nodeUsage("bun node.ts").split("\n"),
      ...clientUsage("bun client.ts").split("\n")];
    for (const line of lines) {
      expect(line.length).toBeLessThanOrEqual(100);
    }
  });
});

describe("parseClientConfig", () => {
  test("defaults", () => {
    expect(clientConfigOf([])).toEqual({
      connectEndpoints: ["tcp://127.0.0.1:7001"],
      exec: null,
      command: [],
      output: "text",
      valueFile: null,
      isVerbose: false,
      historyFile: null,
      isVersion: false,
      requestTimeoutMs: 1000,
      giveUpMs: 5000,
      serverKey: null,
      curveKeyFile: null,
    });
  });

  test("every flag set", () => {
    const config = clientConfigOf([
      "--connect", "tcp://10.0.0.1:7001,tcp://10.0.0.2:7003", "--exec", "GET k; HEARTBEAT",
      "--json", "--timeout-ms", "250", "--give-up-ms", "2000", "--verbose",
      "--history-file", "/tmp/h", "--version", "--server-key", "cluster.pub",
      "--curve-key-file", "me.key",
    ]);
    expect(config).toEqual({
      connectEndpoints: ["tcp://10.0.0.1:7001", "tcp://10.0.0.2:7003"],
      exec: "GET k; HEARTBEAT",
      command: [],
      output: "json",
      valueFile: null,
      isVerbose: true,
      historyFile: "/tmp/h",
      isVersion: true,
      requestTimeoutMs: 250,
      giveUpMs: 2000,
      serverKey: "cluster.pub",
      curveKeyFile: "me.key",
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.connectEndpoints)).toBe(true);
  });

  test("words that are not flags are a command; -- lets a value start with a dash", () => {
    const config = clientConfigOf(["--raw", "get", "k1", "--value-file", "f"]);
    expect(config.command).toEqual(["get", "k1"]);
    expect(config.output).toBe("raw");
    expect(config.valueFile).toBe("f");
    expect(clientConfigOf(["set", "k", "--", "-5"]).command).toEqual(["set", "k", "-5"]);
    expect(clientConfigOf(["-o", "json", "nodes"]).output).toBe("json");
  });

  test("an --exec value that starts with a dash-word is still allowed inline", () => {
    expect(clientConfigOf(["--exec=--weird"]).exec).toBe("--weird");
  });

  const single: readonly (readonly [readonly string[], string])[] = [
    [["--connect", "localhost"],
      '--connect: "localhost" is not an endpoint like tcp://127.0.0.1:7001'],
    [["--connect", ""], "--connect has an empty entry; separate endpoints with single commas"],
    [["--exec", " ; ;"], "--exec needs at least one command, e.g. --exec 'HEARTBEAT; NODES'"],
    [["--json=false"], "--json takes no value"],
    [["--timeout-ms", "0"], '--timeout-ms must be an integer from 1 to 600000, got "0"'],
    [["--give-up-ms", "soon"], '--give-up-ms must be an integer from 1 to 3600000, got "soon"'],
    [["--give-up-ms", "500"], "--give-up-ms (500) must be at least --timeout-ms (1000), " +
      "or no request could run to its deadline"],
    [["--id", "1"], "unknown flag --id"],

    [["--exec"], "--exec needs a value: --exec <commands>"],
    [["--output", "yaml"], '--output must be text, json or raw, got "yaml"'],
    [["--json", "--raw"], "choose one output mode: json and raw were both asked for"],
    [["--exec", "NODES", "get", "k"],
      'give commands either with --exec or as arguments, not both (got "get k")'],
  ];
  for (const [argv, expected] of single) {
    test(`${argv.join(" ")}`, () => {
      expect(errorsOf(parseClientConfig(argv))).toEqual([expected]);
    });
  }

  test("every problem is reported together", () => {
    const errors = errorsOf(parseClientConfig([
      "--connect", "x", "--timeout-ms", "x", "--give-up-ms", "0", "--what", "value",
    ]));
    expect(errors).toEqual([
      "unknown flag --what",
      '--connect: "x" is not an endpoint like tcp://127.0.0.1:7001',
      '--timeout-ms must be an integer from 1 to 600000, got "x"',
      '--give-up-ms must be an integer from 1 to 3600000, got "0"',
    ]);
  });
});

describe("CURVE flags and keygen", () => {
  test("--client-keys without --curve-secret-key-file is refused", () => {
    expect(errorsOf(parseNodeConfig(["--id", "1", "--client-keys", "c.txt"]))).toEqual([
      "--client-keys needs --curve-secret-key-file: without CURVE, clients have no key to check",
    ]);
  });

  test("--curve-key-file without --server-key is refused", () => {
    expect(errorsOf(parseClientConfig(["--curve-key-file", "me.key"]))).toEqual([
      "--curve-key-file needs --server-key: a client key is only used with the cluster's " +
        "public key",
    ]);
  });

  test("empty key paths are refused", () => {
    expect(errorsOf(parseClientConfig(["--server-key="]))).toEqual([
      '--server-key needs a file path, got ""',
    ]);
  });

  test("keygen: --out, help, and unknown flags", () => {
    expect(parseKeygenConfig([])).toEqual({ ok: true, help: false, config: { out: null } });
    expect(parseKeygenConfig(["--out", "keys/n1"])).toEqual({
      ok: true,
      help: false,
      config: { out: "keys/n1" },
    });
    expect(parseKeygenConfig(["--help"])).toEqual({ ok: true, help: true });
    expect(errorsOf(parseKeygenConfig(["--id", "1"]))[0]).toBe("unknown flag --id");
    expect(keygenUsage("warehouse-node")).toStartWith("Usage: warehouse-node keygen [--out");
    for (const line of keygenUsage("bun node.ts").split("\n")) {
      expect(line.length).toBeLessThanOrEqual(100);
    }
  });
});
