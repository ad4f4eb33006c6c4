// CurveZMQ (RFC 26) as ZMTP's CURVE mechanism: the handshake of both roles (HELLO, WELCOME,
// INITIATE, READY, ERROR) and the MESSAGE codec that boxes every frame afterwards.
// Pure: no I/O, no clock. The crypto backend and the random-byte source are injected, so tests
// are deterministic. Any failure ends the handshake; the caller closes the connection.
import { ZmtpProtocolError } from "../util/errors.ts";
import { FLAG_LONG, bytesToString, encodeCommand, parseProperties } from "./codec.ts";

export type RandomBytes = (length: number) => Uint8Array;

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const MAC_BYTES = 16;

/** The NaCl operations CURVE needs; curve-crypto.ts provides them from audited libraries. */
export interface CurveCrypto {
  readonly name: "libsodium-native" | "libsodium" | "noble";
  /** X25519 base-point multiplication: the public key of a 32-byte secret key. */
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
  /**
   * crypto_box_beforenm: the symmetric key a box between two key pairs uses. Null when the
   * peer's key is a low-order point (the shared secret would be all zeros).
   */
  boxKey(publicKey: Uint8Array, secretKey: Uint8Array): Uint8Array | null;
  /** XSalsa20-Poly1305 (crypto_secretbox_easy = crypto_box_easy_afternm): MAC then ciphertext. */
  seal(plaintext: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  /** The inverse of seal; null when the MAC does not verify. */
  open(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
  /**
   * seal without allocating: `region` holds MAC_BYTES of room followed by the plaintext and
   * ends up holding the box (MAC then ciphertext). The hot path of every MESSAGE sent.
   */
  sealInPlace(region: Uint8Array, nonce: Uint8Array, key: Uint8Array): void;
  /** open that may decrypt over `box` itself; returns the plaintext (a view) or null. */
  openInPlace(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
}

/** Flags inside a MESSAGE box (libzmq: msg_t::more and msg_t::command). */
export const BOX_FLAG_MORE = 0x01;
export const BOX_FLAG_COMMAND = 0x02;

const COOKIE_BYTES = 16 + MAC_BYTES + 2 * KEY_BYTES; // nonce + box(C' + s')
const HELLO_DATA_BYTES = 2 + 72 + KEY_BYTES + 8 + MAC_BYTES + 64;
const WELCOME_DATA_BYTES = 16 + MAC_BYTES + KEY_BYTES + COOKIE_BYTES;
const VOUCH_BYTES = MAC_BYTES + 2 * KEY_BYTES; // box(C' + S)
const INITIATE_DATA_MIN = COOKIE_BYTES + 8 + MAC_BYTES + KEY_BYTES + 16 + VOUCH_BYTES;
const READY_DATA_MIN = 8 + MAC_BYTES;
/** MESSAGE data around a frame body: short nonce, MAC and the flags byte. */
const MESSAGE_OVERHEAD = 8 + MAC_BYTES + 1;
/** Bytes "\x07MESSAGE" adds before the nonce. */
const MESSAGE_NAME_BYTES = 8;
/** Bytes a frame body grows by once boxed (excluding the frame header). */
export const CURVE_FRAME_OVERHEAD = MESSAGE_NAME_BYTES + MESSAGE_OVERHEAD;
/** Short nonces are u64 on the wire; ours stay below 2^53 so a number holds them exactly. */
const NONCE_MAX = Number.MAX_SAFE_INTEGER;

const ascii = new TextEncoder();
const MESSAGE_NAME = Uint8Array.of(7, ...ascii.encode("MESSAGE"));

/** A 24-byte nonce: a 16- or 8-byte ASCII prefix (RFC 26) followed by `tail`. */
function nonceOf(prefix: string, tail: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  nonce.set(ascii.encode(prefix));
  nonce.set(tail, NONCE_BYTES - tail.length);
  return nonce;
}

function shortNonceBytes(value: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / 0x1_0000_0000));
  view.setUint32(4, value >>> 0);
  return out;
}

/** Reads a u64 short nonce; values above 2^53 are never produced by a sane peer. */
function readShortNonce(bytes: Uint8Array, at: number): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  const high = view.getUint32(0);
  if (high >= 0x20_0000) return null;
  return high * 0x1_0000_0000 + view.getUint32(4);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

function join(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Boxes and opens MESSAGE commands once the handshake is done. Short nonces count up from
 * where the handshake left them and must strictly increase per direction (RFC 26 §2.5), so a
 * replayed, reordered or dropped-and-reinserted MESSAGE ends the connection.
 */
export class CurveCodec {
  private readonly crypto: CurveCrypto;
  private readonly key: Uint8Array;
  private readonly sendNonce: Uint8Array;
  private readonly receiveNonce: Uint8Array;
  private lastSent: number;
  private lastReceived: number;

  constructor(
    crypto: CurveCrypto,
    key: Uint8Array,
    role: "client" | "server",
    lastSent: number,
    lastReceived: number,
  ) {
    this.crypto = crypto;
    this.key = key;
    const ours = role === "client" ? "CurveZMQMESSAGEC" : "CurveZMQMESSAGES";
    const theirs = role === "client" ? "CurveZMQMESSAGES" : "CurveZMQMESSAGEC";
    this.sendNonce = nonceOf(ours, new Uint8Array(8));
    this.receiveNonce = nonceOf(theirs, new Uint8Array(8));
    this.lastSent = lastSent;
    this.lastReceived = lastReceived;
  }

  /** Encoded size of a boxed frame whose body is `bodyBytes` long, header included. */
  frameBytes(bodyBytes: number): number {
    const size = CURVE_FRAME_OVERHEAD + bodyBytes;
    return (size <= 255 ? 2 : 9) + size;
  }

  /** Boxes one frame as a MESSAGE command into `out` at `at`; returns the end offset. */
  writeFrame(body: Uint8Array, flags: number, out: Uint8Array, at: number): number {
    if (this.lastSent >= NONCE_MAX) throw new RangeError("CURVE short nonces exhausted");
    this.lastSent++;
    const nonce = this.sendNonce;
    const high = Math.floor(this.lastSent / 0x1_0000_0000);
    const low = this.lastSent >>> 0;
    nonce[16] = high >>> 24;
    nonce[17] = (high >>> 16) & 0xff;
    nonce[18] = (high >>> 8) & 0xff;
    nonce[19] = high & 0xff;
    nonce[20] = low >>> 24;
    nonce[21] = (low >>> 16) & 0xff;
    nonce[22] = (low >>> 8) & 0xff;
    nonce[23] = low & 0xff;
    const boxBytes = MAC_BYTES + 1 + body.length;
    const size = MESSAGE_NAME_BYTES + 8 + boxBytes;
    // libzmq sends MESSAGE as a plain final frame, without the COMMAND bit, and its frame
    // flags carry nothing: MORE and COMMAND travel inside the box.
    if (size <= 255) {
      out[at++] = 0;
      out[at++] = size;
    } else {
      out[at++] = FLAG_LONG;
      new DataView(out.buffer, out.byteOffset + at, 8).setBigUint64(0, BigInt(size));
      at += 8;
    }
    out.set(MESSAGE_NAME, at);
    at += MESSAGE_NAME_BYTES;
    out.set(nonce.subarray(16), at);
    at += 8;
    // The plaintext (flags, then the body) goes where the ciphertext will be, and is boxed
    // there: no allocation per frame.
    out[at + MAC_BYTES] = flags;
    out.set(body, at + MAC_BYTES + 1);
    this.crypto.sealInPlace(out.subarray(at, at + boxBytes), nonce, this.key);
    return at + boxBytes;
  }

  /** One boxed frame as its own buffer (commands: PING, PONG, SUBSCRIBE...). */
  encodeFrame(body: Uint8Array, flags: number): Uint8Array {
    const out = new Uint8Array(this.frameBytes(body.length));
    this.writeFrame(body, flags, out, 0);
    return out;
  }

  /** Opens the data of a MESSAGE command (everything after its name), decrypting over it. */
  open(data: Uint8Array): { flags: number; body: Uint8Array } | ZmtpProtocolError {
    if (data.length < MESSAGE_OVERHEAD) return new ZmtpProtocolError("malformed CURVE MESSAGE");
    const nonce = readShortNonce(data, 0);
    if (nonce === null || nonce <= this.lastReceived) {
      return new ZmtpProtocolError("CURVE MESSAGE nonce did not increase (replay or reorder)");
    }
    this.receiveNonce.set(data.subarray(0, 8), 16);
    const plaintext = this.crypto.openInPlace(data.subarray(8), this.receiveNonce, this.key);
    if (plaintext === null) return new ZmtpProtocolError("CURVE MESSAGE failed authentication");
    this.lastReceived = nonce;
    return { flags: plaintext[0] as number, body: plaintext.subarray(1) };
  }
}

/** What a completed handshake knows about the peer. */
export interface CurvePeer {
  /** The peer's long-term public key: the client's (server side) or the server's. */
  publicKey: Uint8Array;
  /** The peer's metadata (Socket-Type, Identity, ...), names lower case. */
  properties: Map<string, Uint8Array>;
  codec: CurveCodec;
}

export type CurveStep =
  | { kind: "continue"; send: Uint8Array[] }
  | { kind: "done"; send: Uint8Array[]; peer: CurvePeer }
  | { kind: "error"; send: Uint8Array[]; error: ZmtpProtocolError };

interface HandshakeBase {
  crypto: CurveCrypto;
  random: RandomBytes;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Our Socket-Type/Identity properties (codec.encodeMetadata). */
  metadata: Uint8Array;
}

export interface CurveClientOptions extends HandshakeBase {
  serverKey: Uint8Array;
}

export interface CurveServerOptions extends HandshakeBase {
  /** ZAP-style admission of a client's long-term key (RFC 27); absent admits every client. */
  authenticate?: (clientPublicKey: Uint8Array) => boolean;
}

function fail(message: string, send: Uint8Array[] = []): CurveStep {
  return { kind: "error", send, error: new ZmtpProtocolError(message) };
}

function failWith(error: ZmtpProtocolError): CurveStep {
  return { kind: "error", send: [], error };
}

function errorReason(data: Uint8Array): string {
  return bytesToString(data.subarray(1, 1 + (data[0] ?? 0)));
}

/** The client side: HELLO → (WELCOME) → INITIATE → (READY). */
export class CurveClientHandshake {
  private state: "welcome" | "ready" | "done" | "failed" = "welcome";
  private readonly options: CurveClientOptions;
  private readonly transientSecret: Uint8Array;
  private readonly transientPublic: Uint8Array;
  /** box(C' → S), used for HELLO and WELCOME. */
  private readonly helloKey: Uint8Array | null;
  private sessionKey: Uint8Array | null = null;
  private lastSent = 0;

  constructor(options: CurveClientOptions) {
    this.options = options;
    this.transientSecret = options.random(KEY_BYTES);
    this.transientPublic = options.crypto.publicKeyOf(this.transientSecret);
    this.helloKey = options.crypto.boxKey(options.serverKey, this.transientSecret);
  }

  /** HELLO, to send once the greetings are exchanged. */
  start(): CurveStep {
    if (this.helloKey === null) {
      this.state = "failed";
      return fail("CURVE server key is not a usable public key");
    }
    const nonce = shortNonceBytes(++this.lastSent);
    const signature = this.options.crypto.seal(
      new Uint8Array(64),
      nonceOf("CurveZMQHELLO---", nonce),
      this.helloKey,
    );
    const version = Uint8Array.of(1, 0);
    const padding = new Uint8Array(72);
    const data = join(version, padding, this.transientPublic, nonce, signature);
    return { kind: "continue", send: [encodeCommand("HELLO", data)] };
  }

  onCommand(name: string, data: Uint8Array): CurveStep {
    if (name === "ERROR" && (this.state === "welcome" || this.state === "ready")) {
      this.state = "failed";
      return fail(`peer refused the CURVE handshake: ${errorReason(data)}`);
    }
    const step =
      this.state === "welcome" && name === "WELCOME"
        ? this.onWelcome(data)
        : this.state === "ready" && name === "READY"
          ? this.onReady(data)
          : fail(`unexpected ${name} in the CURVE handshake`);
    if (step.kind === "error") this.state = "failed";
    return step;
  }

  private onWelcome(data: Uint8Array): CurveStep {
    const { crypto, random } = this.options;
    if (data.length !== WELCOME_DATA_BYTES || this.helloKey === null) {
      return fail("malformed CURVE WELCOME");
    }
    const box = crypto.open(
      data.subarray(16),
      nonceOf("WELCOME-", data.subarray(0, 16)),
      this.helloKey,
    );
    if (box === null) return fail("CURVE WELCOME failed authentication (wrong server key?)");
    const serverTransient = box.subarray(0, KEY_BYTES);
    const cookie = box.subarray(KEY_BYTES);
    this.sessionKey = crypto.boxKey(serverTransient, this.transientSecret);
    const vouchKey = crypto.boxKey(serverTransient, this.options.secretKey);
    if (this.sessionKey === null || vouchKey === null) return fail("CURVE WELCOME has a bad key");
    // The vouch proves that the holder of our long-term key chose this transient key for this
    // server (RFC 26): Box[C' + S](C → S'), to the server's transient key.
    const vouchNonce = random(16);
    const vouch = crypto.seal(
      join(this.transientPublic, this.options.serverKey),
      nonceOf("VOUCH---", vouchNonce),
      vouchKey,
    );
    const plaintext = join(this.options.publicKey, vouchNonce, vouch, this.options.metadata);
    const nonce = shortNonceBytes(++this.lastSent);
    const initiate = crypto.seal(plaintext, nonceOf("CurveZMQINITIATE", nonce), this.sessionKey);
    this.state = "ready";
    return { kind: "continue", send: [encodeCommand("INITIATE", join(cookie, nonce, initiate))] };
  }

  private onReady(data: Uint8Array): CurveStep {
    if (data.length < READY_DATA_MIN || this.sessionKey === null) {
      return fail("malformed CURVE READY");
    }
    const nonce = readShortNonce(data, 0);
    if (nonce === null) return fail("CURVE READY nonce out of range");
    const metadata = this.options.crypto.open(
      data.subarray(8),
      nonceOf("CurveZMQREADY---", data.subarray(0, 8)),
      this.sessionKey,
    );
    if (metadata === null) return fail("CURVE READY failed authentication");
    const properties = parseProperties(metadata);
    if (properties instanceof ZmtpProtocolError) return failWith(properties);
    this.state = "done";
    const { crypto, serverKey } = this.options;
    const codec = new CurveCodec(crypto, this.sessionKey, "client", this.lastSent, nonce);
    return { kind: "done", send: [], peer: { publicKey: serverKey, properties, codec } };
  }
}

/** The server side: (HELLO) → WELCOME → (INITIATE) → READY, or ERROR when refused. */
export class CurveServerHandshake {
  private state: "hello" | "initiate" | "done" | "failed" = "hello";
  private readonly options: CurveServerOptions;
  private clientTransient: Uint8Array | null = null;
  /**
   * Lives only between WELCOME and INITIATE of this one connection, and is erased when the
   * INITIATE arrives, so a cookie opens once. The connection's handshake deadline (30 s by
   * default) keeps it well inside RFC 26's 60-second cookie lifetime.
   */
  private cookieKey: Uint8Array | null = null;
  private lastReceived = 0;

  constructor(options: CurveServerOptions) {
    this.options = options;
  }

  onCommand(name: string, data: Uint8Array): CurveStep {
    const step =
      this.state === "hello" && name === "HELLO"
        ? this.onHello(data)
        : this.state === "initiate" && name === "INITIATE"
          ? this.onInitiate(data)
          : fail(`unexpected ${name} in the CURVE handshake`);
    if (step.kind === "error") this.state = "failed";
    return step;
  }

  private onHello(data: Uint8Array): CurveStep {
    const { crypto, random } = this.options;
    if (data.length !== HELLO_DATA_BYTES) return fail("malformed CURVE HELLO");
    if (data[0] !== 1 || data[1] !== 0) {
      return fail(`unsupported CURVE version ${data[0]}.${data[1]}`);
    }
    const clientTransient = data.slice(74, 74 + KEY_BYTES);
    const nonceTail = data.subarray(106, 114);
    const nonce = readShortNonce(data, 106);
    if (nonce === null || nonce === 0) return fail("CURVE HELLO nonce out of range");
    const helloKey = crypto.boxKey(clientTransient, this.options.secretKey);
    if (helloKey === null) return fail("CURVE HELLO has a bad key");
    const signature = crypto.open(
      data.subarray(114),
      nonceOf("CurveZMQHELLO---", nonceTail),
      helloKey,
    );
    if (signature === null || !isAllZero(signature)) {
      return fail("CURVE HELLO failed authentication (client has the wrong server key?)");
    }
    this.lastReceived = nonce;
    this.clientTransient = clientTransient;
    const transientSecret = random(KEY_BYTES);
    const transientPublic = crypto.publicKeyOf(transientSecret);
    this.cookieKey = random(KEY_BYTES);
    const cookieNonce = random(16);
    const cookie = join(
      cookieNonce,
      crypto.seal(
        join(clientTransient, transientSecret),
        nonceOf("COOKIE--", cookieNonce),
        this.cookieKey,
      ),
    );
    const welcomeNonce = random(16);
    const box = crypto.seal(
      join(transientPublic, cookie),
      nonceOf("WELCOME-", welcomeNonce),
      helloKey,
    );
    this.state = "initiate";
    return { kind: "continue", send: [encodeCommand("WELCOME", join(welcomeNonce, box))] };
  }

  private onInitiate(data: Uint8Array): CurveStep {
    const { crypto } = this.options;
    const cookieKey = this.cookieKey;
    this.cookieKey = null;
    if (data.length < INITIATE_DATA_MIN || cookieKey === null || this.clientTransient === null) {
      return fail("malformed CURVE INITIATE");
    }
    const cookie = crypto.open(
      data.subarray(16, COOKIE_BYTES),
      nonceOf("COOKIE--", data.subarray(0, 16)),
      cookieKey,
    );
    if (cookie === null) return fail("CURVE INITIATE carries a bad cookie");
    const clientTransient = cookie.subarray(0, KEY_BYTES);
    const transientSecret = cookie.subarray(KEY_BYTES);
    if (!sameBytes(clientTransient, this.clientTransient)) {
      return fail("CURVE INITIATE cookie is for another HELLO");
    }
    const nonce = readShortNonce(data, COOKIE_BYTES);
    if (nonce === null || nonce <= this.lastReceived) {
      return fail("CURVE INITIATE nonce did not increase");
    }
    const sessionKey = crypto.boxKey(clientTransient, transientSecret);
    if (sessionKey === null) return fail("CURVE INITIATE has a bad key");
    const plaintext = crypto.open(
      data.subarray(COOKIE_BYTES + 8),
      nonceOf("CurveZMQINITIATE", data.subarray(COOKIE_BYTES, COOKIE_BYTES + 8)),
      sessionKey,
    );
    if (plaintext === null) return fail("CURVE INITIATE failed authentication");
    const clientKey = plaintext.slice(0, KEY_BYTES);
    const vouchError = this.checkVouch(clientKey, plaintext, clientTransient, transientSecret);
    if (vouchError !== null) return fail(vouchError);
    const properties = parseProperties(plaintext.subarray(KEY_BYTES + 16 + VOUCH_BYTES));
    if (properties instanceof ZmtpProtocolError) return failWith(properties);
    if (this.options.authenticate !== undefined && !this.options.authenticate(clientKey)) {
      // libzmq reports a ZAP refusal as ERROR "400"; its clients then stop reconnecting.
      return fail("CURVE client key is not authorised", [
        encodeCommand("ERROR", join(Uint8Array.of(3), ascii.encode("400"))),
      ]);
    }
    const readyNonce = shortNonceBytes(1);
    const ready = crypto.seal(
      this.options.metadata,
      nonceOf("CurveZMQREADY---", readyNonce),
      sessionKey,
    );
    this.state = "done";
    return {
      kind: "done",
      send: [encodeCommand("READY", join(readyNonce, ready))],
      peer: {
        publicKey: clientKey,
        properties,
        codec: new CurveCodec(crypto, sessionKey, "server", 1, nonce),
      },
    };
  }

  /** The vouch must be Box[C' + S](C → S'): this client transient key, for this server. */
  private checkVouch(
    clientKey: Uint8Array,
    plaintext: Uint8Array,
    clientTransient: Uint8Array,
    transientSecret: Uint8Array,
  ): string | null {
    const { crypto } = this.options;
    const vouchKey = crypto.boxKey(clientKey, transientSecret);
    if (vouchKey === null) return "CURVE INITIATE has a bad client key";
    const vouch = crypto.open(
      plaintext.subarray(KEY_BYTES + 16, KEY_BYTES + 16 + VOUCH_BYTES),
      nonceOf("VOUCH---", plaintext.subarray(KEY_BYTES, KEY_BYTES + 16)),
      vouchKey,
    );
    if (vouch === null) return "CURVE vouch failed authentication";
    if (!sameBytes(vouch.subarray(0, KEY_BYTES), clientTransient)) {
      return "CURVE vouch names another transient key";
    }
    if (!sameBytes(vouch.subarray(KEY_BYTES), this.options.publicKey)) {
      return "CURVE vouch is for another server";
    }
    return null;
  }
}

export type CurveHandshake = CurveClientHandshake | CurveServerHandshake;
