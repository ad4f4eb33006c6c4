// A few hundred fuzzed requests (test/unit/request-arbitraries.ts, a fixed seed) to a real node
// process over one DEALER connection, some behind extra envelope frames. Each gets exactly one
// reply: the envelope echoed, then a reply a client parses; for a frame parseRequest refuses,
// the same error code with a message. Afterwards the node has not crashed, logged no failure,
// and still answers SET and GET on a fresh connection. Then the same below the request layer:
// fuzzed ZMTP streams on raw TCP to the node's client, peer and publish ports.
//
// FUZZ_RUNS / FUZZ_SEED change the count and the seed (test/harness/fuzz.ts).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { parseReply, parseRequest } from "../../../lib/protocol.ts";
import { Dealer } from "../../../lib/zmtp/index.ts";
import {
  FLAG_LONG,
  concatBytes,
  encodeCommand,
  encodeGreeting,
  encodeMessage,
  encodeReady,
} from "../../../lib/zmtp/codec.ts";
import { Cluster, waitFor } from "../../harness/cluster.ts";
import { bytesArb, fuzzSeedDefault, splitAt } from "../../harness/fuzz.ts";
import { RawPeer, within } from "../../harness/zmtp.ts";
import { requestFrameArb } from "../../unit/request-arbitraries.ts";

const REQUESTS = Number(process.env.FUZZ_RUNS ?? 300);
/** Raw connections: each a whole fuzzed ZMTP stream. */
const STREAMS = Math.ceil(REQUESTS / 5);
const SEED = Number(process.env.FUZZ_SEED ?? fuzzSeedDefault);
const VALUE_BYTES_MAX = 64;
const REPLY_TIMEOUT_MS = 5_000;

type Json = Record<string, unknown>;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends one message and waits, with a deadline, for the one reply. */
async function ask(dealer: Dealer, frames: Uint8Array[]): Promise<Uint8Array[]> {
  await dealer.send(frames);
  return within(dealer.receive(), REPLY_TIMEOUT_MS, "the node's reply");
}

async function askJson(dealer: Dealer, body: Json): Promise<Json> {
  const reply = await ask(dealer, [encoder.encode(JSON.stringify(body))]);
  expect(reply).toHaveLength(1);
  return JSON.parse(decoder.decode(reply[0])) as Json;
}

const messageArb = fc.record({
  envelope: fc.oneof(
    fc.constant<Uint8Array[]>([]),
    fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 2 }),
  ),
  body: requestFrameArb,
});

const title = `${REQUESTS} fuzzed requests to a node: one clear reply each, and it keeps serving`;
test(title, async () => {
  await using cluster = new Cluster();
  const node = await cluster.start({
    id: 1,
    rf: 1,
    extraArgs: ["--max-value", String(VALUE_BYTES_MAX)],
  });
  const dealer = new Dealer({ lingerMs: 0, reconnectIvlMs: 50 });
  const fresh = new Dealer({ lingerMs: 0, reconnectIvlMs: 50 });
  try {
    dealer.connect(node.endpoint);
    const isLeader = async () =>
      (await askJson(dealer, { id: 0, op: "HEARTBEAT" }))["role"] === "leader";
    await waitFor(isLeader, { what: "the node to lead" });

    const messages = fc.sample(messageArb, { numRuns: REQUESTS, seed: SEED });
    for (const [i, { envelope, body }] of messages.entries()) {
      const reply = await ask(dealer, [...envelope, body]);
      const context = `request ${i}: ${JSON.stringify(decoder.decode(body)).slice(0, 200)}`;
      expect(reply.slice(0, -1), context).toEqual(envelope);
      const parsed = parseReply(reply.at(-1) as Uint8Array);
      expect(parsed, context).not.toBeNull();
      const request = parseRequest(body, { valueBytesMax: VALUE_BYTES_MAX });
      if (!request.ok) {
        expect(parsed, context).toMatchObject({ ok: false, error: { code: request.code } });
        expect(JSON.stringify(parsed?.id)).toBe(JSON.stringify(request.id));
      }
    }

    expect(node.process.exitCode).toBeNull();
    fresh.connect(node.endpoint);
    const key = crypto.randomUUID();
    expect(await askJson(fresh, { id: "set", op: "SET", key, value: "after the fuzz" }))
      .toMatchObject({ id: "set", ok: true, status: "created" });
    expect(await askJson(fresh, { id: "get", op: "GET", key }))
      .toMatchObject({ id: "get", ok: true, found: true, value: "after the fuzz" });
    expect(node.stderr()).not.toMatch(/unhandled_rejection|request_failed|request_error|uncaught/i);
  } finally {
    await dealer.close();
    await fresh.close();
  }
});

const rawBytesArb = bytesArb(400);
const socketTypeArb = fc.constantFrom("DEALER", "ROUTER", "REQ", "SUB", "PUB", "PAIR", "dealer");

/** A ZMTP stream from a hostile peer: mostly a good greeting and READY, then anything. */
const zmtpStreamArb = fc
  .record({
    greeting: fc.oneof(
      fc.constant(encodeGreeting()),
      fc.constant(encodeGreeting()),
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
    ),
    ready: fc.oneof(
      fc.tuple(socketTypeArb, rawBytesArb)
        .map(([type, identity]) => encodeReady(type, identity)),
      fc.record({ name: fc.string({ maxLength: 8 }), data: rawBytesArb })
        .map(({ name, data }) => encodeCommand(name, data)),
    ),
    frames: fc.array(
      fc.oneof(
        fc.array(rawBytesArb, { minLength: 1, maxLength: 3 }).map((parts) => encodeMessage(parts)),
        fc.record({
          name: fc.constantFrom("PING", "PONG", "SUBSCRIBE", "CANCEL", "READY", "ERROR", "HELLO"),
          data: rawBytesArb,
        }).map(({ name, data }) => encodeCommand(name, data)),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((size) => {
          const header = new Uint8Array(9);
          header[0] = FLAG_LONG;
          new DataView(header.buffer).setBigUint64(1, size);
          return header;
        }),
        rawBytesArb,
      ),
      { maxLength: 8 },
    ),
    port: fc.constantFrom("client", "peer", "pub"),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
  })
  .map(({ greeting, ready, frames, port, cuts }) => ({
    port,
    chunks: splitAt(concatBytes([greeting, ready, ...frames]), cuts),
  }));

test(`${STREAMS} fuzzed ZMTP streams on raw TCP: the node keeps serving`, async () => {
  await using cluster = new Cluster();
  const node = await cluster.start({ id: 1, rf: 1 });
  const host = new URL(node.endpoint.replace("tcp://", "http://")).hostname;
  const endpoints = {
    client: node.endpoint,
    peer: `tcp://${host}:${node.peerPort}`,
    pub: node.pub,
  };
  const dealer = new Dealer({ lingerMs: 0, reconnectIvlMs: 50 });
  try {
    const streams = fc.sample(zmtpStreamArb, { numRuns: STREAMS, seed: SEED });
    const peers = await Promise.all(streams.map(async ({ port, chunks }) => {
      const raw = await RawPeer.connect(endpoints[port]);
      for (const chunk of chunks) await raw.write(chunk);
      return raw;
    }));
    // The node closes every connection whose stream broke ZMTP; the rest wait for more bytes.
    const closedByNode = () => peers.filter((p) => p.isClosed).length;
    const expectedClosed = Math.floor(STREAMS / 2);
    await waitFor(() => closedByNode() >= expectedClosed, {
      what: `the node to close at least ${expectedClosed} of ${STREAMS} broken streams`,
    });
    for (const raw of peers) raw.close();
    dealer.connect(node.endpoint);
    const key = crypto.randomUUID();
    const isLeader = async () =>
      (await askJson(dealer, { id: 0, op: "HEARTBEAT" }))["role"] === "leader";
    await waitFor(isLeader, { what: "the node to lead" });
    expect(await askJson(dealer, { id: "set", op: "SET", key, value: "after raw fuzz" }))
      .toMatchObject({ id: "set", ok: true, status: "created" });
    expect(await askJson(dealer, { id: "get", op: "GET", key }))
      .toMatchObject({ id: "get", ok: true, found: true, value: "after raw fuzz" });
    expect(node.process.exitCode).toBeNull();
    expect(node.stderr()).not.toMatch(/unhandled_rejection|uncaught|TypeError|RangeError/i);
  } finally {
    await dealer.close();
  }
});
