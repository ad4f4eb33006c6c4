// Socket options and their defaults. Pure data: no I/O.
import type { Logger } from "../util/log.ts";
import type { RandomBytes } from "./curve.ts";
import type { CurveCrypto } from "./curve-crypto.ts";

/**
 * CURVE security (RFC 26, as libzmq's ZMQ_CURVE_*): a server when serverKey is absent (it
 * answers with its key pair), a client when it is set. Keys are 32 raw bytes (z85Decode text).
 */
export interface CurveOptions {
  /** From loadCurveCrypto(). */
  crypto: CurveCrypto;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Client: the server's long-term public key. */
  serverKey?: Uint8Array;
  /**
   * Server, ZAP-style (RFC 27): admit a client that proved this long-term key, from this
   * "host:port"? Absent admits every client that completes the handshake.
   */
  authenticate?: (clientPublicKey: Uint8Array, peerAddress: string) => boolean;
  /** Source of transient keys, cookie keys and nonces; crypto.getRandomValues by default. */
  random?: RandomBytes;
}

export interface SocketOptions {
  /** Identity sent in READY (DEALER/ROUTER). Empty or absent: the peer generates one. */
  routingId?: Uint8Array | string;
  /** Outgoing queue bound per peer, in whole messages (libzmq ZMQ_SNDHWM). */
  sendHwm?: number;
  /**
   * Outgoing bound per peer in bytes: queued messages plus the connection's unsent write
   * buffer (plus, on a ROUTER serving requests, the requests in flight). Checked before a
   * message is added, so one message may overshoot it; messages up to SMALL_MESSAGE_BYTES are
   * exempt. Over it PUB drops, DEALER waits, ROUTER drops (or refuses, see Router.answer).
   */
  sendHwmBytes?: number;
  /** The same bound for all peers of the socket together. */
  sendBytesMax?: number;
  /** Incoming queue bound for the socket, in whole messages; reading pauses above it. */
  receiveHwm?: number;
  /** Largest message accepted from a peer, in bytes (all frames); larger closes the connection. */
  maxMessageBytes?: number;
  /**
   * A message above maxMessageBytes but at most this is read past as it streams (only
   * excerpts are kept) and handed to the socket type as oversized; a ROUTER delivers it so the
   * application can answer (Router.oversizeOf), other types close the connection. Above it,
   * and when this is not above maxMessageBytes, the connection is closed.
   */
  oversizedBytesMax?: number;
  /** Accepted connections open at once, handshaking or not; more are closed on arrival. */
  connectionsMax?: number;
  /** Close a connection that has sent nothing at all for this long (0 = never). */
  idleTimeoutMs?: number;
  /**
   * PINGs a peer may send per second, with bursts of as many; a faster peer is closed as a
   * protocol error. libzmq pings once per heartbeat interval; a flood only costs us CPU.
   */
  pingsPerSecondMax?: number;
  /**
   * ROUTER serving requests, one answer each (Router.answer): requests delivered and not yet
   * answered, per peer and in total. A request over either cap, or arriving while its peer or
   * the socket is over its byte limit, waits and reading from that peer pauses.
   */
  requestsInFlightMax?: number;
  requestsInFlightTotalMax?: number;
  /** PUB: distinct prefixes one subscriber may hold; further SUBSCRIBEs are ignored. */
  subscriptionsMax?: number;
  /** PUB: a SUBSCRIBE with a longer prefix is ignored. */
  subscriptionBytesMax?: number;
  /**
   * PUB: topic prefixes a subscriber must never silently miss. A subscriber with no room for
   * such a message is disconnected instead (its SUB reconnects, and the disconnect tells it a
   * gap may have opened); other messages are dropped as ZeroMQ's PUB does.
   */
  gaplessTopics?: readonly Uint8Array[];
  /** Greeting + READY must complete within this, or the connection is closed. */
  handshakeTimeoutMs?: number;
  /** First reconnect wait; a random 0..ivl jitter is added. */
  reconnectIvlMs?: number;
  /** Reconnect waits double up to this cap. */
  reconnectIvlMaxMs?: number;
  /** How long close() keeps flushing queued messages before discarding them. */
  lingerMs?: number;
  /** ROUTER: throw on a message to an unknown peer instead of dropping it silently. */
  routerMandatory?: boolean;
  /** ROUTER: a newcomer with a duplicate identity takes it over and the old connection closes. */
  routerHandover?: boolean;
  /** Send a ZMTP PING this often once connected (0 = off). */
  heartbeatIvlMs?: number;
  /** Close when nothing arrives this long after a PING (default: heartbeatIvlMs). */
  heartbeatTimeoutMs?: number;
  /** CURVE instead of the NULL mechanism; every peer must then speak CURVE. */
  curve?: CurveOptions;
  logger?: Logger;
}

export type ResolvedOptions = Required<Omit<SocketOptions, "routingId" | "logger" | "curve">> & {
  routingId: Uint8Array;
  logger: Logger;
  curve?: CurveOptions;
};

export const socketDefaults = {
  sendHwm: 1000,
  sendHwmBytes: Number.POSITIVE_INFINITY,
  sendBytesMax: Number.POSITIVE_INFINITY,
  receiveHwm: 1000,
  maxMessageBytes: 64 * 1024 * 1024,
  oversizedBytesMax: 0,
  connectionsMax: Number.POSITIVE_INFINITY,
  idleTimeoutMs: 0,
  pingsPerSecondMax: 100,
  requestsInFlightMax: Number.POSITIVE_INFINITY,
  requestsInFlightTotalMax: Number.POSITIVE_INFINITY,
  subscriptionsMax: Number.POSITIVE_INFINITY,
  subscriptionBytesMax: Number.POSITIVE_INFINITY,
  gaplessTopics: [],
  handshakeTimeoutMs: 30_000,
  reconnectIvlMs: 100,
  reconnectIvlMaxMs: 3_200,
  lingerMs: 1_000,
  routerMandatory: false,
  routerHandover: false,
  heartbeatIvlMs: 0,
  heartbeatTimeoutMs: 0,
} as const;
