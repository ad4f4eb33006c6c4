// An in-memory stand-in for WarehouseClient, for testing the REPL shell without a cluster. It
// records every call, can be told to fail, and lets a test emit cluster events.
import type { ClientEvent, ClusterView } from "../../../lib/client/client.ts";
import type { ReplClient } from "../../../lib/client/repl-shell.ts";
import type { HeartbeatInfo, WatchChange } from "../../../lib/protocol.ts";
import type { WatchOptions } from "../../../lib/client/watch.ts";
import type { CallOptions, ScanResult } from "../../../lib/client/client.ts";
import { CancelledError, KvError } from "../../../lib/util/errors.ts";

export const fakeView: ClusterView = {
  leader: { id: 1, endpoint: "tcp://127.0.0.1:7001" },
  rf: 2,
  partitions: 64,
  placement: "balanced",
  term: 3,
  members: [
    { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101", alive: true,
      role: "leader" },
    { id: 2, endpoint: "tcp://127.0.0.1:7002", pub: "tcp://127.0.0.1:7102", alive: true,
      role: "follower" },
  ],
};

export class FakeClient implements ReplClient {
  readonly calls: string[] = [];
  readonly store = new Map<string, string>();
  /** When set, every operation fails with this error (request() answers it as a reply). */
  failure: KvError | null = null;
  closeCount = 0;
  view: () => ClusterView;
  private readonly listeners = new Set<(event: ClientEvent) => void>();

  constructor(currentView: ClusterView = fakeView) {
    this.view = () => currentView;
  }

  /** When set, GET waits until its call is cancelled, as a request to a frozen node would. */
  hangs = false;
  /** Pretend the store holds this many keys (for KEYS' warning). */
  countOverride: number | null = null;

  private check(): void {
    if (this.failure !== null) throw this.failure;
  }

  private async hang(options: CallOptions): Promise<void> {
    if (!this.hangs) return;
    const signal = options.signal;
    if (signal === undefined) throw new Error("a hanging call needs a signal");
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    throw new CancelledError("GET abandoned at tcp://127.0.0.1:7001");
  }

  /** Keys in order, 2 per page: the cursor is the index of the next key. */
  async scan(cursor: string, count: number, _options: CallOptions = {}): Promise<ScanResult> {
    this.calls.push(`scan ${cursor} ${count}`);
    this.check();
    const keys = [...this.store.keys()].sort();
    const start = cursor === "0" ? 0 : Number(cursor.split(":")[0]);
    const end = Math.min(start + Math.min(count, 2), keys.length);
    const items = keys.slice(start, end).map((key) => ({ key, value: this.store.get(key) ?? "" }));
    return { cursor: end >= keys.length ? "0" : `${end}:`, items };
  }

  async scanKeys(
    cursor: string,
    count: number,
    options: CallOptions = {},
  ): Promise<{ cursor: string; keys: string[] }> {
    const page = await this.scan(cursor, count, options);
    return { cursor: page.cursor, keys: page.items.map((item) => item.key) };
  }

  /** What WATCH yields before it waits for its signal (Ctrl-C). */
  watchChanges: WatchChange[] = [];

  async *watch(key: string, options: WatchOptions = {}): AsyncGenerator<WatchChange> {
    this.calls.push(`watch ${key} ${options.since ?? "now"}`);
    this.check();
    for (const change of this.watchChanges) yield change;
    const signal = options.signal;
    if (signal === undefined) throw new Error("a watch needs a signal to end");
    if (signal.aborted) return;
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
  }

  async remove(member: number, _options: CallOptions = {}): Promise<{ removed: number }> {
    this.calls.push(`remove ${member}`);
    this.check();
    return { removed: member };
  }

  async count(_options: CallOptions = {}): Promise<{ count: number; partitions: number[] }> {
    this.calls.push("count");
    this.check();
    const count = this.countOverride ?? this.store.size;
    return { count, partitions: [count, 0] };
  }

  /** Versions as the cluster gives them: every write takes the next one. */
  private nextVersion = 1;
  private readonly versions = new Map<string, number>();

  async set(
    key: string,
    value: string,
  ): Promise<{ status: "created" | "updated"; replicas: number; version: number }> {
    this.calls.push(`set ${key} ${value}`);
    this.check();
    const status = this.store.has(key) ? "updated" : "created";
    this.store.set(key, value);
    const version = this.nextVersion++;
    this.versions.set(key, version);
    return { status, replicas: 2, version };
  }

  async get(
    key: string,
    options: CallOptions = {},
  ): Promise<{ found: true; value: string; version: number } | { found: false }> {
    this.calls.push(`get ${key}`);
    this.check();
    await this.hang(options);
    const value = this.store.get(key);
    const version = this.versions.get(key) ?? 0;
    return value === undefined ? { found: false } : { found: true, value, version };
  }

  async delete(
    key: string,
  ): Promise<{ status: "deleted" | "not_found"; replicas: number; version: number }> {
    this.calls.push(`delete ${key}`);
    this.check();
    const version = this.nextVersion++;
    this.versions.delete(key);
    return this.store.delete(key)
      ? { status: "deleted", replicas: 2, version }
      : { status: "not_found", replicas: 2, version };
  }

  async heartbeat(): Promise<HeartbeatInfo> {
    this.calls.push("heartbeat");
    this.check();
    const current = this.view();
    const [first] = current.members;
    if (first === undefined) throw new KvError("UNAVAILABLE", "no members");
    return {
      node: { id: first.id, endpoint: first.endpoint, pub: first.pub },
      role: "leader",
      term: current.term,
      leader: current.leader,
      rf: current.rf,
      partitions: current.partitions,
      placement: current.placement,
      members: current.members.map(({ id, endpoint, pub, alive }) => ({
        id, endpoint, pub, alive,
      })),
    };
  }

  on(listener: (event: ClientEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: ClientEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  async request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.calls.push(`request ${JSON.stringify(body)}`);
    if (this.failure !== null) {
      const { code, message } = this.failure;
      return { id: 1, ok: false, error: { code, message } };
    }
    return { id: 1, ok: true, echo: body };
  }

  async close(): Promise<void> {
    this.closeCount++;
  }
}
