// Property-based fuzzing of whole CURVE sessions (lib/zmtp/session.ts over curve.ts) with
// fast-check. Two sessions with one byte of their conversation changed: nothing throws, and a
// handshake that still completes names the true keys and metadata, the change having hit a byte
// no one checks. A session taking frames from a peer without the keys, in any chunks, never
// becomes ready; after a real handshake nothing the peer did not box is delivered.
//
// CI runs a fixed seed; FUZZ_RUNS / FUZZ_SEED change it (test/harness/fuzz.ts).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { ZmtpProtocolError } from "../../../lib/util/errors.ts";
import {
  FLAG_LONG,
  concatBytes,
  encodeCommand,
  encodeMessage,
} from "../../../lib/zmtp/codec.ts";
import { Session, type SessionEvent } from "../../../lib/zmtp/session.ts";
import { bytesArb, cutsArb, fuzzSettings, splitAt } from "../../harness/fuzz.ts";
import {
  HELLO_PADDING,
  type World,
  commandArb,
  crypto,
  seededRandom,
  worldArb,
} from "./curve-fuzz-world.ts";

const { parameters, timeoutMs } = fuzzSettings(150);

// ---- two CURVE sessions, one byte changed ------------------------------------------------------

function sessions(world: World): { client: Session; server: Session } {
  return {
    server: new Session({
      socketType: "ROUTER",
      identity: new Uint8Array(0),
      maxMessageBytes: 1 << 16,
      curve: { crypto, random: seededRandom(world.serverRandom), ...world.server },
    }),
    client: new Session({
      socketType: "DEALER",
      identity: world.identity,
      maxMessageBytes: 1 << 16,
      curve: {
        crypto,
        random: seededRandom(world.clientRandom),
        ...world.client,
        serverKey: world.server.publicKey,
      },
    }),
  };
}

type Direction = "toServer" | "toClient";

/**
 * Shuttles bytes between the sessions until neither sends, changing the byte at offset `at` of
 * one direction's stream on its way. Returns each side's events (sends left out) and the bytes
 * each direction carried.
 */
function shuttle(world: World, change: { direction: Direction; at: number; xor: number } | null) {
  const { client, server } = sessions(world);
  const streams: Record<Direction, number[]> = { toServer: [], toClient: [] };
  const events: Record<"client" | "server", SessionEvent[]> = { client: [], server: [] };
  const carry = (direction: Direction, bytes: Uint8Array): Uint8Array => {
    const start = streams[direction].length;
    streams[direction].push(...bytes);
    if (change?.direction !== direction) return bytes;
    const offset = change.at - start;
    if (offset < 0 || offset >= bytes.length) return bytes;
    const copy = bytes.slice();
    copy[offset] = (copy[offset] as number) ^ change.xor;
    return copy;
  };
  let toServer = [carry("toServer", client.start())];
  let toClient = [carry("toClient", server.start())];
  for (let round = 0; round < 10 && toServer.length + toClient.length > 0; round++) {
    const atServer = toServer.flatMap((bytes) => server.push(bytes));
    const atClient = toClient.flatMap((bytes) => client.push(bytes));
    events.server.push(...atServer.filter((e) => e.type !== "send"));
    events.client.push(...atClient.filter((e) => e.type !== "send"));
    const sends = (list: SessionEvent[]) =>
      list.flatMap((e) => (e.type === "send" ? [e.bytes] : []));
    toClient = sends(atServer).map((bytes) => carry("toClient", bytes));
    toServer = sends(atClient).map((bytes) => carry("toServer", bytes));
  }
  return { events, streams, client, server };
}

/**
 * Offsets of a handshake stream whose change nobody checks, as libzmq does not either: the
 * greeting's padding, signature high bits, minor version, as-server flag and filler, and a
 * major version raised above 3 (read as 3.1, docs/zmtp.md 1.3); the reserved bits of each
 * frame's flags; HELLO's padding.
 */
function isUnchecked(stream: readonly number[], at: number, xor: number): boolean {
  if (at < 64) {
    if ((at >= 1 && at <= 8) || at === 11 || at >= 32) return true;
    if (at === 10) return ((stream[10] as number) ^ xor) >= 3;
    return at === 9 && (xor & 1) === 0;
  }
  let frame = 64;
  while (frame < stream.length) {
    const flags = stream[frame] as number;
    const headerBytes = (flags & FLAG_LONG) !== 0 ? 9 : 2;
    let size = 0;
    for (let i = 1; i < headerBytes; i++) size = size * 256 + (stream[frame + i] as number);
    if (at === frame) return (xor & 0x07) === 0;
    const body = frame + headerBytes;
    const name = String.fromCharCode(...stream.slice(body + 1, body + 6));
    const isHello = stream[body] === 5 && name === "HELLO";
    const data = body + 6;
    if (isHello && at >= data + HELLO_PADDING.start && at < data + HELLO_PADDING.end) return true;
    if (at < body + size) return false;
    frame = body + size;
  }
  return false;
}

test(
  "one changed byte in a CURVE conversation: no throw, and no peer is admitted on false keys",
  () => {
    fc.assert(
      fc.property(
        worldArb,
        fc.constantFrom<Direction>("toServer", "toClient"),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (world, direction, at, xor) => {
          const clean = shuttle(world, null).streams;
          const offset = at % clean[direction].length;
          const { events } = shuttle(world, { direction, at: offset, xor });
          const ready = (list: SessionEvent[]) => list.find((e) => e.type === "ready");
          const serverReady = ready(events.server);
          const clientReady = ready(events.client);
          for (const list of [events.server, events.client]) {
            for (const event of list) {
              if (event.type === "error") expect(event.error).toBeInstanceOf(ZmtpProtocolError);
            }
          }
          if (serverReady?.type === "ready" && clientReady?.type === "ready") {
            expect(isUnchecked(clean[direction], offset, xor)).toBe(true);
            expect(serverReady.peer.publicKey).toEqual(world.client.publicKey);
            expect(serverReady.peer.identity).toEqual(world.identity);
            expect(clientReady.peer.publicKey).toEqual(world.server.publicKey);
            expect(clientReady.peer.socketType).toBe("ROUTER");
          }
        },
      ),
      parameters,
    );
  },
  timeoutMs,
);

test("the session conversation without a change completes (the control for the above)", () => {
  fc.assert(
    fc.property(worldArb, (world) => {
      const { events } = shuttle(world, null);
      expect(events.server.map((e) => e.type)).toEqual(["ready"]);
      expect(events.client.map((e) => e.type)).toEqual(["ready"]);
    }),
    { ...parameters, numRuns: Math.min(parameters.numRuns ?? 50, 50) },
  );
});

// ---- a peer without the keys -------------------------------------------------------------------

/** Well-formed ZMTP frames a peer without the keys can send: commands of any name or data
 * (HELLO and INITIATE of the right sizes among them), plain frames, MESSAGE commands. */
const hostileFrameArb = fc.oneof(
  commandArb.map(({ name, data }) => encodeCommand(name, data)),
  bytesArb(300).filter((body) => body.length > 0).map((body) => encodeMessage([body])),
  bytesArb(300).map((data) => encodeCommand("MESSAGE", data)),
);

/** Pushes `bytes` in chunks; returns the events, checking none comes after an error. */
function pushAll(session: Session, bytes: Uint8Array, cuts: readonly number[]): SessionEvent[] {
  const events: SessionEvent[] = [];
  for (const chunk of splitAt(bytes, cuts)) {
    if (session.hasFailed) expect(session.push(chunk)).toEqual([]);
    else events.push(...session.push(chunk));
  }
  const errors = events.filter((e) => e.type === "error");
  expect(errors.length).toBeLessThanOrEqual(1);
  if (errors.length === 1) {
    expect(events.at(-1)?.type).toBe("error");
    expect(errors[0]?.type === "error" && errors[0].error).toBeInstanceOf(ZmtpProtocolError);
  }
  return events;
}

test(
  "a peer without the keys never gets a CURVE session to ready, whatever it sends",
  () => {
    fc.assert(
      fc.property(
        worldArb,
        fc.boolean(),
        fc.array(hostileFrameArb, { minLength: 1, maxLength: 6 }),
        cutsArb,
        (world, isServerAttacked, frames, cuts) => {
          // Against a server, a client that lacks the keys; against a client, a fake server.
          const { client, server } = sessions(world);
          const [target, impersonated] = isServerAttacked ? [server, client] : [client, server];
          target.start();
          const bytes = concatBytes([impersonated.start(), ...frames]);
          const events = pushAll(target, bytes, cuts);
          expect(events.some((e) => e.type === "ready" || e.type === "message")).toBe(false);
        },
      ),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "after a CURVE handshake, frames the peer did not box are refused and deliver nothing",
  () => {
    fc.assert(
      fc.property(
        worldArb,
        fc.array(hostileFrameArb, { minLength: 1, maxLength: 6 }),
        cutsArb,
        (world, frames, cuts) => {
          const { events: handshake, server } = shuttle(world, null);
          expect(handshake.server.map((e) => e.type)).toEqual(["ready"]);
          const events = pushAll(server, concatBytes(frames), cuts);
          expect(events.map((e) => e.type)).toEqual(["error"]);
        },
      ),
      parameters,
    );
  },
  timeoutMs,
);
