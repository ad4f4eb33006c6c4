// Shared pieces of the cluster failure tests: a client that closes itself at the end of a test,
// a ledger of what the cluster acknowledged, a background writer that keeps writing while nodes
// are killed, and a direct request to one node (not through the leader). Not a test file.
import { expect } from "bun:test";
import { WarehouseClient } from "../../../lib/client/client.ts";
import { partitionOf } from "../../../lib/placement.ts";
import { Dealer, bytesToString } from "../../../lib/zmtp/index.ts";
import { Cluster, timeouts, waitFor, waitForSynced } from "../../harness/cluster.ts";

/**
 * Per-test limit of the scenarios. bun 1.4.5 does not apply bunfig's [test] timeout, and its
 * default of 5 s is shorter than a scenario that restarts nodes; each scenario waits on its own
 * conditions with deadlines, this only bounds the whole.
 */
export const scenarioTimeoutMs = 30_000;

export interface TestClient extends AsyncDisposable {
  client: WarehouseClient;
}

/** A client on every running node, closed by `await using`. */
export async function connectClient(cluster: Cluster): Promise<TestClient> {
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(),
    requestTimeoutMs: 1000,
    giveUpMs: 5000,
  });
  return { client, [Symbol.asyncDispose]: () => client.close() };
}

export interface SyncedCluster extends AsyncDisposable {
  cluster: Cluster;
  client: WarehouseClient;
}

/**
 * The starting point of most scenarios: nodes 1-3 with RF 2 and a connected client, once node 1
 * leads and every partition is in sync on its placement. Disposing closes the client, then
 * kills the nodes.
 */
export async function startSyncedCluster(rf = 2): Promise<SyncedCluster> {
  const cluster = new Cluster();
  try {
    await cluster.startMany(3, rf);
    const { client } = await connectClient(cluster);
    try {
      await waitForSynced(heartbeatVia(client), { members: 3, rf, leaderId: 1 });
    } catch (error) {
      await client.close();
      throw error;
    }
    return {
      cluster,
      client,
      [Symbol.asyncDispose]: async () => {
        await client.close();
        await cluster[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await cluster[Symbol.asyncDispose]();
    throw error;
  }
}

/** The raw HEARTBEAT request the harness's waitForSynced takes, sent through the client. */
export function heartbeatVia(client: WarehouseClient) {
  return (body: Record<string, unknown>): Promise<Record<string, unknown>> => client.request(body);
}

/**
 * What the cluster acknowledged: the last acknowledged value of each key (null once deleted).
 * Keys whose last operation failed are "uncertain": either outcome is allowed for them.
 */
export class Ledger {
  readonly acked = new Map<string, string | null>();
  readonly uncertain = new Map<string, Set<string | null>>();
  readonly failures: string[] = [];

  async set(client: WarehouseClient, key: string, value: string): Promise<void> {
    try {
      await client.set(key, value);
      this.acked.set(key, value);
      this.uncertain.delete(key);
    } catch (error) {
      this.markUncertain(key, value, error);
    }
  }

  async delete(client: WarehouseClient, key: string): Promise<void> {
    try {
      await client.delete(key);
      this.acked.set(key, null);
      this.uncertain.delete(key);
    } catch (error) {
      this.markUncertain(key, null, error);
    }
  }

  /** Reads every key back and returns the ones whose value is not an allowed one. */
  async mismatches(client: WarehouseClient, keys: Iterable<string> = this.keys()):
    Promise<string[]> {
    const wrong: string[] = [];
    for (const key of keys) {
      const got = await client.get(key);
      const value = got.found ? (got.value ?? null) : null;
      const allowed = new Set<string | null>(this.uncertain.get(key) ?? []);
      if (this.acked.has(key)) allowed.add(this.acked.get(key) ?? null);
      else allowed.add(null);
      if (!allowed.has(value)) {
        const expected = JSON.stringify([...allowed]);
        wrong.push(`${key}: got ${JSON.stringify(value)}, expected one of ${expected}`);
      }
    }
    return wrong;
  }

  keys(): string[] {
    return [...new Set([...this.acked.keys(), ...this.uncertain.keys()])];
  }

  private markUncertain(key: string, value: string | null, error: unknown): void {
    const set = this.uncertain.get(key) ?? new Set<string | null>();
    set.add(value);
    this.uncertain.set(key, set);
    this.failures.push(`${key}: ${String(error)}`);
  }
}

export interface WriteRecord {
  key: string;
  startedMs: number;
  ackedMs: number | null;
}

/**
 * Writes fresh keys one after another (each with a unique value) until stopped, recording when
 * each write started and when it was acknowledged.
 */
export class Writer {
  readonly records: WriteRecord[] = [];
  private isStopping = false;
  private readonly done: Promise<void>;
  private count = 0;

  constructor(client: WarehouseClient, ledger: Ledger, prefix: string) {
    this.done = this.loop(client, ledger, prefix);
  }

  /** Resolves once at least `n` writes have been acknowledged since `sinceMs`. */
  async waitForAcks(n: number, sinceMs: number, what: string): Promise<void> {
    const acked = (): number =>
      this.records.filter((r) => r.ackedMs !== null && r.startedMs >= sinceMs).length;
    await waitFor(() => acked() >= n, { what });
  }

  async stop(): Promise<void> {
    this.isStopping = true;
    await this.done;
  }

  private async loop(client: WarehouseClient, ledger: Ledger, prefix: string): Promise<void> {
    while (!this.isStopping) {
      const key = crypto.randomUUID();
      const record: WriteRecord = { key, startedMs: performance.now(), ackedMs: null };
      this.records.push(record);
      const value = `${prefix}-${this.count++}`;
      await ledger.set(client, key, value);
      if (ledger.acked.get(key) === value) record.ackedMs = performance.now();
    }
  }
}

/** A fresh random key in `partition` of `partitions`. */
export function keyInPartition(partition: number, partitions: number): string {
  for (;;) {
    const key = crypto.randomUUID();
    if (partitionOf(key, partitions) === partition) return key;
  }
}

/** Sends one request to one node directly (not through the leader) and returns its reply. */
export async function askNode(
  endpoint: string,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const dealer = new Dealer({ lingerMs: 0 });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    dealer.connect(endpoint);
    await dealer.send([JSON.stringify({ id: 1, ...body })]);
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeouts.conditionMs);
    });
    const frames = await Promise.race([dealer.receive(), deadline]);
    if (frames === null) throw new Error(`no reply from ${endpoint}`);
    const last = frames[frames.length - 1] as Uint8Array;
    return JSON.parse(bytesToString(last)) as Record<string, unknown>;
  } finally {
    clearTimeout(timer);
    await dealer.close();
  }
}

/** Fails the test listing every key that does not read back an allowed value. */
export async function expectAllReadable(
  client: WarehouseClient,
  ledger: Ledger,
  keys?: Iterable<string>,
): Promise<void> {
  expect(await ledger.mismatches(client, keys)).toEqual([]);
}
