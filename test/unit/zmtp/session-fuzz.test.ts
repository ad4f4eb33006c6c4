// Property-based fuzzing of one ZMTP connection's protocol machine (lib/zmtp/session.ts: the
// greeting, the NULL handshake, message assembly, PING/SUBSCRIBE/CANCEL) with fast-check. Any
// bytes in any chunks: push never throws; its events keep their order (ready once and first,
// error at most once and last, nothing after it); no message exceeds the byte or frame limits;
// how the bytes were cut never changes the outcome; and breaking the greeting's checked bytes
// or declaring an oversized frame is refused with a ZmtpProtocolError.
//
// CI runs a fixed seed; FUZZ_RUNS / FUZZ_SEED change it (test/harness/fuzz.ts).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { ZmtpProtocolError } from "../../../lib/util/errors.ts";
import {
  FLAG_COMMAND,
  FLAG_LONG,
  concatBytes,
  encodeCommand,
  encodeFrameHeader,
  encodeGreeting,
  encodeMessage,
  encodeReady,
} from "../../../lib/zmtp/codec.ts";
import { Session, type SessionEvent, encodePing } from "../../../lib/zmtp/session.ts";
import { bytesArb, cutsArb, fuzzSettings, splitAt } from "../../harness/fuzz.ts";

const { parameters, timeoutMs } = fuzzSettings(500);

/** Our side is the node's client port: a ROUTER, under a small message limit. */
const MESSAGE_BYTES_MAX = 1024;
const COMMAND_BYTES_MAX = 64 * 1024;

function newSession(): Session {
  return new Session({
    socketType: "ROUTER",
    identity: new Uint8Array(0),
    maxMessageBytes: MESSAGE_BYTES_MAX,
  });
}

/** Pushes each chunk; returns the events of every push, checking the per-push rules. */
function run(chunks: readonly Uint8Array[]): SessionEvent[] {
  const session = newSession();
  const events: SessionEvent[] = [];
  for (const chunk of chunks) {
    const wasFailed = session.hasFailed;
    const pushed = session.push(chunk);
    if (wasFailed) expect(pushed).toEqual([]);
    events.push(...pushed);
  }
  expect(session.hasFailed).toBe(events.some((e) => e.type === "error"));
  return events;
}

/** The rules every sequence of events keeps, whatever the input. */
function expectWellFormed(events: readonly SessionEvent[]): void {
  let isReady = false;
  events.forEach((event, i) => {
    switch (event.type) {
      case "error":
        expect(event.error).toBeInstanceOf(ZmtpProtocolError);
        expect(event.error.message.length).toBeGreaterThan(0);
        expect(i).toBe(events.length - 1);
        return;
      case "ready":
        expect(isReady).toBe(false);
        expect(event.peer.socketType).toMatch(/^(REQ|DEALER|ROUTER)$/);
        expect(event.peer.identity.length).toBeLessThanOrEqual(255);
        isReady = true;
        return;
      case "message": {
        expect(isReady).toBe(true);
        expect(event.frames.length).toBeGreaterThan(0);
        expect(event.frames.length).toBeLessThanOrEqual(65_536);
        const bytes = event.frames.reduce((n, f) => n + f.length, 0);
        expect(bytes).toBeLessThanOrEqual(MESSAGE_BYTES_MAX);
        return;
      }
      case "subscribe":
      case "cancel":
        expect(isReady).toBe(true);
        expect(event.prefix.length).toBeLessThanOrEqual(COMMAND_BYTES_MAX);
        return;
      case "ping":
        expect(isReady).toBe(true);
        expect(event.ttlMs).toBeGreaterThan(0);
        expect(event.ttlMs).toBeLessThanOrEqual(0xffff * 100);
        return;
      case "send":
        // Our READY, or a PONG whose context is cut to 16 bytes: never an echo of peer data.
        expect(event.bytes.length).toBeLessThanOrEqual(64);
        return;
    }
  });
}

/** Cutting the bytes differently never changes whether the session fails, nor what a clean
 * session reports. (A failing push drops the frames it had decoded, so only types are compared
 * up to a failure.) */
function expectSplitInvariant(bytes: Uint8Array, cuts: readonly number[]): SessionEvent[] {
  const whole = run([bytes]);
  const split = run(splitAt(bytes, cuts));
  expectWellFormed(whole);
  expectWellFormed(split);
  const failed = (events: SessionEvent[]) => events.some((e) => e.type === "error");
  expect(failed(split)).toBe(failed(whole));
  if (!failed(whole)) expect(split).toEqual(whole);
  return split;
}

// ---- generators ---------------------------------------------------------------------------------

const peerGreetingArb = fc
  .record({ padding: fc.uint8Array({ minLength: 8, maxLength: 8 }), minor: fc.nat(255) })
  .map(({ padding, minor }) => {
    const greeting = encodeGreeting();
    greeting.set(padding, 1);
    greeting[11] = minor;
    return greeting;
  });

const peerTypeArb = fc.constantFrom("DEALER", "REQ", "ROUTER");
const readyArb = fc
  .record({ type: peerTypeArb, identity: fc.option(bytesArb(255)) })
  .map(({ type, identity }) => encodeReady(type, identity ?? undefined));

/** What a well-behaved peer sends after READY. */
const trafficArb = fc.oneof(
  // Four frames of at most 250 bytes stay within MESSAGE_BYTES_MAX.
  fc.array(bytesArb(250), { minLength: 1, maxLength: 4 }).map((frames) => encodeMessage(frames)),
  fc.nat(0xffff * 100).map((ttlMs) => encodePing(ttlMs)),
  bytesArb(40).map((context) => encodeCommand("PING", concatBytes([Uint8Array.of(0, 1), context]))),
  bytesArb(40).map((prefix) => encodeCommand("SUBSCRIBE", prefix)),
  bytesArb(40).map((prefix) => encodeCommand("CANCEL", prefix)),
  bytesArb(40).map((data) => encodeCommand("PONG", data)),
);

const validStreamArb = fc
  .tuple(peerGreetingArb, readyArb, fc.array(trafficArb, { maxLength: 8 }))
  .map(([greeting, ready, traffic]) => concatBytes([greeting, ready, ...traffic]));

/** What a hostile peer may add: bad commands, bogus sizes, raw noise. */
const hostileArb = fc.oneof(
  trafficArb,
  fc.record({ name: fc.string({ maxLength: 12 }), data: bytesArb(200) })
    .map(({ name, data }) => encodeCommand(name, data)),
  bytesArb(40).map((data) => concatBytes([encodeFrameHeader(data.length + 1, FLAG_COMMAND),
    Uint8Array.of(0), data])),
  readyArb,
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((size) => {
    const header = new Uint8Array(9);
    header[0] = FLAG_LONG;
    new DataView(header.buffer).setBigUint64(1, size);
    return header;
  }),
  bytesArb(64),
);

// ---- properties ---------------------------------------------------------------------------------

test(
  "valid streams give the same events however they are cut",
  () => {
    fc.assert(
      fc.property(validStreamArb, cutsArb, (bytes, cuts) => {
        const events = expectSplitInvariant(bytes, cuts);
        expect(events.some((e) => e.type === "error")).toBe(false);
        expect(events.filter((e) => e.type === "ready")).toHaveLength(1);
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "random bytes, with or without a valid greeting and READY, never throw",
  () => {
    const prefixArb = fc.oneof(
      fc.constant(new Uint8Array(0)),
      peerGreetingArb,
      fc.tuple(peerGreetingArb, readyArb).map((parts) => concatBytes(parts)),
    );
    fc.assert(
      fc.property(prefixArb, bytesArb(600), cutsArb, (prefix, noise, cuts) => {
        expectSplitInvariant(concatBytes([prefix, noise]), cuts);
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "hostile traffic after a valid handshake never throws and keeps every limit",
  () => {
    fc.assert(
      fc.property(
        peerGreetingArb,
        readyArb,
        fc.array(hostileArb, { maxLength: 10 }),
        cutsArb,
        (greeting, ready, parts, cuts) => {
          expectSplitInvariant(concatBytes([greeting, ready, ...parts]), cuts);
        },
      ),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "flipped and truncated valid streams never throw, and cuts do not change the outcome",
  () => {
    const mutationArb = fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) });
    fc.assert(
      fc.property(
        validStreamArb,
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        cutsArb,
        (valid, mutations, keep, cuts) => {
          // One run in four also loses the stream's tail.
          const dropped = keep % 4 === 0 ? (keep >> 2) % valid.length : 0;
          const bytes = valid.slice(0, valid.length - dropped);
          for (const { at, xor } of mutations) {
            const index = at % bytes.length;
            bytes[index] = (bytes[index] as number) ^ xor;
          }
          expectSplitInvariant(bytes, cuts);
        },
      ),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "a change to a checked greeting byte is refused",
  () => {
    // Byte 0 must be 0xff, byte 9's low bit set, byte 10 (major) at least 3, 12-31 "NULL".
    const checkedArb = fc.oneof(
      fc.record({ at: fc.constant(0), xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ at: fc.constant(9), xor: fc.constant(1) }),
      fc.record({ at: fc.constant(10), xor: fc.constantFrom(1, 2, 3) }),
      fc.record({ at: fc.integer({ min: 12, max: 31 }), xor: fc.integer({ min: 1, max: 255 }) }),
    );
    fc.assert(
      fc.property(validStreamArb, checkedArb, cutsArb, (valid, { at, xor }, cuts) => {
        const bytes = valid.slice();
        bytes[at] = (bytes[at] as number) ^ xor;
        const events = expectSplitInvariant(bytes, cuts);
        expect(events.map((e) => e.type)).toEqual(["error"]);
      }),
      parameters,
    );
  },
  timeoutMs,
);

test(
  "a frame declared above the limit, up to 2^64 - 1, fails the session before its body",
  () => {
    const tooLargeArb = fc.bigInt({ min: BigInt(COMMAND_BYTES_MAX) + 1n, max: 2n ** 64n - 1n });
    fc.assert(
      fc.property(
        fc.tuple(peerGreetingArb, readyArb),
        tooLargeArb,
        fc.nat(7),
        cutsArb,
        (handshake, size, flags, cuts) => {
          const header = new Uint8Array(9);
          header[0] = FLAG_LONG | flags;
          new DataView(header.buffer).setBigUint64(1, size);
          const events = expectSplitInvariant(concatBytes([...handshake, header]), cuts);
          expect(events.at(-1)?.type).toBe("error");
        },
      ),
      parameters,
    );
  },
  timeoutMs,
);
