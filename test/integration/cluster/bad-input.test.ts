// Bad input to a real node process: malformed and ill-typed requests, oversize values, odd frame
// layouts and raw garbage on its TCP port. Each gets the docs/protocol.md error code (or, for bytes
// that are not ZMTP, a closed connection), and the node keeps serving: after every test it still
// answers HEARTBEAT, SET and GET on a fresh and on the long-lived connection. Also the node's
// command-line errors: a clear message and exit code 1, never a stack trace.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import {
  encodeCommand, encodeGreeting, encodeMessage, encodeReady,
} from "../../../lib/zmtp/codec.ts";
import { WarehouseClient } from "../../../lib/client/client.ts";
import { Dealer } from "../../../lib/zmtp/index.ts";
import { Cluster, type NodeHandle, bunPath, repoRoot, waitFor } from "../../harness/cluster.ts";
import { type RunResult, runToEnd } from "../../harness/run.ts";

const VALUE_BYTES_MAX = 1024;
const REPLY_TIMEOUT_MS = 5_000;

type Json = Record<string, unknown>;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A DEALER that sends one message at a time and waits (with a deadline) for its reply. */
class Asker {
  readonly dealer = new Dealer({ lingerMs: 0, reconnectIvlMs: 50 });

  constructor(endpoint: string) {
    this.dealer.connect(endpoint);
  }

  /** The reply's frames, as text. */
  async frames(frames: (string | Uint8Array)[]): Promise<string[]> {
    await this.dealer.send(frames);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      const fail = (): void => reject(new Error(`no reply within ${REPLY_TIMEOUT_MS} ms`));
      timer = setTimeout(fail, REPLY_TIMEOUT_MS);
    });
    try {
      const reply = await Promise.race([this.dealer.receive(), deadline]);
      return reply.map((f) => decoder.decode(f));
    } finally {
      clearTimeout(timer);
    }
  }

  /** The parsed reply to a one-frame request (a JSON value, or raw text/bytes as given). */
  async ask(body: Json | string | Uint8Array): Promise<Json> {
    const isRaw = typeof body === "string" || body instanceof Uint8Array;
    const frame = isRaw ? body : JSON.stringify(body);
    const reply = await this.frames([frame]);
    expect(reply).toHaveLength(1);
    return JSON.parse(reply[0] ?? "null") as Json;
  }

  close(): Promise<void> {
    return this.dealer.close();
  }
}

function badRequest(id: unknown): Json {
  return { id, ok: false, error: { code: "BAD_REQUEST", message: expect.any(String) } };
}

/** A raw TCP connection for bytes that are not (or not quite) ZMTP. */
class RawTcp {
  readonly received: Uint8Array[] = [];
  isClosed = false;
  private socket: Socket<undefined> | undefined;

  static async connect(port: number): Promise<RawTcp> {
    const raw = new RawTcp();
    raw.socket = await Bun.connect<undefined>({
      hostname: "127.0.0.1",
      port,
      data: undefined,
      socket: {
        data: (_s, chunk) => void raw.received.push(new Uint8Array(chunk)),
        close: () => void (raw.isClosed = true),
        error: () => void (raw.isClosed = true),
      },
    });
    return raw;
  }

  /** Writes all of `data` (the kernel takes a few KiB at once on loopback). */
  async write(data: Uint8Array): Promise<void> {
    let rest = data;
    await waitFor(() => {
      if (this.isClosed) return true;
      const n = this.socket?.write(rest) ?? -1;
      if (n < 0) return true;
      rest = rest.subarray(n);
      return rest.length === 0;
    }, { what: "a raw write", intervalMs: 1 });
  }

  /** Shorter than the test's own timeout, so a failure names what did not happen. */
  waitClosed(what: string): Promise<boolean> {
    return waitFor(() => this.isClosed, { what, timeoutMs: 3_000 });
  }

  close(): void {
    this.socket?.end();
  }
}

/** Deterministic pseudo-random bytes (xorshift), so a failure can be replayed. */
function noise(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe("a node given bad requests", () => {
  let cluster: Cluster;
  let node: NodeHandle;
  let asker: Asker;

  beforeAll(async () => {
    cluster = new Cluster();
    const extraArgs = ["--max-value", String(VALUE_BYTES_MAX)];
    node = await cluster.start({ id: 1, rf: 1, extraArgs });
    asker = new Asker(node.endpoint);
    // The single member leads once its first tick has run.
    await waitFor(async () => {
      const hb = await asker.ask({ id: "hb", op: "HEARTBEAT" });
      return hb["role"] === "leader";
    }, { what: "the node to lead" });
  });

  afterAll(async () => {
    await asker.close();
    await cluster[Symbol.asyncDispose]();
  });

  // Whatever a test sent, the node is still up and serving, on the old and on a new connection.
  afterEach(async () => {
    expect(node.process.exitCode).toBeNull();
    const key = crypto.randomUUID();
    expect(await asker.ask({ id: "after-set", op: "SET", key, value: "still here" }))
      .toEqual({ id: "after-set", ok: true, status: "created", replicas: 1, version: expect.any(Number) });
    const fresh = new Asker(node.endpoint);
    try {
      expect(await fresh.ask({ id: "after-get", op: "GET", key })).toEqual({
        id: "after-get", ok: true, found: true, value: "still here", version: expect.any(Number),
      });
      const hb = await fresh.ask({ id: "after-hb", op: "HEARTBEAT" });
      expect(hb["ok"]).toBe(true);
      expect(hb["node"]).toEqual({
        id: 1, endpoint: node.endpoint, pub: node.pub, peer: expect.stringMatching(/^tcp:/),
      });
    } finally {
      await fresh.close();
    }
    expect(node.stderr()).not.toMatch(/unhandled_rejection|request_failed|request_error/);
  });

  test("malformed JSON and JSON that is not an object: BAD_REQUEST with a null id", async () => {
    for (const body of [
      "{not json", '{"id": 1, "op": "GET"', "", " ", "null", "42", '"GET"', "[1, 2]", "true",
      '[{"id": 1, "op": "HEARTBEAT"}]', "\u0000\u0001", '{"id": 1}{"id": 2}',
    ]) {
      expect(await asker.ask(body)).toEqual(badRequest(null));
    }
    // Not UTF-8 at all.
    expect(await asker.ask(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).toEqual(badRequest(null));
  });

  test("unknown or misspelt op: BAD_REQUEST with the id", async () => {
    const key = crypto.randomUUID();
    expect(await asker.ask({ id: 1, op: "FROB", key })).toEqual(badRequest(1));
    expect(await asker.ask({ id: 2, op: "set", key, value: "x" })).toEqual(badRequest(2));
    expect(await asker.ask({ id: 3, op: "" })).toEqual(badRequest(3));
    expect(await asker.ask({ id: 4, op: "PEER_WRITE" })).toEqual(badRequest(4));
    expect(await asker.ask({ id: 5, op: "__proto__" })).toEqual(badRequest(5));
  });

  test("wrongly typed fields: BAD_REQUEST", async () => {
    const key = crypto.randomUUID();
    expect(await asker.ask({ id: 1, op: "SET", key: 123, value: "x" })).toEqual(badRequest(1));
    expect(await asker.ask({ id: 2, op: "SET", key, value: { a: 1 } })).toEqual(badRequest(2));
    expect(await asker.ask({ id: 3, op: "SET", key, value: 7 })).toEqual(badRequest(3));
    expect(await asker.ask({ id: 4, op: "SET", key, value: null })).toEqual(badRequest(4));
    expect(await asker.ask({ id: 5, op: "GET", key: [key] })).toEqual(badRequest(5));
    expect(await asker.ask({ id: 6, op: 7 })).toEqual(badRequest(6));
    // An id that cannot be echoed is not echoed.
    expect(await asker.ask({ id: { a: 1 }, op: "GET", key })).toEqual(badRequest(null));
    expect(await asker.ask({ id: [1], op: "GET", key })).toEqual(badRequest(null));
    expect(await asker.ask({ id: true, op: "GET", key })).toEqual(badRequest(null));
    expect(await asker.ask({ id: null, op: "GET", key })).toEqual(badRequest(null));
    const infinite = `{"id": 1e400, "op": "GET", "key": "${key}"}`;
    expect(await asker.ask(infinite)).toEqual(badRequest(null));
    // Nothing of those was stored.
    expect(await asker.ask({ id: 7, op: "GET", key })).toEqual({ id: 7, ok: true, found: false });
  });

  test("missing fields: BAD_REQUEST", async () => {
    const key = crypto.randomUUID();
    expect(await asker.ask({})).toEqual(badRequest(null));
    expect(await asker.ask({ op: "GET", key })).toEqual(badRequest(null));
    expect(await asker.ask({ id: 1 })).toEqual(badRequest(1));
    expect(await asker.ask({ id: 2, op: "SET", key })).toEqual(badRequest(2));
    expect(await asker.ask({ id: 3, op: "SET", value: "x" })).toEqual(badRequest(3));
    expect(await asker.ask({ id: 4, op: "GET" })).toEqual(badRequest(4));
    expect(await asker.ask({ id: 5, op: "DELETE" })).toEqual(badRequest(5));
  });

  test("a value over --max-value: BAD_REQUEST, and the connection stays usable", async () => {
    const key = crypto.randomUUID();
    const set = (id: string, value: string): Promise<Json> =>
      asker.ask({ id, op: "SET", key, value });
    expect(await set("big", "x".repeat(2000))).toEqual(badRequest("big"));
    expect(await set("one-over", "x".repeat(VALUE_BYTES_MAX + 1))).toEqual(badRequest("one-over"));
    // The limit counts UTF-8 bytes: 342 three-byte characters are 1026 bytes.
    expect(await set("utf8", "€".repeat(342))).toEqual(badRequest("utf8"));
    expect(await asker.ask({ id: 1, op: "GET", key })).toEqual({ id: 1, ok: true, found: false });
    // At the limit it is stored, even when every byte needs a 6-byte JSON escape on the wire.
    const atLimit = "\u0001".repeat(VALUE_BYTES_MAX);
    expect(await set("2", atLimit)).toEqual({
      id: "2", ok: true, status: "created", replicas: 1, version: expect.any(Number),
    });
    expect(await asker.ask({ id: 3, op: "GET", key })).toEqual({
      id: 3, ok: true, found: true, value: atLimit, version: expect.any(Number),
    });
    expect(await set("esc-over", `${atLimit}\u0001`)).toEqual(badRequest("esc-over"));
  });

  test("a key that is not a UUID4: INVALID_KEY for every op", async () => {
    const notV4 = [
      "not-a-uuid", "", "00000000-0000-0000-0000-000000000000",
      "c232ab00-9414-11ec-b3c8-9f6bdeced846", // version 1
      "1b4e28ba-2fa1-41d2-c83a-0d9f5e2a7b3c", // variant c
      `${crypto.randomUUID()} `, `{${crypto.randomUUID()}}`,
      crypto.randomUUID().replaceAll("-", ""),
    ];
    for (const key of notV4) {
      for (const request of [
        { id: "s", op: "SET", key, value: "x" },
        { id: "g", op: "GET", key },
        { id: "d", op: "DELETE", key },
      ]) {
        expect(await asker.ask(request)).toEqual({
          id: request.id, ok: false, error: { code: "INVALID_KEY", message: expect.any(String) },
        });
      }
    }
  });

  test("multi-frame requests: the last frame is the request, the others its envelope", async () => {
    // A request split over two frames: the last frame alone is not JSON.
    const key = crypto.randomUUID();
    const split = await asker.frames(['{"id": 1, "op": ', `"GET", "key": "${key}"}`]);
    expect(split).toHaveLength(2);
    expect(split[0]).toBe('{"id": 1, "op": ');
    expect(JSON.parse(split[1] ?? "null")).toEqual(badRequest(null));
    // A trailing empty frame: the request is the empty frame.
    const trailing = await asker.frames([JSON.stringify({ id: 2, op: "HEARTBEAT" }), ""]);
    expect(trailing).toHaveLength(2);
    expect(JSON.parse(trailing[1] ?? "null")).toEqual(badRequest(null));
    // Many empty frames, then a request: all of them are echoed.
    const many = await asker.frames(["", "", "x", JSON.stringify({ id: 3, op: "GET", key })]);
    expect(many.slice(0, 3)).toEqual(["", "", "x"]);
    expect(JSON.parse(many[3] ?? "null")).toEqual({ id: 3, ok: true, found: false });
  });

  test("an empty frame, alone or after a REQ delimiter: BAD_REQUEST", async () => {
    expect(await asker.ask("")).toEqual(badRequest(null));
    const delimited = await asker.frames(["", ""]);
    expect(delimited).toHaveLength(2);
    expect(delimited[0]).toBe("");
    expect(JSON.parse(delimited[1] ?? "null")).toEqual(badRequest(null));
  });

  test("forged node-to-node requests on the client port are refused, change nothing", async () => {
    const forged: Json[] = [
      { id: 1, op: "PEER_JOIN", node: { id: 9, endpoint: "garbage", pub: "x" } },
      { id: 2, op: "PEER_JOIN", node: { id: 9, endpoint: "tcp://127.0.0.1:1", pub: 5 } },
      { id: 3, op: "PEER_JOIN" },
      { id: 4, op: "PEER_REPLICATE", term: 1, rows: [{}] },
      { id: 5, op: "PEER_REPLICATE", term: "x", rows: "y" },
      { id: 6, op: "PEER_READ", key: 5 },
      { id: 7, op: "PEER_PAGE", partition: -1, after: null, limit: 0 },
      { id: 8, op: "PEER_CATCHUP", node: -1, partition: 1e9 },
    ];
    for (const request of forged) {
      const reply = await asker.ask(request);
      expect(reply["id"]).toBe(request["id"]);
      expect(reply["ok"]).toBe(false);
    }
    // No member was admitted, so heartbeats stay valid and the client library still connects.
    const hb = await asker.ask({ id: "hb", op: "HEARTBEAT" });
    expect((hb["members"] as Json[]).map((m) => m["id"])).toEqual([1]);
    const client = await WarehouseClient.connect({
      endpoints: [node.endpoint], requestTimeoutMs: 1000, giveUpMs: 3000,
    });
    try {
      expect(await client.set(crypto.randomUUID(), "via client")).toMatchObject({
        status: "created", replicas: 1,
      });
    } finally {
      await client.close();
    }
  });

  test("a request over the message limit is answered BAD_REQUEST naming the limit, and the " +
    "same connection goes on", async () => {
    // 1 MiB is far beyond what --max-value 1024 lets the transport take (6 x max + 64 KiB). It
    // is read past as it streams; the id is found at the end of the request, where it is.
    const limit = VALUE_BYTES_MAX * 6 + 65536;
    const huge = { op: "SET", key: crypto.randomUUID(), value: "x".repeat(1 << 20), id: "huge" };
    const size = encoder.encode(JSON.stringify(huge)).length;
    expect(await asker.ask(huge)).toEqual({
      id: "huge", ok: false, error: {
        code: "BAD_REQUEST",
        message: `request of ${size} bytes is over the limit of ${limit} bytes (values up to ` +
          `${VALUE_BYTES_MAX} bytes fit)`,
      },
    });
    // The id first, and a value the node must not mistake for one.
    const first = { id: 7, op: "SET", key: crypto.randomUUID(), value: '","id":99,'.repeat(1e5) };
    expect(await asker.ask(first)).toMatchObject({ id: 7, ok: false, error: { code: "BAD_REQUEST" } });
    expect(await asker.ask({ id: "after", op: "HEARTBEAT" })).toMatchObject({ id: "after", ok: true });
  });

  test("a request over the hard cap closes the connection; others go on", async () => {
    // Read past up to 64 MiB; a frame declaring more is refused at its header.
    const raw = await RawTcp.connect(node.port);
    try {
      const header = Uint8Array.of(0x02, 0, 0, 0, 0, 0x04, 0, 0, 0x01);
      await raw.write(new Uint8Array([...encodeGreeting(), ...encodeReady("DEALER"), ...header]));
      expect(await raw.waitClosed("the connection to close at a 64 MiB + 1 frame")).toBe(true);
    } finally {
      raw.close();
    }
    expect(await asker.ask({ id: "meanwhile", op: "HEARTBEAT" })).toMatchObject({
      id: "meanwhile", ok: true,
    });
  });

  test("bytes that are not ZMTP on the TCP port: the connection is closed", async () => {
    const greetingThenGarbage = new Uint8Array([...encodeGreeting(), ...noise(512, 7)]);
    // A long frame declaring 1 TiB, far over the transport's message limit.
    const readyThenHugeFrame = new Uint8Array([
      ...encodeGreeting(), ...encodeReady("DEALER"),
      0x02, 0, 0, 0x01, 0, 0, 0, 0, 0, ...noise(64, 5),
    ]);
    const wrongSocketType = new Uint8Array([...encodeGreeting(), ...encodeReady("PUB")]);
    const messageBeforeReady = new Uint8Array([
      ...encodeGreeting(), ...encodeMessage([encoder.encode('{"id":1,"op":"HEARTBEAT"}')]),
    ]);
    const unknownMechanism = encodeGreeting();
    unknownMechanism.set(encoder.encode("CURVE"), 12);
    const cases: [string, Uint8Array][] = [
      ["random bytes", noise(4096, 42)],
      ["a ZMTP greeting, then garbage", greetingThenGarbage],
      ["greeting and READY, then a frame declaring 1 TiB", readyThenHugeFrame],
      ["READY from an incompatible socket type", wrongSocketType],
      ["a message before READY", messageBeforeReady],
      ["an unknown security mechanism", unknownMechanism],
      ["an HTTP request", encoder.encode(`GET / HTTP/1.1\r\nHost: x\r\n\r\n${"x".repeat(100)}`)],
      ["a command with a huge declared size", new Uint8Array([
        ...encodeGreeting(), 0x06, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      ])],
    ];
    const raws: RawTcp[] = [];
    try {
      for (const [what, bytes] of cases) {
        const raw = await RawTcp.connect(node.port);
        raws.push(raw);
        await raw.write(bytes);
        await raw.waitClosed(`the node to close the connection after ${what}`);
      }
    } finally {
      for (const raw of raws) raw.close();
    }
  });

  test("garbage after a good exchange, connections cut mid-frame: the node goes on", async () => {
    const raws: RawTcp[] = [];
    try {
      // A hand-made DEALER that gets an answer, then turns to garbage.
      const raw = await RawTcp.connect(node.port);
      raws.push(raw);
      await raw.write(new Uint8Array([
        ...encodeGreeting(), ...encodeReady("DEALER"),
        ...encodeMessage([encoder.encode('{"id":"raw","op":"HEARTBEAT"}')]),
      ]));
      await waitFor(() => decoder.decode(Buffer.concat(raw.received)).includes('"id":"raw"'), {
        what: "a reply to the hand-made DEALER",
      });
      await raw.write(noise(2048, 3));
      await raw.waitClosed("the node to close the connection after garbage");
      // Connections closed half-way: in the greeting, in a frame header, in a frame body.
      const message = encodeMessage([encoder.encode('{"id":"cut","op":"HEARTBEAT"}')]);
      const handshake = [...encodeGreeting(), ...encodeReady("DEALER")];
      for (const prefix of [
        encodeGreeting().subarray(0, 20),
        new Uint8Array([...handshake, ...message.subarray(0, 1)]),
        new Uint8Array([...handshake, ...message.subarray(0, message.length - 5)]),
        new Uint8Array([...handshake, ...encodeCommand("PING", new Uint8Array([0, 10]))]),
        new Uint8Array(0),
      ]) {
        const cut = await RawTcp.connect(node.port);
        raws.push(cut);
        await cut.write(prefix);
        cut.close();
      }
    } finally {
      for (const raw of raws) raw.close();
    }
  });
});

describe("node command-line errors", () => {
  let cwd: string;

  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), "warehouse-cli-"));
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  /** Runs node.ts with `args` in a scratch directory; it must exit on its own. */
  function runNode(args: string[]): Promise<RunResult> {
    return runToEnd([bunPath, join(repoRoot, "node.ts"), ...args], { cwd });
  }


  const cases: [string[], RegExp][] = [
    [["--id", "0"], /--id must be an integer from 1/],
    [["--id", "-3"], /--id/],
    [["--id", "one"], /--id must be an integer/],
    [[], /--id is required/],
    [["--id", "1", "--port", "abc"], /--port must be a port/],
    [["--id", "1", "--port", "70000"], /--port must be a port/],
    [["--id", "1", "--frobnicate", "yes"], /unknown flag --frobnicate/],
    [["--id", "1", "--rf", "0"], /--rf must be an integer/],
    [["--id", "1", "--max-value", "big"], /--max-value must be an integer/],
    [["--id", "1", "--join", "127.0.0.1:7001"], /--join: "127\.0\.0\.1:7001" is not an endpoint/],
    [["--id", "1", "stray"], /unexpected argument "stray"/],
  ];
  for (const [args, message] of cases) {
    test(`bun node.ts ${args.join(" ") || "(no flags)"}: exit 1 with a clear message`, async () => {
      const result = await runNode([...args, "--data", join(cwd, "data")]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toMatch(/^error: /);
      expect(result.stderr).not.toMatch(/^\s+at |\.ts:\d+|Error:/m);
      expect(result.stdout).toBe("");
    });
  }

  test("a port already in use: exit 1 with a clear message", async () => {
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const port = String(blocker.port);
      const result = await runNode(["--id", "1", "--port", port, "--data", join(cwd, "busy")]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`error: cannot listen on tcp://127.0.0.1:${port} (--port)`);
      expect(result.stderr).not.toMatch(/^\s+at |\.ts:\d+/m);
    } finally {
      blocker.stop(true);
    }
  });

  test("--help prints usage and exits 0", async () => {
    const result = await runNode(["--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: bun node.ts --id <n>");
    for (const flag of [
      "--id", "--port", "--rf", "--data", "--join", "--host", "--pub-port", "--log-level",
      "--max-value",
    ]) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stderr).toBe("");
  });
});
