// WATCH for the client library: one key's committed changes as an async iterator, in version
// order, each exactly once, across leader changes. The feed (PUB topic `w/<key>`) brings changes
// as they commit; a WATCH request with `since` fills what the feed cannot have brought: the time
// before the subscription was in force at the leader, and a new leader's first moments.
//
// The order of steps is what makes it gap-free: subscribe first; wait for a heartbeat from the
// leader on the same connection (its subscription was sent after ours, so ours is in force
// there); then ask WATCH since the last version seen. Every change committed after that is on
// the feed, every change before it is in the answer; the versions say which copies are the same.
import { KvError } from "../util/errors.ts";
import {
  HEARTBEAT_TOPIC,
  decodeHeartbeat,
  decodeWatchMessage,
  isWireErrorCode,
  normalizeKey,
  parseWatchChange,
  watchTopic,
  type LeaderInfo,
  type WatchChange,
} from "../protocol.ts";
import { type CurveOptions, Subscriber } from "../zmtp/index.ts";

/**
 * Merges the feed with WATCH answers (pure). `version`: every change up to it was delivered (or
 * came before the watch began). While an answer is awaited the feed is held back, since the
 * answer holds older changes that must come first.
 */
export class WatchMerge {
  private versionSeen: number | null;
  /** Until the first answer, the feed may run ahead of changes only the answer has. */
  private isFilling = true;
  private held: WatchChange[] = [];

  constructor(since: number | null) {
    this.versionSeen = since;
  }

  get version(): number | null {
    return this.versionSeen;
  }

  /** A WATCH request is about to be sent: hold the feed until its answer. */
  beginFill(): void {
    this.isFilling = true;
  }

  /** A change from the feed; returns what to deliver now (nothing while filling). */
  onFeed(change: WatchChange): WatchChange[] {
    if (this.isFilling || this.versionSeen === null) {
      this.held.push(change);
      return [];
    }
    return this.accept([change]);
  }

  /**
   * A WATCH answer complete up to `upTo`; `isLast`: no more to ask for now (the feed takes
   * over). Returns what to deliver: the answer's new changes, then the held feed after them.
   */
  onFill(changes: readonly WatchChange[], upTo: number, isLast: boolean): WatchChange[] {
    const out = this.versionSeen === null ? [] : this.accept(changes);
    this.versionSeen = Math.max(this.versionSeen ?? 0, upTo);
    if (!isLast) return out;
    this.isFilling = false;
    const held = this.held.sort((a, b) => a.version - b.version);
    this.held = [];
    return [...out, ...this.accept(held)];
  }

  /** A fill failed (it will be asked again): the held feed stays held. */
  endFillFailed(): void {
    this.isFilling = true;
  }

  private accept(changes: readonly WatchChange[]): WatchChange[] {
    const out: WatchChange[] = [];
    for (const change of changes) {
      if (this.versionSeen !== null && change.version <= this.versionSeen) continue;
      this.versionSeen = change.version;
      out.push(change);
    }
    return out;
  }
}

/** What a watch needs of the client. */
export interface WatchHost {
  readonly curve: CurveOptions | undefined;
  /** The leader as the client knows it, and every member's publish endpoint. */
  leader(): LeaderInfo | null;
  pubs(): string[];
  /** Runs on each leader change the client notices; returns the unsubscribe function. */
  onLeaderChanged(listener: () => void): () => void;
  /** A raw request to the leader (retried on NOT_LEADER, UNAVAILABLE, TIMEOUT). */
  request(body: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>>;
}

export interface WatchOptions {
  /** Deliver the changes after this version (from the change log); default: from now on. */
  readonly since?: number;
  /** Aborting ends the iteration. */
  readonly signal?: AbortSignal;
}

/** The leader's heartbeats may pause this long before the feed is taken as broken. */
const LEADER_SILENCE_MS = 1000;
const RETRY_PAUSE_MS = 100;

/** The changes of `key` as they commit; throws KvError COMPACTED when `since` is too old. */
export async function* watchKey(
  host: WatchHost,
  rawKey: string,
  options: WatchOptions = {},
): AsyncGenerator<WatchChange> {
  const key = normalizeKey(rawKey);
  if (key === null) throw new KvError("INVALID_KEY", "key is not a valid UUID4");
  if (options.signal?.aborted === true) return;
  const watch = new KeyWatch(host, key, options.since ?? null);
  const stop = (): void => void watch.close();
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      const change = await watch.next();
      if (change === null) return;
      yield change;
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
    await watch.close();
  }
}

/** One key's watch: its own SUB socket, the merge, and the resyncs. */
class KeyWatch {
  private readonly host: WatchHost;
  private readonly key: string;
  private readonly merge: WatchMerge;
  private readonly sub: Subscriber;
  private readonly connected = new Set<string>();
  private readonly heardMs = new Map<number, number>();
  private readonly ready: WatchChange[] = [];
  private waiter: (() => void) | null = null;
  private syncWaker: (() => void) | null = null;
  private failure: unknown = null;
  private isClosed = false;
  private isSyncDue = true;
  /** The highest term a leader's heartbeat named, and the term of the last completed fill. */
  private leaderTerm = 0;
  private syncedTerm = 0;
  private readonly aborter = new AbortController();
  private readonly offLeader: () => void;

  constructor(host: WatchHost, key: string, since: number | null) {
    this.host = host;
    this.key = key;
    this.merge = new WatchMerge(since);
    this.sub = new Subscriber({
      reconnectIvlMs: 50,
      reconnectIvlMaxMs: 400,
      ...(host.curve === undefined ? {} : { curve: host.curve }),
    });
    // The feed's subscription first: a heartbeat received proves it is in force (see top).
    this.sub.subscribe(watchTopic(key));
    this.sub.subscribe(HEARTBEAT_TOPIC);
    // A node closes a subscriber that falls behind the feed rather than drop a change silently;
    // any lost connection may hide a gap, so fill again once it is back.
    this.sub.on((event) => {
      if (event.type === "disconnected") this.syncSoon();
    });
    this.connectAll();
    this.offLeader = host.onLeaderChanged(() => this.syncSoon());
    void this.read();
    void this.syncLoop();
  }

  /** The next change, or null once closed; throws what ended the watch. */
  async next(): Promise<WatchChange | null> {
    for (;;) {
      const change = this.ready.shift();
      if (change !== undefined) return change;
      if (this.failure !== null) throw this.failure;
      if (this.isClosed) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.offLeader();
    this.aborter.abort();
    this.wake();
    this.wakeSync();
    await this.sub.close();
  }

  private deliver(changes: readonly WatchChange[]): void {
    if (changes.length === 0) return;
    this.ready.push(...changes);
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  private connectAll(): void {
    for (const pub of this.host.pubs()) {
      if (this.connected.has(pub)) continue;
      this.connected.add(pub);
      this.sub.connect(pub);
    }
  }

  /**
   * A gap may have opened: hold the feed at once (a new leader's first changes must wait for
   * the ones it adopted, which it never published), and fill again.
   */
  private syncSoon(): void {
    this.isSyncDue = true;
    this.merge.beginFill();
    this.wakeSync();
  }

  private wakeSync(): void {
    const waker = this.syncWaker;
    this.syncWaker = null;
    waker?.();
  }

  private async read(): Promise<void> {
    try {
      for await (const frames of this.sub) {
        const topic = frames[0];
        if (topic?.length === 2 && topic[0] === 0x68 && topic[1] === 0x62) {
          const info = decodeHeartbeat(frames);
          if (info === null) continue;
          this.heardMs.set(info.node.id, performance.now());
          // A leader of a newer term than the one we filled from: it may have adopted changes
          // it never published. A deposed leader's heartbeats (an older term) change nothing.
          if (info.role === "leader" && info.term > this.syncedTerm) {
            this.leaderTerm = Math.max(this.leaderTerm, info.term);
            this.syncSoon();
          }
          continue;
        }
        const change = decodeWatchMessage(frames);
        if (change !== null && change.key === this.key) this.deliver(this.merge.onFeed(change));
      }
    } catch (error) {
      if (!this.isClosed) this.fail(error);
    }
  }

  private fail(error: unknown): void {
    this.failure = error;
    this.wake();
  }

  /** Fills the gap whenever one may have opened: at the start, on a new leader, a silence. */
  private async syncLoop(): Promise<void> {
    while (!this.isClosed) {
      const leader = this.host.leader();
      const heard = leader === null ? undefined : this.heardMs.get(leader.id);
      if (leader !== null && heard !== undefined && performance.now() - heard > LEADER_SILENCE_MS) {
        this.syncSoon(); // the leader's feed went silent: the connection may have broken
      }
      if (!this.isSyncDue) {
        await this.pause(RETRY_PAUSE_MS);
        continue;
      }
      try {
        if (!(await this.sync())) await this.pause(RETRY_PAUSE_MS);
      } catch (error) {
        if (error instanceof KvError && isFinal(error.code)) return this.fail(error);
        if (this.isClosed) return;
        await this.pause(RETRY_PAUSE_MS);
      }
    }
  }

  /** One fill at the current leader; false when it must be tried again. */
  private async sync(): Promise<boolean> {
    this.connectAll();
    const leader = this.host.leader();
    if (leader === null) return false;
    const startedMs = performance.now();
    // A heartbeat from the leader after we began: our subscription is in force there.
    while ((this.heardMs.get(leader.id) ?? -1) < startedMs) {
      if (this.isClosed || this.host.leader()?.id !== leader.id) return false;
      await this.pause(20);
    }
    this.merge.beginFill();
    this.isSyncDue = false;
    const term = this.leaderTerm;
    for (;;) {
      const since = this.merge.version;
      const body = { op: "WATCH", key: this.key, ...(since === null ? {} : { since }) };
      let reply: Record<string, unknown>;
      try {
        reply = await this.host.request(body, this.aborter.signal);
      } catch (error) {
        this.merge.endFillFailed();
        throw error;
      }
      const answer = parseWatchAnswer(reply);
      // `more`: the answer stopped at its last change; ask again from there. A new gap found
      // meanwhile keeps the feed held for the next fill.
      const isLast = !answer.more && !this.isSyncDue;
      this.deliver(this.merge.onFill(answer.changes, answer.version, isLast));
      if (!answer.more) break;
    }
    this.syncedTerm = Math.max(this.syncedTerm, term);
    return this.host.leader()?.id === leader.id;
  }

  /** Waits `ms`, or less when a new leader or the close wakes the sync loop. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.syncWaker = null;
        resolve();
      }, ms);
      this.syncWaker = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function isFinal(code: string): boolean {
  return code === "COMPACTED" || code === "INVALID_KEY" || code === "BAD_REQUEST";
}

/** The ok fields of a WATCH reply, or the error it carries as a KvError. */
export function parseWatchAnswer(
  reply: Record<string, unknown>,
): { changes: WatchChange[]; version: number; more: boolean } {
  if (reply["ok"] === false) {
    const error = (reply["error"] ?? {}) as { code?: unknown; message?: unknown; oldest?: unknown };
    const code = isWireErrorCode(error.code) ? error.code : "UNAVAILABLE";
    const message = typeof error.message === "string" ? error.message : "WATCH failed";
    const oldest =
      typeof error.oldest === "number" ? ` (oldest version held: ${error.oldest})` : "";
    throw new KvError(code, `${message}${oldest}`);
  }
  const version = reply["version"];
  const raw = reply["changes"];
  const more = reply["more"] ?? false;
  if (typeof version !== "number" || !Array.isArray(raw) || typeof more !== "boolean") {
    throw new KvError("UNAVAILABLE", "the node sent a malformed WATCH reply");
  }
  const changes = raw.map(parseWatchChange);
  if (changes.some((c) => c === null)) {
    throw new KvError("UNAVAILABLE", "the node sent a malformed WATCH reply");
  }
  return { changes: changes as WatchChange[], version, more };
}
