// Typed errors shared by every layer. Wire codes are exactly those of docs/protocol.md; internal
// codes never go over the wire.

export type WireErrorCode =
  | "NOT_LEADER" | "INVALID_KEY" | "BAD_REQUEST" | "UNAVAILABLE" | "TIMEOUT" | "CONFLICT"
  | "COMPACTED";
export type InternalErrorCode =
  "ZMTP_PROTOCOL" | "STORAGE" | "CONFIG" | "CLOSED" | "HWM" | "CANCELLED";
export type ErrorCode = WireErrorCode | InternalErrorCode;

/** Base of every operating error: a person reads `message`, a program switches on `code`. */
export class KvError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "KvError";
  }
}

/** A compare-and-set found the key at another version: nothing was written. */
export class ConflictError extends KvError {
  /** The key's version when the write was refused; 0 when the key was absent. */
  readonly version: number;
  constructor(message: string, version: number) {
    super("CONFLICT", message);
    this.name = "ConflictError";
    this.version = version;
  }
}

/** A peer broke ZMTP: the one connection is closed, nothing else is affected. */
export class ZmtpProtocolError extends KvError {
  constructor(message: string) {
    super("ZMTP_PROTOCOL", message);
    this.name = "ZmtpProtocolError";
  }
}

/** Used on a socket that has been closed. */
export class SocketClosedError extends KvError {
  constructor(message = "socket is closed") {
    super("CLOSED", message);
    this.name = "SocketClosedError";
  }
}

/** A send that could not be queued because the peer's queue is full (or there is no peer). */
export class HighWaterMarkError extends KvError {
  constructor(message: string) {
    super("HWM", message);
    this.name = "HighWaterMarkError";
  }
}

/**
 * A durable write (or the read that backs it) failed in sqlite: disk full, I/O error, lock held
 * too long. The node must not acknowledge anything that depended on it (it stops with exit 3;
 * docs/architecture.md, Storage).
 */
export class StorageError extends KvError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("STORAGE", message, options);
    this.name = "StorageError";
  }
}

export class ConfigError extends KvError {
  constructor(message: string) {
    super("CONFIG", message);
    this.name = "ConfigError";
  }
}

/** The caller gave up on a request (Ctrl-C in the REPL): its reply, if any, is ignored. A write
 * may still have been carried out. */
export class CancelledError extends KvError {
  constructor(message: string) {
    super("CANCELLED", message);
    this.name = "CancelledError";
  }
}

export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Programmer errors only: never assert on input. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function unreachable(value: never): never {
  throw new AssertionError(`unreachable: ${JSON.stringify(value)}`);
}
