// CurveZMQ (RFC 26) as ZMTP's CURVE mechanism: the handshake of both roles (HELLO, WELCOME,
// INITIATE, READY, ERROR); curve-codec.ts boxes every frame afterwards.
// Pure: no I/O, no clock. The crypto backend and the random-byte source are injected, so tests
// are deterministic. Any failure ends the handshake; the caller closes the connection.
import { ZmtpProtocolError } from "../util/errors.ts";
import { bytesToString, encodeCommand, parseProperties } from "./codec.ts";
import {
  type CurveCrypto,
  CurveCodec,
  KEY_BYTES,
  MAC_BYTES,
  type RandomBytes,
  ascii,
  isAllZero,
  join,
  nonceOf,
  readShortNonce,
  sameBytes,
  shortNonceBytes,
} from "./curve-codec.ts";

export {
  BOX_FLAG_COMMAND,
  BOX_FLAG_MORE,
  CURVE_FRAME_OVERHEAD,
  CurveCodec,
  type CurveCrypto,
  KEY_BYTES,
  MAC_BYTES,
  NONCE_BYTES,
  type RandomBytes,
} from "./curve-codec.ts";

const COOKIE_BYTES = 16 + MAC_BYTES + 2 * KEY_BYTES; // nonce + box(C' + s')
const HELLO_DATA_BYTES = 2 + 72 + KEY_BYTES + 8 + MAC_BYTES + 64;
const WELCOME_DATA_BYTES = 16 + MAC_BYTES + KEY_BYTES + COOKIE_BYTES;
const VOUCH_BYTES = MAC_BYTES + 2 * KEY_BYTES; // box(C' + S)
const INITIATE_DATA_MIN = COOKIE_BYTES + 8 + MAC_BYTES + KEY_BYTES + 16 + VOUCH_BYTES;
const READY_DATA_MIN = 8 + MAC_BYTES;

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
    // X25519 ignores a key's top bit, so a HELLO whose key had it flipped on the wire would
    // still open; a real public key never has it set: refuse it here, not at the vouch.
    if (((clientTransient[KEY_BYTES - 1] as number) & 0x80) !== 0) {
      return fail("CURVE HELLO has a malformed transient key");
    }
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
