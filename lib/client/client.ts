// The Warehouse client library: finds the cluster from seed endpoints, follows the leader through
// heartbeats, sends requests with ids and per-attempt deadlines, and retries at the new leader
// (from a NOT_LEADER hint or a heartbeat) or the next node until a bounded time has passed.
// Used by the REPL, the tests and the benchmarks.
import type { PlacementRule } from "../placement.ts";
import { CancelledError, ConflictError, KvError, type WireErrorCode } from "../util/errors.ts";
import { type Logger, nullLogger } from "../util/log.ts";
import {
  type HeartbeatInfo,
  type LeaderInfo,
  decodeHeartbeat,
  encodeJson,
  leaderHintOf,
  normalizeKey,
  parseHeartbeat,
  HEARTBEAT_TOPIC,
} from "../protocol.ts";
import { type CurveOptions, Subscriber } from "../zmtp/index.ts";
import { type AttemptOutcome, NodeLink, type Pending } from "./node-link.ts";
import { type WatchOptions, watchKey } from "./watch.ts";
import type { WatchChange } from "../protocol.ts";

export interface ClusterMember {
  id: number;
  endpoint: string;
  pub: string;
  alive: boolean;
  role?: string;
}

export interface ClusterView {
  leader: LeaderInfo | null;
  rf: number;
  partitions: number;
  /** How the cluster places partitions; null before a heartbeat or for a rule unknown here. */
  placement: PlacementRule | null;
  members: ClusterMember[];
  term: number;
}

export type ClientEvent =
  | { type: "leader-changed"; leader: LeaderInfo | null; term: number }
  | { type: "under-replicated"; live: number; rf: number }
  | { type: "member-changed"; id: number; alive: boolean };

export interface ClientConfig {
  endpoints: readonly string[];
  /** Deadline of one attempt. */
  requestTimeoutMs: number;
  /** Total time one operation may take across retries. */
  giveUpMs: number;
  logger?: Logger;
  /** CURVE toward every node (the cluster's server key and this client's pair); absent: NULL. */
  curve?: CurveOptions;
}

/** A member that sent no heartbeat for this long is shown as down. */
const MEMBER_SILENCE_MS = 1_000;
/** Pause between attempts when nobody knows a leader yet (e.g. during an election). */
const NO_LEADER_BACKOFF_MS = 50;


/** Per-call options of the public methods. */
export interface CallOptions {
  /** Aborting abandons the request: the call rejects with CancelledError at once. */
  readonly signal?: AbortSignal;
}

/** Options of SET: compare-and-set and a time to live. */
export interface SetOptions extends CallOptions {
  /** Write only if the key's version is this (0: only if the key does not exist); else the
   * call rejects with ConflictError carrying the key's version. */
  readonly ifVersion?: number;
  /** Delete the key this many ms after the leader takes the write. */
  readonly ttlMs?: number;
}

export interface DeleteOptions extends CallOptions {
  /** Delete only if the key's version is this; else ConflictError. */
  readonly ifVersion?: number;
}

export interface WriteReply<S extends string> {
  readonly status: S;
  readonly replicas: number;
  /** The key's version after the write (for a delete: the delete's own, unique version). */
  readonly version: number;
}

/** One SCAN reply: the items and the cursor to pass next ("0" when the scan is complete). */
export interface ScanResult {
  readonly cursor: string;
  readonly items: { key: string; value: string }[];
}

interface NodeSeen {
  info: HeartbeatInfo;
  seenMs: number;
}

export class WarehouseClient {
  private readonly config: ClientConfig;
  private readonly log: Logger;
  private readonly links = new Map<string, NodeLink>();
  private readonly pending = new Map<string, Pending>();
  private readonly subscriber: Subscriber;
  private readonly subscribed = new Set<string>();
  private readonly seen = new Map<number, NodeSeen>();
  private readonly listeners = new Set<(e: ClientEvent) => void>();
  private leader: LeaderInfo | null = null;
  private term = 0;
  private rf = 0;
  private partitions = 0;
  private placement: PlacementRule | null = null;
  private wasUnderReplicated = false;
  private readonly aliveShown = new Map<number, boolean>();
  private nextId = 1;
  private nextWriteId = 1;
  private readonly idPrefix = `c${Math.floor(Math.random() * 1e9).toString(36)}-`;
  /** Write names must not collide between clients (a retry is matched by name): 122 random bits. */
  private readonly writerPrefix = `${crypto.randomUUID()}/`;
  private readonly watchdog: ReturnType<typeof setInterval>;
  private isClosed = false;

  private constructor(config: ClientConfig) {
    this.config = config;
    this.log = config.logger ?? nullLogger;
    this.subscriber = new Subscriber({
      reconnectIvlMs: 50,
      reconnectIvlMaxMs: 500,
      ...(config.curve === undefined ? {} : { curve: config.curve }),
    });
    this.subscriber.subscribe(HEARTBEAT_TOPIC);
    void this.readHeartbeats();
    this.watchdog = setInterval(() => this.refreshLiveness(), 200);
  }

  /** Connects to the seeds and learns the cluster; rejects with UNAVAILABLE when none answers. */
  static async connect(config: ClientConfig): Promise<WarehouseClient> {
    if (config.endpoints.length === 0)
      throw new KvError("BAD_REQUEST", "no endpoint to connect to");
    const client = new WarehouseClient(config);
    try {
      const info = await client.heartbeat();
      client.learn(info);
      return client;
    } catch (error) {
      await client.close();
      if (error instanceof KvError) {
        throw new KvError(
          "UNAVAILABLE",
          `cannot reach the cluster at ${config.endpoints.join(", ")}: ${error.message}`,
        );
      }
      throw error;
    }
  }

  async set(
    key: string,
    value: string,
    options: SetOptions = {},
  ): Promise<WriteReply<"created" | "updated">> {
    const writer = this.nextWriter();
    const body = { op: "SET", key: checkedKey(key), value, writer, ...conditionOf(options) };
    const ttl = options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs };
    const reply = await this.call({ ...body, ...ttl }, options);
    const status = reply["status"];
    if (status !== "created" && status !== "updated") throw malformed();
    const replicas = numberField(reply, "replicas");
    return { status, replicas, version: numberField(reply, "version") };
  }

  async get(
    key: string,
    options: CallOptions = {},
  ): Promise<{ found: boolean; value?: string; version?: number }> {
    const reply = await this.call({ op: "GET", key: checkedKey(key) }, options);
    if (reply["found"] === true && typeof reply["value"] === "string") {
      return { found: true, value: reply["value"], version: numberField(reply, "version") };
    }
    if (reply["found"] === false) return { found: false };
    throw malformed();
  }

  async delete(
    key: string,
    options: DeleteOptions = {},
  ): Promise<WriteReply<"deleted" | "not_found">> {
    const writer = this.nextWriter();
    const body = { op: "DELETE", key: checkedKey(key), writer, ...conditionOf(options) };
    const reply = await this.call(body, options);
    const status = reply["status"];
    if (status !== "deleted" && status !== "not_found") throw malformed();
    const replicas = numberField(reply, "replicas");
    return { status, replicas, version: numberField(reply, "version") };
  }

  /**
   * The changes of `key` as they are committed, oldest first, each once, following the leader
   * (lib/client/watch.ts). With `since`, first the changes after that version still in the
   * change log (KvError COMPACTED when they are not all there). Ends when `signal` aborts.
   */
  watch(key: string, options: WatchOptions = {}): AsyncGenerator<WatchChange> {
    return watchKey(
      {
        curve: this.config.curve,
        leader: () => this.leader,
        pubs: () => this.view().members.map((m) => m.pub),
        onLeaderChanged: (listener) =>
          this.on((event) => {
            if (event.type === "leader-changed") listener();
          }),
        request: (body, signal) => this.call(body, { signal, raw: true }),
      },
      key,
      options,
    );
  }

  /** Retires a dead member for good (REMOVE); its partitions are placed on the others. */
  async remove(member: number, options: CallOptions = {}): Promise<{ removed: number }> {
    const reply = await this.call({ op: "REMOVE", member }, options);
    return { removed: numberField(reply, "removed") };
  }

  /**
   * Names one write for all its attempts, so that a retry after a timeout is answered with the
   * first attempt's outcome when that one happened (protocol: `writer`, `retry`).
   */
  private nextWriter(): string {
    return `${this.writerPrefix}${this.nextWriteId++}`;
  }

  /** Asks a node (the leader when known) for its heartbeat object. */
  async heartbeat(options: CallOptions = {}): Promise<HeartbeatInfo> {
    const reply = await this.call({ op: "HEARTBEAT" }, { ...options, anyNode: true });
    const info = parseHeartbeat(reply);
    if (info === null) throw malformed();
    this.learn(info);
    return info;
  }

  /** Sends a request as given and returns the raw reply object (for --json). */
  async request(
    body: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<Record<string, unknown>> {
    return this.call(body, { ...options, raw: true });
  }

  /** One SCAN page from `cursor` ("0" starts a scan). */
  async scan(cursor: string, count: number, options: CallOptions = {}): Promise<ScanResult> {
    const reply = await this.call({ op: "SCAN", cursor, count }, options);
    const next = reply["cursor"];
    const items = reply["items"];
    if (typeof next !== "string" || !Array.isArray(items)) throw malformed();
    const parsed = items.map((item: unknown) => {
      const { key, value } = (item ?? {}) as { key?: unknown; value?: unknown };
      if (typeof key !== "string" || typeof value !== "string") throw malformed();
      return { key, value };
    });
    return { cursor: next, items: parsed };
  }

  /** One SCAN page of keys only (what KEYS needs): no value crosses the network. */
  async scanKeys(
    cursor: string,
    count: number,
    options: CallOptions = {},
  ): Promise<{ cursor: string; keys: string[] }> {
    const reply = await this.call({ op: "SCAN", cursor, count, keysOnly: true }, options);
    const next = reply["cursor"];
    const items = reply["items"];
    if (typeof next !== "string" || !Array.isArray(items)) throw malformed();
    const keys = items.map((item: unknown) => {
      const key = (item ?? {}) as { key?: unknown };
      if (typeof key.key !== "string") throw malformed();
      return key.key;
    });
    return { cursor: next, keys };
  }

  /** Live keys in the cluster, in total and per partition. */
  async count(options: CallOptions = {}): Promise<{ count: number; partitions: number[] }> {
    const reply = await this.call({ op: "COUNT" }, options);
    const count = reply["count"];
    const partitions = reply["partitions"];
    if (typeof count !== "number" || !Array.isArray(partitions)) throw malformed();
    if (!partitions.every((n) => typeof n === "number")) throw malformed();
    return { count, partitions: partitions as number[] };
  }

  view(): ClusterView {
    const members = new Map<number, ClusterMember>();
    // A member we have not heard from ourselves yet is shown as the freshest report has it.
    const reports = [...this.seen.values()].sort((a, b) => b.seenMs - a.seenMs);
    for (const { info } of reports) {
      for (const m of info.members) {
        if (!members.has(m.id))
          members.set(m.id, { id: m.id, endpoint: m.endpoint, pub: m.pub, alive: m.alive });
      }
    }
    const now = Date.now();
    for (const [id, s] of this.seen) {
      const m = members.get(id) ?? {
        id,
        endpoint: s.info.node.endpoint,
        pub: s.info.node.pub,
        alive: false,
      };
      m.alive = now - s.seenMs <= MEMBER_SILENCE_MS;
      m.role = m.alive ? s.info.role : "down";
      members.set(id, m);
    }
    return {
      leader: this.leader,
      rf: this.rf,
      partitions: this.partitions,
      placement: this.placement,
      members: [...members.values()].sort((a, b) => a.id - b.id),
      term: this.term,
    };
  }

  on(listener: (e: ClientEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.watchdog);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    await Promise.all([...[...this.links.values()].map((l) => l.close()), this.subscriber.close()]);
  }

  // ---- requests -----------------------------------------------------------------------------

  /**
   * Sends to the leader (or, with no leader known, the nodes in order) and retries on timeout,
   * NOT_LEADER and UNAVAILABLE until giveUpMs. Other errors are final and thrown as KvError.
   */
  private async call(
    body: Record<string, unknown>,
    options: CallOptions & { anyNode?: boolean; raw?: boolean } = {},
  ): Promise<Record<string, unknown>> {
    if (this.isClosed) throw new KvError("UNAVAILABLE", "client is closed");
    const startMs = Date.now();
    const deadline = startMs + this.config.giveUpMs;
    let attempt = 0;
    let hint: LeaderInfo | null = null;
    // Made when needed: an Error captures a stack, which cost a GET 7 % of the client's CPU.
    let lastError: KvError | null = null;
    // What a live node said beats a timeout from a dead one when we finally give up.
    let lastAnswer: KvError | undefined;
    let mayHaveHappened = false;
    // What each node did, for the message when giving up: the last attempt alone misleads.
    const tried = new Map<string, { count: number; outcome: string }>();
    const note = (endpoint: string, outcome: string): void => {
      tried.set(endpoint, { count: (tried.get(endpoint)?.count ?? 0) + 1, outcome });
    };
    while (Date.now() < deadline) {
      const endpoint = this.pickEndpoint(attempt, hint, options.anyNode === true);
      hint = null;
      attempt++;
      const timeoutMs = Math.min(this.config.requestTimeoutMs, Math.max(1, deadline - Date.now()));
      // Every attempt after the first of a named write says so: the first may have happened.
      const sent = attempt > 1 && body["writer"] !== undefined ? { ...body, retry: true } : body;
      const reply = await this.attempt(endpoint, sent, timeoutMs, options.signal);
      if (reply === "cancelled") {
        throw new CancelledError(`${String(body["op"])} abandoned at ${endpoint}`);
      }
      if (reply !== "redirect") {
        note(endpoint, reply === "timeout" ? "no reply" : reply.ok ? "ok" : reply.error.code);
      }
      if (reply === "redirect" || reply === "timeout") mayHaveHappened = true;
      if (reply === "redirect") {
        // A new leader was announced while we waited on the old one: go there at once.
        lastError = new KvError("TIMEOUT", `${endpoint} stopped leading before it answered`);
        hint = this.leader;
        continue;
      }
      if (reply === "timeout") {
        const refusal = this.links.get(endpoint)?.handshakeFailure;
        const why = refusal === undefined ? "" : ` (${refusal})`;
        lastError = new KvError("TIMEOUT", `no reply from ${endpoint} within ${timeoutMs} ms${why}`);
        continue;
      }
      if (reply.ok || (options.raw === true && !isRetryable(reply.error.code))) return { ...reply };
      const code = reply.error.code;
      const version = reply.error["version"];
      lastError = code === "CONFLICT" && typeof version === "number"
        ? new ConflictError(reply.error.message, version)
        : new KvError(code, reply.error.message);
      if (code !== "NOT_LEADER") lastAnswer = lastError;
      if (code === "NOT_LEADER") {
        hint = leaderHintOf(reply);
        if (hint !== null) this.setLeader(hint, this.term);
        continue;
      }
      if (!isRetryable(code)) {
        if (options.raw === true) return { ...reply };
        throw lastError;
      }
      await new Promise((r) => setTimeout(r, NO_LEADER_BACKOFF_MS));
    }
    // A write an unanswered attempt may have made is not known not to have happened, whatever
    // later attempts were told: report it as TIMEOUT (outcome unknown).
    const isWrite = body["op"] === "SET" || body["op"] === "DELETE";
    const answered = lastAnswer ?? lastError ?? new KvError("UNAVAILABLE", "no node answered");
    const final =
      isWrite && mayHaveHappened && answered.code !== "TIMEOUT"
        ? new KvError("TIMEOUT", `${answered.message}; an earlier attempt may have happened`)
        : answered;
    if (attempt <= 1) throw final;
    const summary = [...tried]
      .map(([endpoint, { count, outcome }]) => `${endpoint} ${outcome}` +
        (count > 1 ? ` (${count} attempts)` : ""))
      .join(", ");
    throw new KvError(
      final.code,
      `${final.message} (gave up after ${attempt} attempts in ${Date.now() - startMs} ms: ` +
        `${summary})`,
    );
  }

  private attempt(
    endpoint: string,
    body: Record<string, unknown>,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<AttemptOutcome> {
    if (signal?.aborted === true) return Promise.resolve("cancelled");
    const id = `${this.idPrefix}${this.nextId++}`;
    let link = this.links.get(endpoint);
    if (link === undefined) {
      link = new NodeLink(endpoint, this.pending, this.config.curve);
      this.links.set(endpoint, link);
    }
    const target = link;
    return new Promise((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        // As after a timeout: the abandoned request must not reach the node later.
        target.abandon(pending.sent);
        resolve("cancelled");
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        this.pending.delete(id);
        target.abandon(pending.sent);
        resolve("timeout");
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      const settle = (outcome: AttemptOutcome): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve(outcome);
      };
      const pending: Pending = { resolve: settle, timer, endpoint, sent: 0 };
      this.pending.set(id, pending);
      pending.sent = target.send(encodeJson({ ...body, id }));
    });
  }

  /** Leader hint first, then the leader from heartbeats, then the known nodes, live ones first. */
  private pickEndpoint(attempt: number, hint: LeaderInfo | null, anyNode: boolean): string {
    if (hint !== null) return hint.endpoint;
    const leader = this.leader !== null && this.isAlive(this.leader.id) ? this.leader : null;
    // A live leader gets the first attempt, and every other one for leader-only requests.
    if (leader !== null && (attempt === 0 || (!anyNode && attempt % 2 === 0))) {
      return leader.endpoint;
    }
    const members = this.view().members;
    const live = members.filter((m) => m.alive).map((m) => m.endpoint);
    const down = members.filter((m) => !m.alive).map((m) => m.endpoint);
    const candidates =
      anyNode || members.length === 0
        ? [
            ...new Set([
              ...(this.leader ? [this.leader.endpoint] : []),
              ...live,
              ...this.config.endpoints,
            ]),
          ]
        : [...live, ...down];
    return candidates[attempt % candidates.length] ?? (this.config.endpoints[0] as string);
  }

  private isAlive(id: number): boolean {
    const s = this.seen.get(id);
    return s !== undefined && Date.now() - s.seenMs <= MEMBER_SILENCE_MS;
  }

  // ---- heartbeats ---------------------------------------------------------------------------

  private learn(info: HeartbeatInfo): void {
    this.rf = info.rf;
    this.partitions = info.partitions;
    this.placement = info.placement;
    this.seen.set(info.node.id, { info, seenMs: Date.now() });
    for (const m of info.members) {
      if (this.subscribed.has(m.pub)) continue;
      this.subscribed.add(m.pub);
      this.subscriber.connect(m.pub);
    }
    if (!this.subscribed.has(info.node.pub)) {
      this.subscribed.add(info.node.pub);
      this.subscriber.connect(info.node.pub);
    }
    // The highest term wins: a deposed leader's stale heartbeats never move us back.
    if (
      info.term > this.term ||
      (info.term === this.term && info.leader !== null && this.leader === null)
    ) {
      this.setLeader(info.leader, info.term);
    }
    this.refreshLiveness();
  }

  private setLeader(leader: LeaderInfo | null, term: number): void {
    const changed = leader?.id !== this.leader?.id || leader?.endpoint !== this.leader?.endpoint;
    this.term = Math.max(this.term, term);
    if (!changed) return;
    this.leader = leader;
    if (leader !== null) this.redirectPending(leader.endpoint);
    this.emit({ type: "leader-changed", leader, term: this.term });
  }

  /**
   * Attempts waiting on a node that is no longer the leader would otherwise sit out their whole
   * timeout (a killed leader never answers): they end now and retry at the new leader. Their
   * links are reset, as after a timeout, so the abandoned request is never delivered late.
   */
  private redirectPending(leaderEndpoint: string): void {
    const stale = new Set<string>();
    for (const [id, pending] of this.pending) {
      if (pending.endpoint === leaderEndpoint) continue;
      this.pending.delete(id);
      clearTimeout(pending.timer);
      stale.add(pending.endpoint);
      pending.resolve("redirect");
    }
    for (const endpoint of stale) this.links.get(endpoint)?.reset();
  }

  private refreshLiveness(): void {
    const view = this.view();
    for (const m of view.members) {
      const before = this.aliveShown.get(m.id);
      if (before !== m.alive) {
        this.aliveShown.set(m.id, m.alive);
        if (before !== undefined) this.emit({ type: "member-changed", id: m.id, alive: m.alive });
      }
    }
    if (this.leader !== null && !this.isAlive(this.leader.id) && this.seen.size > 0) {
      // The leader went silent; the next heartbeat from the new leader names it.
      this.setLeader(null, this.term);
    }
    const live = view.members.filter((m) => m.alive).length;
    const isUnder = this.rf > 0 && view.members.length > 0 && live < this.rf;
    if (isUnder && !this.wasUnderReplicated)
      this.emit({ type: "under-replicated", live, rf: this.rf });
    this.wasUnderReplicated = isUnder;
  }

  private async readHeartbeats(): Promise<void> {
    for await (const frames of this.subscriber) {
      const info = decodeHeartbeat(frames);
      if (info !== null) this.learn(info);
    }
  }

  private emit(event: ClientEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.warn("listener_failed", { error: String(error) });
      }
    }
  }
}

function isRetryable(code: WireErrorCode): boolean {
  return code === "NOT_LEADER" || code === "UNAVAILABLE" || code === "TIMEOUT";
}

function conditionOf(options: { ifVersion?: number }): { ifVersion?: number } {
  return options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion };
}

function checkedKey(key: string): string {
  const normalized = normalizeKey(key);
  if (normalized === null) throw new KvError("INVALID_KEY", "key is not a valid UUID4");
  return normalized;
}

function numberField(reply: Record<string, unknown>, name: string): number {
  const value = reply[name];
  if (typeof value !== "number") throw malformed();
  return value;
}

function malformed(): KvError {
  return new KvError("UNAVAILABLE", "the node sent a malformed reply");
}
