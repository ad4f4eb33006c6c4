// The limits a node puts on what clients can make it hold: connections, requests in flight,
// bytes of requests and replies, subscriptions. Four are node flags (an operator sizes them to
// the machine's memory and file descriptors); the rest are fixed here. Every figure is in README
// (Security).
import { defaults } from "../config.ts";
import { PARTITION_WATCH_TOPIC_PREFIX, WATCH_TOPIC_PREFIX } from "../protocol.ts";
import type { SocketOptions } from "../zmtp/index.ts";

/** What an operator may set (node flags). */
export interface ClientLimits {
  /** --max-connections: client connections open at once on the request port. */
  readonly connectionsMax: number;
  /** --max-client-buffer: bytes of requests in flight and unsent replies, all clients. */
  readonly bufferBytesMax: number;
  /** --handshake-timeout-ms: a connection must finish its ZMTP handshake within this. */
  readonly handshakeTimeoutMs: number;
  /** --idle-timeout-ms: a client connection silent this long is closed (0: never). */
  readonly idleTimeoutMs: number;
}

export const clientLimitDefaults: ClientLimits = Object.freeze({
  connectionsMax: defaults.node.connectionsMax,
  bufferBytesMax: defaults.node.clientBufferBytesMax,
  handshakeTimeoutMs: defaults.node.handshakeTimeoutMs,
  idleTimeoutMs: defaults.node.idleTimeoutMs,
});

/**
 * Bytes one client connection may hold: requests in flight plus replies not yet written. Above
 * it the node stops reading that connection, and a reply that does not fit is replaced by a
 * short UNAVAILABLE answer (a reply is checked before it is added, so one may overshoot).
 */
export const CONNECTION_BUFFER_BYTES = 4 * 1024 * 1024;
/** Requests one connection may have unanswered; more wait unread in the kernel. */
export const CONNECTION_REQUESTS_IN_FLIGHT_MAX = 32;
/**
 * Requests unanswered over all connections; a connection with nothing in flight and nothing
 * unsent may still send one, so clients that never read cannot shut out one that does.
 */
export const REQUESTS_IN_FLIGHT_TOTAL_MAX = 1024;
/**
 * A request above the message limit is read past and answered BAD_REQUEST up to this size; a
 * larger one closes the connection (reading it would only waste the node's time).
 */
export const OVERSIZED_REQUEST_BYTES_MAX = 64 * 1024 * 1024;

/** The publish port: subscribers only subscribe, so their messages and prefixes are small. */
export const PUB_MESSAGE_BYTES_MAX = 4096;
export const PUB_SUBSCRIPTIONS_MAX = 64;
export const PUB_SUBSCRIPTION_BYTES_MAX = 256;
/** Heartbeats queued for one subscriber that does not read; more are dropped (PUB). */
export const PUB_CONNECTION_BUFFER_BYTES = 1024 * 1024;

/** The request port's largest request: a value's JSON form may take 6 bytes per byte. */
export function requestBytesMax(valueBytesMax: number): number {
  return valueBytesMax * 6 + 65536;
}

/** Options of the request port's ROUTER. */
export function clientRouterOptions(valueBytesMax: number, limits: ClientLimits): SocketOptions {
  const maxMessageBytes = requestBytesMax(valueBytesMax);
  return {
    maxMessageBytes,
    oversizedBytesMax: Math.max(OVERSIZED_REQUEST_BYTES_MAX, 2 * maxMessageBytes),
    sendHwmBytes: CONNECTION_BUFFER_BYTES,
    sendBytesMax: limits.bufferBytesMax,
    requestsInFlightMax: CONNECTION_REQUESTS_IN_FLIGHT_MAX,
    requestsInFlightTotalMax: REQUESTS_IN_FLIGHT_TOTAL_MAX,
    connectionsMax: limits.connectionsMax,
    handshakeTimeoutMs: limits.handshakeTimeoutMs,
    idleTimeoutMs: limits.idleTimeoutMs,
  };
}

/** Options of the publish port's PUB. */
export function publisherOptions(limits: ClientLimits): SocketOptions {
  return {
    // libzmq's default queue: a watcher gets a burst of 1000 changes before it misses any (the
    // byte limit still bounds what a subscriber that never reads can hold).
    sendHwm: 1000,
    sendHwmBytes: PUB_CONNECTION_BUFFER_BYTES,
    maxMessageBytes: PUB_MESSAGE_BYTES_MAX,
    subscriptionsMax: PUB_SUBSCRIPTIONS_MAX,
    subscriptionBytesMax: PUB_SUBSCRIPTION_BYTES_MAX,
    // A watcher must see every change or learn that it missed some (WATCH since fills it).
    gaplessTopics: [WATCH_TOPIC_PREFIX, PARTITION_WATCH_TOPIC_PREFIX].map(
      (prefix) => new TextEncoder().encode(prefix),
    ),
    connectionsMax: limits.connectionsMax,
    handshakeTimeoutMs: limits.handshakeTimeoutMs,
  };
}
