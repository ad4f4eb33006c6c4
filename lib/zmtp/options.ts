// Socket options and their defaults. Pure data: no I/O.
import type { Logger } from "../util/log.ts";

export interface SocketOptions {
  /** Identity sent in READY (DEALER/ROUTER). Empty or absent: the peer generates one. */
  routingId?: Uint8Array | string;
  /** Outgoing queue bound per peer, in whole messages (libzmq ZMQ_SNDHWM). */
  sendHwm?: number;
  /** Incoming queue bound for the socket, in whole messages; reading pauses above it. */
  receiveHwm?: number;
  /** Largest message accepted from a peer, in bytes (all frames); larger closes the connection. */
  maxMessageBytes?: number;
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
  logger?: Logger;
}

export type ResolvedOptions = Required<Omit<SocketOptions, "routingId" | "logger">> & {
  routingId: Uint8Array;
  logger: Logger;
};

export const socketDefaults = {
  sendHwm: 1000,
  receiveHwm: 1000,
  maxMessageBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 30_000,
  reconnectIvlMs: 100,
  reconnectIvlMaxMs: 3_200,
  lingerMs: 1_000,
  routerMandatory: false,
  routerHandover: false,
  heartbeatIvlMs: 0,
  heartbeatTimeoutMs: 0,
} as const;
