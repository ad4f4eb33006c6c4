// The CURVE state machine (RFC 26) without sockets: command sizes and boxes, the vouch, cookie
// use, ZAP-style refusal, nonce rules and tampering. Random bytes come from a counter, so every
// run produces the same bytes, and both crypto backends must produce exactly those bytes.
import { describe, expect, test } from "bun:test";
import { ZmtpProtocolError } from "../../../lib/util/errors.ts";
import { encodeMetadata, parseCommand, parseProperties } from "../../../lib/zmtp/codec.ts";
import {
  BOX_FLAG_COMMAND,
  BOX_FLAG_MORE,
  CurveClientHandshake,
  type CurveCodec,
  type CurvePeer,
  CurveServerHandshake,
  type CurveStep,
  type RandomBytes,
} from "../../../lib/zmtp/curve.ts";
import { type CurveCrypto, loadCurveCrypto } from "../../../lib/zmtp/curve-crypto.ts";

const crypto = await loadCurveCrypto();
const wasm = await loadCurveCrypto("libsodium");
const noble = await loadCurveCrypto("noble");

/** Deterministic bytes: a running counter mixed with a seed. Not random, only reproducible. */
function counterRandom(seed: number): RandomBytes {
  let counter = 0;
  return (length) => Uint8Array.from({ length }, () => (seed * 131 + 7 * counter++) & 0xff);
}

function keyPair(c: CurveCrypto, seed: number) {
  const secretKey = counterRandom(seed)(32);
  return { publicKey: c.publicKeyOf(secretKey), secretKey };
}

const server = keyPair(crypto, 1);
const client = keyPair(crypto, 2);
const other = keyPair(crypto, 3);
const serverMetadata = encodeMetadata("ROUTER", new Uint8Array(0));
const clientMetadata = encodeMetadata("DEALER", new TextEncoder().encode("abc"));

interface Setup {
  crypto?: CurveCrypto;
  serverKey?: Uint8Array;
  clientKeys?: { publicKey: Uint8Array; secretKey: Uint8Array };
  authenticate?: (key: Uint8Array) => boolean;
}

function handshakes(setup: Setup = {}) {
  const c = setup.crypto ?? crypto;
  const clientSide = new CurveClientHandshake({
    crypto: c,
    random: counterRandom(10),
    ...(setup.clientKeys ?? client),
    serverKey: setup.serverKey ?? server.publicKey,
    metadata: clientMetadata,
  });
  const serverSide = new CurveServerHandshake({
    crypto: c,
    random: counterRandom(20),
    ...server,
    metadata: serverMetadata,
    ...(setup.authenticate === undefined ? {} : { authenticate: setup.authenticate }),
  });
  return { clientSide, serverSide };
}

/** The command inside one encoded command frame. */
function commandOf(frame: Uint8Array): { name: string; data: Uint8Array; body: Uint8Array } {
  const body = frame.subarray((frame[0] as number) & 0x02 ? 9 : 2);
  const command = parseCommand(body);
  if (command instanceof ZmtpProtocolError) throw command;
  return { ...command, body };
}

function only(step: CurveStep): Uint8Array {
  expect(step.send.length).toBe(1);
  return step.send[0] as Uint8Array;
}

function feed(side: CurveClientHandshake | CurveServerHandshake, frame: Uint8Array): CurveStep {
  const { name, data } = commandOf(frame);
  return side.onCommand(name, data);
}

/** Runs a whole handshake and returns every frame sent plus both peers. */
function complete(setup: Setup = {}) {
  const { clientSide, serverSide } = handshakes(setup);
  const hello = only(clientSide.start());
  const welcomeStep = feed(serverSide, hello);
  const welcome = only(welcomeStep);
  const initiateStep = feed(clientSide, welcome);
  const initiate = only(initiateStep);
  const readyStep = feed(serverSide, initiate);
  const ready = only(readyStep);
  const doneStep = feed(clientSide, ready);
  if (readyStep.kind !== "done" || doneStep.kind !== "done") {
    throw new Error(`handshake did not complete: ${readyStep.kind}/${doneStep.kind}`);
  }
  return {
    frames: { hello, welcome, initiate, ready },
    serverPeer: readyStep.peer as CurvePeer,
    clientPeer: doneStep.peer as CurvePeer,
  };
}

function errorText(step: CurveStep): string {
  return step.kind === "error" ? step.error.message : `no error (${step.kind})`;
}

function flipped(frame: Uint8Array, at: number): Uint8Array {
  const copy = frame.slice();
  copy[at] = (copy[at] as number) ^ 0x01;
  return copy;
}

function openBody(codec: CurveCodec, frame: Uint8Array) {
  return codec.open(commandOf(frame).data);
}

describe("CURVE handshake (RFC 26)", () => {
  test("sizes: HELLO 200, WELCOME 168, INITIATE 257 + metadata, READY 30 + metadata", () => {
    const { frames } = complete();
    expect(commandOf(frames.hello).body.length).toBe(200);
    expect(commandOf(frames.welcome).body.length).toBe(168);
    expect(commandOf(frames.initiate).body.length).toBe(257 + clientMetadata.length);
    expect(commandOf(frames.ready).body.length).toBe(30 + serverMetadata.length);
    expect(commandOf(frames.hello).name).toBe("HELLO");
    // HELLO: version 1.0, then 72 bytes of anti-amplification padding, all zero.
    const hello = commandOf(frames.hello).data;
    expect([...hello.subarray(0, 2)]).toEqual([1, 0]);
    expect(hello.subarray(2, 74).every((b) => b === 0)).toBe(true);
  });

  test("each side learns the other's long-term key and metadata", () => {
    const { serverPeer, clientPeer } = complete();
    expect(serverPeer.publicKey).toEqual(client.publicKey);
    expect(clientPeer.publicKey).toEqual(server.publicKey);
    const props = parseProperties(clientMetadata) as Map<string, Uint8Array>;
    expect(serverPeer.properties).toEqual(props);
    const serverProps = parseProperties(serverMetadata) as Map<string, Uint8Array>;
    expect(clientPeer.properties).toEqual(serverProps);
  });

  test("every backend produces the same bytes for the same keys and random source", () => {
    expect(crypto.name).toBe("libsodium-native"); // the system library, as CI installs it
    const native = complete({ crypto }).frames;
    expect(complete({ crypto: wasm }).frames).toEqual(native);
    expect(complete({ crypto: noble }).frames).toEqual(native);
  });

  test("the server's long-term key never appears on the wire, nor the client's in clear", () => {
    const { frames } = complete();
    const wire = Buffer.concat(Object.values(frames));
    expect(wire.indexOf(Buffer.from(server.publicKey))).toBe(-1);
    expect(wire.indexOf(Buffer.from(client.publicKey))).toBe(-1);
  });

  test("a client with the wrong server key is refused at HELLO, without an answer", () => {
    const { clientSide, serverSide } = handshakes({ serverKey: other.publicKey });
    const step = feed(serverSide, only(clientSide.start()));
    expect(errorText(step)).toContain("CURVE HELLO failed authentication");
    expect(step.send).toEqual([]);
  });

  test("a client claiming a key whose secret it lacks fails the vouch", () => {
    const impostor = { publicKey: client.publicKey, secretKey: other.secretKey };
    const { clientSide, serverSide } = handshakes({ clientKeys: impostor });
    const welcome = only(feed(serverSide, only(clientSide.start())));
    const step = feed(serverSide, only(feed(clientSide, welcome)));
    expect(errorText(step)).toBe("CURVE vouch failed authentication");
  });

  test("authenticate sees the client's long-term key; refusal sends ERROR 400", () => {
    const seen: Uint8Array[] = [];
    const { clientSide, serverSide } = handshakes({
      authenticate: (key) => {
        seen.push(key);
        return false;
      },
    });
    const welcome = only(feed(serverSide, only(clientSide.start())));
    const refused = feed(serverSide, only(feed(clientSide, welcome)));
    expect(seen).toEqual([client.publicKey]);
    expect(errorText(refused)).toBe("CURVE client key is not authorised");
    const error = commandOf(only(refused));
    expect(error.name).toBe("ERROR");
    expect([...error.data]).toEqual([3, 0x34, 0x30, 0x30]);
    expect(errorText(feed(clientSide, only(refused)))).toBe(
      "peer refused the CURVE handshake: 400",
    );
  });

  test("an admitted key completes", () => {
    const admitted = complete({ authenticate: (key) => Buffer.from(key).equals(client.publicKey) });
    expect(admitted.serverPeer.publicKey).toEqual(client.publicKey);
  });

  test("a cookie opens once: a replayed INITIATE is refused", () => {
    const { clientSide, serverSide } = handshakes();
    const welcome = only(feed(serverSide, only(clientSide.start())));
    const initiate = only(feed(clientSide, welcome));
    expect(feed(serverSide, initiate).kind).toBe("done");
    expect(errorText(feed(serverSide, initiate))).toBe(
      "unexpected INITIATE in the CURVE handshake",
    );
  });

  test("an INITIATE taken to another connection fails on that connection's cookie key", () => {
    const first = handshakes();
    const welcome = only(feed(first.serverSide, only(first.clientSide.start())));
    const initiate = only(feed(first.clientSide, welcome));
    // Same client HELLO replayed to a second server connection, which has its own cookie key.
    const second = new CurveServerHandshake({
      crypto,
      random: counterRandom(99),
      ...server,
      metadata: serverMetadata,
    });
    expect(feed(second, only(handshakes().clientSide.start())).kind).toBe("continue");
    expect(errorText(feed(second, initiate))).toBe("CURVE INITIATE carries a bad cookie");
  });

  test("one flipped bit anywhere in a box ends the handshake", () => {
    const hello = complete().frames.hello;
    for (const at of [2 + 80, 2 + 120, 2 + 199]) {
      const { clientSide, serverSide } = handshakes();
      clientSide.start();
      expect(feed(serverSide, flipped(hello, at)).kind).toBe("error");
    }
    for (let at = 2 + 8; at < 2 + 168; at += 13) {
      const { clientSide, serverSide } = handshakes();
      const welcome = only(feed(serverSide, only(clientSide.start())));
      expect(errorText(feed(clientSide, flipped(welcome, at)))).toContain("WELCOME");
    }
    const initiateLength = commandOf(complete().frames.initiate).body.length;
    for (let at = 3 + 9; at < 3 + initiateLength; at += 17) {
      const { clientSide, serverSide } = handshakes();
      const welcome = only(feed(serverSide, only(clientSide.start())));
      const initiate = only(feed(clientSide, welcome));
      expect(feed(serverSide, flipped(initiate, at)).kind).toBe("error");
    }
    const { clientSide, serverSide } = handshakes();
    const welcome = only(feed(serverSide, only(clientSide.start())));
    const ready = only(feed(serverSide, only(feed(clientSide, welcome))));
    expect(errorText(feed(clientSide, flipped(ready, ready.length - 1)))).toBe(
      "CURVE READY failed authentication",
    );
  });

  test("commands out of order and wrong sizes are refused", () => {
    const { clientSide, serverSide } = handshakes();
    const hello = only(clientSide.start());
    expect(errorText(serverSide.onCommand("INITIATE", new Uint8Array(300)))).toBe(
      "unexpected INITIATE in the CURVE handshake",
    );
    const fresh = handshakes().serverSide;
    const { data } = commandOf(hello);
    expect(errorText(fresh.onCommand("HELLO", data.subarray(1)))).toBe("malformed CURVE HELLO");
    expect(errorText(clientSide.onCommand("READY", new Uint8Array(40)))).toBe(
      "unexpected READY in the CURVE handshake",
    );
    const v2 = data.slice();
    v2[0] = 2;
    expect(errorText(handshakes().serverSide.onCommand("HELLO", v2))).toBe(
      "unsupported CURVE version 2.0",
    );
  });
});

describe("CURVE MESSAGE codec", () => {
  test("boxes frames with MORE and COMMAND inside the box; 33 bytes of overhead", () => {
    const { serverPeer, clientPeer } = complete();
    const body = new TextEncoder().encode("hello");
    const frame = clientPeer.codec.encodeFrame(body, BOX_FLAG_MORE);
    expect(frame.length).toBe(2 + 33 + body.length);
    expect(frame[0]).toBe(0); // a plain data frame, as libzmq sends MESSAGE
    expect(commandOf(frame).name).toBe("MESSAGE");
    expect(openBody(serverPeer.codec, frame)).toEqual({ flags: BOX_FLAG_MORE, body });
    const ping = serverPeer.codec.encodeFrame(Uint8Array.of(4), BOX_FLAG_COMMAND);
    const pingBody = { flags: BOX_FLAG_COMMAND, body: Uint8Array.of(4) };
    expect(openBody(clientPeer.codec, ping)).toEqual(pingBody);
    const large = serverPeer.codec.encodeFrame(new Uint8Array(300), 0);
    expect(large.length).toBe(9 + 33 + 300);
    expect(serverPeer.codec.frameBytes(300)).toBe(large.length);
  });

  test("short nonces continue from the handshake: client 3, 4, ...; server 2, 3, ...", () => {
    const { serverPeer, clientPeer } = complete();
    const nonceOf = (frame: Uint8Array) => commandOf(frame).data[7];
    expect(nonceOf(clientPeer.codec.encodeFrame(new Uint8Array(1), 0))).toBe(3);
    expect(nonceOf(clientPeer.codec.encodeFrame(new Uint8Array(1), 0))).toBe(4);
    expect(nonceOf(serverPeer.codec.encodeFrame(new Uint8Array(1), 0))).toBe(2);
  });

  test("a replayed or reordered MESSAGE is refused", () => {
    const { serverPeer, clientPeer } = complete();
    const first = clientPeer.codec.encodeFrame(Uint8Array.of(1), 0);
    const second = clientPeer.codec.encodeFrame(Uint8Array.of(2), 0);
    expect(openBody(serverPeer.codec, second)).toEqual({ flags: 0, body: Uint8Array.of(2) });
    const refusal = (frame: Uint8Array) => (openBody(serverPeer.codec, frame) as Error).message;
    expect(refusal(first)).toContain("nonce did not increase");
    expect(refusal(second)).toContain("nonce did not increase");
  });

  test("a MESSAGE from our own direction is refused (distinct nonce prefixes)", () => {
    const { serverPeer } = complete();
    // Nonces 2 and 3 are at or below the client's INITIATE nonce; 4 passes the nonce check.
    serverPeer.codec.encodeFrame(Uint8Array.of(1), 0);
    serverPeer.codec.encodeFrame(Uint8Array.of(1), 0);
    const own = serverPeer.codec.encodeFrame(Uint8Array.of(1), 0);
    expect((openBody(serverPeer.codec, own) as Error).message).toBe(
      "CURVE MESSAGE failed authentication",
    );
  });

  test("every flipped byte of a MESSAGE is detected, and the nonce is not consumed", () => {
    const { serverPeer, clientPeer } = complete();
    const frame = clientPeer.codec.encodeFrame(new TextEncoder().encode("payload"), 0);
    for (let at = 2 + 16; at < frame.length; at++) {
      expect(openBody(serverPeer.codec, flipped(frame, at))).toBeInstanceOf(ZmtpProtocolError);
    }
    expect(openBody(serverPeer.codec, frame)).not.toBeInstanceOf(ZmtpProtocolError);
  });

  test("frames boxed in place by one backend open in place with every other", () => {
    const backends = [crypto, wasm, noble];
    for (const sender of backends) {
      for (const receiver of backends) {
        const a = complete({ crypto: sender });
        const b = complete({ crypto: receiver });
        const body = new TextEncoder().encode(`${sender.name} to ${receiver.name}`);
        const frame = a.clientPeer.codec.encodeFrame(body, BOX_FLAG_MORE);
        // Same keys and random source: b's server side shares a's session key and nonces.
        expect(openBody(b.serverPeer.codec, frame)).toEqual({ flags: BOX_FLAG_MORE, body });
      }
    }
  });

  test("a MESSAGE too short to hold a box is refused", () => {
    const { serverPeer } = complete();
    expect((serverPeer.codec.open(new Uint8Array(24)) as Error).message).toBe(
      "malformed CURVE MESSAGE",
    );
  });
});
