// One ZMTP connection's protocol state as a pure machine: greeting, NULL or CURVE handshake,
// message assembly and connection-level commands (PING/PONG, SUBSCRIBE/CANCEL). No I/O, no
// timers: the connection shell feeds it bytes and carries out the events it returns. Under CURVE
// every frame after the handshake travels boxed in a MESSAGE command (curve.ts).
import { ZmtpProtocolError } from "../util/errors.ts";
import {
  FrameDecoder,
  GREETING_BYTES,
  bytesToString,
  concatBytes,
  encodeCommand,
  encodeFrameHeader,
  encodeGreeting,
  encodeMetadata,
  encodeReady,
  encodedMessageBytes,
  excerptOf,
  FLAG_COMMAND,
  FLAG_LONG,
  FLAG_MORE,
  parseCommand,
  parseGreeting,
  parseProperties,
  writeMessage,
} from "./codec.ts";
import {
  BOX_FLAG_COMMAND,
  BOX_FLAG_MORE,
  CURVE_FRAME_OVERHEAD,
  type CurveCodec,
  type CurveCrypto,
  CurveClientHandshake,
  type CurveHandshake,
  CurveServerHandshake,
  type CurveStep,
  type RandomBytes,
} from "./curve.ts";
import { type SocketType, isCompatiblePeer, sendsIdentity } from "./socket-types.ts";

export interface PeerInfo {
  socketType: string;
  /** Empty when the peer gave none. */
  identity: Uint8Array;
  /** Minor version the peer announced (0 = ZMTP 3.0). */
  minor: number;
  /** CURVE only: the peer's authenticated long-term public key (32 bytes). */
  publicKey?: Uint8Array;
}

/** CURVE settings of one connection; a client when serverKey is set, else a server. */
export interface CurveSecurity {
  crypto: CurveCrypto;
  random: RandomBytes;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  serverKey?: Uint8Array;
  /** Server: admit this client's long-term key? Absent admits any client that completes. */
  authenticate?: (clientPublicKey: Uint8Array) => boolean;
}

export type SessionEvent =
  | { type: "send"; bytes: Uint8Array }
  /**
   * A PING to answer with a PONG echoing `context` (encodePong). The shell may skip it while
   * an earlier PONG is still unsent, so the PONG is only built if it is sent.
   */
  | { type: "pong"; context: Uint8Array }
  | { type: "ready"; peer: PeerInfo }
  | { type: "message"; frames: Uint8Array[]; oversized?: Oversized }
  | { type: "subscribe"; prefix: Uint8Array }
  | { type: "cancel"; prefix: Uint8Array }
  | { type: "ping"; ttlMs: number }
  | { type: "error"; error: ZmtpProtocolError };

/**
 * A message over maxMessageBytes that was read past: its frames hold what fitted under the limit
 * and then excerpts (codec.excerptOf); `bytes` is the size the peer sent.
 */
export interface Oversized {
  bytes: number;
  limit: number;
}

export interface SessionOptions {
  socketType: SocketType;
  identity: Uint8Array;
  maxMessageBytes: number;
  /**
   * Messages above maxMessageBytes and up to this are read past and reported as oversized
   * instead of closing the connection. Absent (or not above maxMessageBytes): they close it.
   * Under CURVE a single frame above the limit still closes it: a box is only authenticated
   * whole, so it cannot be read past.
   */
  oversizedBytesMax?: number;
  /** Absent: the NULL mechanism. */
  curve?: CurveSecurity;
}

/** Frames per message are bounded too, so a flood of empty frames cannot exhaust memory. */
const FRAMES_PER_MESSAGE_MAX = 65_536;
/**
 * Commands (READY with metadata, SUBSCRIBE) may need more room than a small maxMessageBytes
 * allows; a message frame above maxMessageBytes is still refused when it is assembled.
 */
const COMMAND_BYTES_MAX = 64 * 1024;
/** libzmq truncates PING contexts to 16 bytes (docs/zmtp.md 4.2). */
const PING_CONTEXT_BYTES_MAX = 16;

type State = "greeting" | "ready" | "traffic" | "failed";

export class Session {
  private state: State = "greeting";
  private greeting = new Uint8Array(GREETING_BYTES);
  private greetingBytes = 0;
  private readonly decoder: FrameDecoder;
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private peerMinor = 1;
  private readonly options: SessionOptions;
  private handshake: CurveHandshake | null = null;
  /** Set once a CURVE handshake completes: every later frame is boxed and opened by it. */
  private codec: CurveCodec | null = null;
  /** Above maxMessageBytes a message is read past; above this the connection fails. */
  private readonly messageBytesHardMax: number;

  constructor(options: SessionOptions) {
    this.options = options;
    const boxBytes = options.curve === undefined ? 0 : CURVE_FRAME_OVERHEAD;
    const frameBytesMax = Math.max(options.maxMessageBytes + boxBytes, COMMAND_BYTES_MAX);
    this.messageBytesHardMax = Math.max(options.maxMessageBytes, options.oversizedBytesMax ?? 0);
    const skipBytesMax = options.curve === undefined ? this.messageBytesHardMax : 0;
    this.decoder = new FrameDecoder(frameBytesMax, skipBytesMax);
  }

  /** Our whole greeting, to be written as soon as TCP connects (never wait for the peer's). */
  start(): Uint8Array {
    const curve = this.options.curve;
    return curve === undefined
      ? encodeGreeting()
      : encodeGreeting("CURVE", curve.serverKey === undefined);
  }

  get isReady(): boolean {
    return this.state === "traffic";
  }

  get hasFailed(): boolean {
    return this.state === "failed";
  }

  get minor(): number {
    return this.peerMinor;
  }

  push(chunk: Uint8Array): SessionEvent[] {
    const events: SessionEvent[] = [];
    if (this.state === "failed") return events;
    let data = chunk;
    if (this.state === "greeting") {
      const take = Math.min(GREETING_BYTES - this.greetingBytes, data.length);
      this.greeting.set(data.subarray(0, take), this.greetingBytes);
      this.greetingBytes += take;
      data = data.subarray(take);
      if (this.greetingBytes < GREETING_BYTES) {
        return this.checkEarlyGreeting(events);
      }
      const parsed = parseGreeting(this.greeting, this.options.curve ? "CURVE" : "NULL");
      if (parsed instanceof ZmtpProtocolError) return this.fail(events, parsed);
      this.peerMinor = parsed.minor;
      this.state = "ready";
      this.startHandshake(events);
      if (data.length === 0 || this.hasFailed) return events;
    }
    const frames = this.decoder.push(data);
    if (frames instanceof ZmtpProtocolError) return this.fail(events, frames);
    for (const frame of frames) {
      if (this.codec !== null) {
        this.onBoxed(this.codec, frame.body, events);
      } else if (frame.kind === "command") {
        this.onCommand(frame.body, events);
      } else if (this.state !== "traffic") {
        this.fail(events, new ZmtpProtocolError("message frame before READY"));
      } else {
        this.onFrame(frame.body, frame.more, events, frame.skippedBytes);
      }
      if (this.hasFailed) break;
    }
    return events;
  }

  private startHandshake(events: SessionEvent[]): void {
    const { curve, socketType } = this.options;
    const identity = sendsIdentity(socketType) ? this.options.identity : undefined;
    if (curve === undefined) {
      events.push({ type: "send", bytes: encodeReady(socketType, identity) });
      return;
    }
    const handshakeOptions = { ...curve, metadata: encodeMetadata(socketType, identity) };
    if (curve.serverKey === undefined) {
      this.handshake = new CurveServerHandshake(handshakeOptions);
      return;
    }
    const client = new CurveClientHandshake({ ...handshakeOptions, serverKey: curve.serverKey });
    this.handshake = client;
    this.onCurveStep(client.start(), events);
  }

  private onCurveStep(step: CurveStep, events: SessionEvent[]): void {
    for (const bytes of step.send) events.push({ type: "send", bytes });
    if (step.kind === "error") {
      this.fail(events, step.error);
    } else if (step.kind === "done") {
      this.handshake = null;
      this.acceptPeer(step.peer.properties, events, step.peer.publicKey);
      if (!this.hasFailed) this.codec = step.peer.codec;
    }
  }

  /**
   * After a CURVE handshake every frame must be a MESSAGE holding one boxed frame. libzmq sends
   * it as a data frame, not a command, so the outer flags are not checked.
   */
  private onBoxed(codec: CurveCodec, body: Uint8Array, events: SessionEvent[]): void {
    const opened = codec.openFrame(body);
    if (opened instanceof ZmtpProtocolError) {
      this.fail(events, opened);
      return;
    }
    if ((opened.flags & BOX_FLAG_COMMAND) !== 0) this.onCommand(opened.body, events);
    else this.onFrame(opened.body, (opened.flags & BOX_FLAG_MORE) !== 0, events);
  }

  /** Encoded size of a message as this connection sends it (boxed under CURVE). */
  messageBytes(frames: readonly Uint8Array[]): number {
    const codec = this.codec;
    if (codec === null) return encodedMessageBytes(frames);
    let n = 0;
    for (const frame of frames) n += codec.frameBytes(frame.length);
    return n;
  }

  /** Writes a message into `out` at `at` as this connection sends it; returns the end. */
  writeMessage(frames: readonly Uint8Array[], out: Uint8Array, at: number): number {
    const codec = this.codec;
    if (codec === null) return writeMessage(frames, out, at);
    const last = frames.length - 1;
    for (let i = 0; i <= last; i++) {
      at = codec.writeFrame(frames[i] as Uint8Array, i < last ? BOX_FLAG_MORE : 0, out, at);
    }
    return at;
  }

  /**
   * One encoded control frame (PING, PONG, SUBSCRIBE, a 3.0 subscription message) as this
   * connection sends it: boxed under CURVE, with the command bit inside the box as libzmq does.
   */
  wrapFrame(frame: Uint8Array): Uint8Array {
    const codec = this.codec;
    if (codec === null) return frame;
    const flags = frame[0] ?? 0;
    const body = frame.subarray((flags & FLAG_LONG) !== 0 ? 9 : 2);
    const boxFlags =
      ((flags & FLAG_COMMAND) !== 0 ? BOX_FLAG_COMMAND : 0) |
      ((flags & FLAG_MORE) !== 0 ? BOX_FLAG_MORE : 0);
    return codec.encodeFrame(body, boxFlags);
  }

  /** Rejects non-ZMTP peers as soon as the signature bytes show it, not after 64 bytes. */
  private checkEarlyGreeting(events: SessionEvent[]): SessionEvent[] {
    const g = this.greeting;
    if (this.greetingBytes >= 1 && g[0] !== 0xff) {
      return this.fail(events, new ZmtpProtocolError("bad greeting signature (not a ZMTP peer)"));
    }
    if (this.greetingBytes >= 10 && ((g[9] ?? 0) & 1) !== 1) {
      return this.fail(events, new ZmtpProtocolError("bad greeting signature (ZMTP 1.0 peer)"));
    }
    if (this.greetingBytes >= 11 && (g[10] ?? 0) < 3) {
      return this.fail(events, new ZmtpProtocolError(`unsupported ZMTP version ${g[10]}.x`));
    }
    return events;
  }

  private onFrame(
    body: Uint8Array,
    more: boolean,
    events: SessionEvent[],
    skippedBytes?: number,
  ): void {
    this.partsBytes += skippedBytes ?? body.length;
    const limit = this.options.maxMessageBytes;
    if (this.partsBytes > this.messageBytesHardMax) {
      this.fail(
        events,
        new ZmtpProtocolError(`message exceeds the limit of ${this.messageBytesHardMax} bytes`),
      );
      return;
    }
    if (this.parts.length >= FRAMES_PER_MESSAGE_MAX) {
      this.fail(events, new ZmtpProtocolError(`message has over ${FRAMES_PER_MESSAGE_MAX} frames`));
      return;
    }
    // Past the limit only excerpts are kept, so an oversized message costs little to report.
    this.parts.push(this.partsBytes > limit ? excerptOf(body) : body);
    if (more) return;
    const message: SessionEvent = { type: "message", frames: this.parts };
    if (this.partsBytes > limit) message.oversized = { bytes: this.partsBytes, limit };
    events.push(message);
    this.parts = [];
    this.partsBytes = 0;
  }

  private onCommand(body: Uint8Array, events: SessionEvent[]): void {
    const command = parseCommand(body);
    if (command instanceof ZmtpProtocolError) {
      this.fail(events, command);
      return;
    }
    if (this.state === "ready" && this.handshake !== null) {
      this.onCurveStep(this.handshake.onCommand(command.name, command.data), events);
      return;
    }
    if (this.state === "ready") {
      if (command.name === "ERROR") {
        const reason = bytesToString(command.data.subarray(1, 1 + (command.data[0] ?? 0)));
        this.fail(events, new ZmtpProtocolError(`peer refused the handshake: ${reason}`));
        return;
      }
      if (command.name !== "READY") {
        this.fail(events, new ZmtpProtocolError(`expected READY, got ${command.name}`));
        return;
      }
      this.onReady(command.data, events);
      return;
    }
    // After the handshake: commands stop here and never reach socket logic (docs/zmtp.md 4.2).
    switch (command.name) {
      case "PING": {
        const ttl =
          command.data.length >= 2 ? ((command.data[0] ?? 0) << 8) | (command.data[1] ?? 0) : 0;
        const context = command.data.subarray(2, 2 + PING_CONTEXT_BYTES_MAX);
        // Built and boxed by the shell only if it sends it: no nonce or bytes wasted on a flood.
        events.push({ type: "pong", context });
        if (ttl > 0) events.push({ type: "ping", ttlMs: ttl * 100 });
        return;
      }
      case "SUBSCRIBE":
        events.push({ type: "subscribe", prefix: command.data });
        return;
      case "CANCEL":
        events.push({ type: "cancel", prefix: command.data });
        return;
      case "READY":
        this.fail(events, new ZmtpProtocolError("second READY"));
        return;
      default:
        // PONG and unknown commands are ignored, as libzmq does.
        return;
    }
  }

  private onReady(data: Uint8Array, events: SessionEvent[]): void {
    const props = parseProperties(data);
    if (props instanceof ZmtpProtocolError) {
      this.fail(events, props);
      return;
    }
    this.acceptPeer(props, events);
  }

  private acceptPeer(
    props: Map<string, Uint8Array>,
    events: SessionEvent[],
    publicKey?: Uint8Array,
  ): void {
    const typeBytes = props.get("socket-type");
    if (typeBytes === undefined) {
      this.fail(events, new ZmtpProtocolError("READY without Socket-Type"));
      return;
    }
    const socketType = bytesToString(typeBytes);
    if (!isCompatiblePeer(this.options.socketType, socketType)) {
      this.fail(
        events,
        new ZmtpProtocolError(
          `incompatible peer socket type ${socketType} for ${this.options.socketType}`,
        ),
      );
      return;
    }
    const identity = props.get("identity") ?? new Uint8Array(0);
    if (identity.length > 255) {
      this.fail(events, new ZmtpProtocolError("Identity longer than 255 bytes"));
      return;
    }
    this.state = "traffic";
    const peer: PeerInfo = { socketType, identity: identity.slice(), minor: this.peerMinor };
    if (publicKey !== undefined) peer.publicKey = publicKey;
    events.push({ type: "ready", peer });
  }

  private fail(events: SessionEvent[], error: ZmtpProtocolError): SessionEvent[] {
    this.state = "failed";
    events.push({ type: "error", error });
    return events;
  }
}

/** Subscribe/cancel as the peer understands it: a command for 3.1, a message for 3.0. */
export function encodeSubscription(
  prefix: Uint8Array,
  subscribe: boolean,
  peerMinor: number,
): Uint8Array {
  if (peerMinor >= 1) return encodeCommand(subscribe ? "SUBSCRIBE" : "CANCEL", prefix);
  const body = concatBytes([Uint8Array.of(subscribe ? 1 : 0), prefix]);
  return concatBytes([encodeFrameHeader(body.length, 0), body]);
}

export function encodePong(context: Uint8Array): Uint8Array {
  return encodeCommand("PONG", context);
}

export function encodePing(ttlMs: number): Uint8Array {
  const ttl = Math.min(0xffff, Math.floor(ttlMs / 100));
  return encodeCommand("PING", Uint8Array.of(ttl >> 8, ttl & 0xff));
}
