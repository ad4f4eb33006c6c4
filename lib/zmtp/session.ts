// One ZMTP connection's protocol state as a pure machine: greeting, NULL handshake, message
// assembly and connection-level commands (PING/PONG, SUBSCRIBE/CANCEL). No I/O, no timers:
// the connection shell feeds it bytes and carries out the events it returns.
import { ZmtpProtocolError } from "../util/errors.ts";
import {
  FrameDecoder,
  GREETING_BYTES,
  bytesToString,
  concatBytes,
  encodeCommand,
  encodeFrameHeader,
  encodeGreeting,
  encodeReady,
  parseCommand,
  parseGreeting,
  parseProperties,
} from "./codec.ts";
import { type SocketType, isCompatiblePeer, sendsIdentity } from "./socket-types.ts";

export interface PeerInfo {
  socketType: string;
  /** Empty when the peer gave none. */
  identity: Uint8Array;
  /** Minor version the peer announced (0 = ZMTP 3.0). */
  minor: number;
}

export type SessionEvent =
  | { type: "send"; bytes: Uint8Array }
  | { type: "ready"; peer: PeerInfo }
  | { type: "message"; frames: Uint8Array[] }
  | { type: "subscribe"; prefix: Uint8Array }
  | { type: "cancel"; prefix: Uint8Array }
  | { type: "ping"; ttlMs: number }
  | { type: "error"; error: ZmtpProtocolError };

export interface SessionOptions {
  socketType: SocketType;
  identity: Uint8Array;
  maxMessageBytes: number;
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

  constructor(options: SessionOptions) {
    this.options = options;
    this.decoder = new FrameDecoder(Math.max(options.maxMessageBytes, COMMAND_BYTES_MAX));
  }

  /** Our whole greeting, to be written as soon as TCP connects (never wait for the peer's). */
  start(): Uint8Array {
    return encodeGreeting();
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
      const parsed = parseGreeting(this.greeting);
      if (parsed instanceof ZmtpProtocolError) return this.fail(events, parsed);
      this.peerMinor = parsed.minor;
      this.state = "ready";
      const identity = sendsIdentity(this.options.socketType) ? this.options.identity : undefined;
      events.push({ type: "send", bytes: encodeReady(this.options.socketType, identity) });
      if (data.length === 0) return events;
    }
    const frames = this.decoder.push(data);
    if (frames instanceof ZmtpProtocolError) return this.fail(events, frames);
    for (const frame of frames) {
      if (frame.kind === "command") {
        this.onCommand(frame.body, events);
      } else if (this.state !== "traffic") {
        this.fail(events, new ZmtpProtocolError("message frame before READY"));
      } else {
        this.onFrame(frame.body, frame.more, events);
      }
      if (this.hasFailed) break;
    }
    return events;
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

  private onFrame(body: Uint8Array, more: boolean, events: SessionEvent[]): void {
    this.parts.push(body);
    this.partsBytes += body.length;
    if (this.partsBytes > this.options.maxMessageBytes) {
      this.fail(
        events,
        new ZmtpProtocolError(`message exceeds the limit of ${this.options.maxMessageBytes} bytes`),
      );
      return;
    }
    if (this.parts.length > FRAMES_PER_MESSAGE_MAX) {
      this.fail(events, new ZmtpProtocolError(`message has over ${FRAMES_PER_MESSAGE_MAX} frames`));
      return;
    }
    if (more) return;
    events.push({ type: "message", frames: this.parts });
    this.parts = [];
    this.partsBytes = 0;
  }

  private onCommand(body: Uint8Array, events: SessionEvent[]): void {
    const command = parseCommand(body);
    if (command instanceof ZmtpProtocolError) {
      this.fail(events, command);
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
        events.push({ type: "send", bytes: encodeCommand("PONG", context) });
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
    events.push({
      type: "ready",
      peer: { socketType, identity: identity.slice(), minor: this.peerMinor },
    });
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

export function encodePing(ttlMs: number): Uint8Array {
  const ttl = Math.min(0xffff, Math.floor(ttlMs / 100));
  return encodeCommand("PING", Uint8Array.of(ttl >> 8, ttl & 0xff));
}
