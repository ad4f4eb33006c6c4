// The two systems bench:compare drives, behind one face: start, set, get, find and kill the
// leader, stop. Both run 3 members on loopback with temp data directories and acknowledge a
// write only once it is fsync'd on two of them.
import { WarehouseClient } from "../../lib/client/client.ts";
import { Cluster, waitForSynced } from "../../test/harness/cluster.ts";
import { EtcdClient, EtcdCluster } from "./etcd.ts";
import { EtcdGrpcClient } from "./etcd-grpc.ts";

export type SystemName = "etcd" | "warehouse";

export interface System extends AsyncDisposable {
  readonly name: SystemName;
  /** Opens `count` client connections; loop i uses connection i mod count. */
  connect(count: number): Promise<void>;
  closeClients(): Promise<void>;
  set(loop: number, key: string, value: string): Promise<void>;
  /** A linearizable read; resolves whether the key was found. */
  get(loop: number, key: string): Promise<boolean>;
  /** SIGKILLs the current leader. */
  killLeader(): Promise<void>;
  /** The server processes' ids, for their CPU time. */
  pids(): number[];
}

/** Live systems, so an error or Ctrl-C can still kill every process the benchmark started. */
export const live = new Set<AsyncDisposable>();

export async function startSystem(
  name: SystemName, options: { rf: number; etcdClient: EtcdClientKind },
): Promise<System> {
  return name === "etcd" ? EtcdSystem.start(options.etcdClient) : WarehouseSystem.start(options.rf);
}

export async function stopSystem(system: System): Promise<void> {
  await system.closeClients();
  await system[Symbol.asyncDispose]();
}

/** Registers `resource` in `live` while `start` runs; on failure disposes it and rethrows. */
async function starting<T extends AsyncDisposable>(resource: T, start: () => Promise<void>):
  Promise<T> {
  live.add(resource);
  try {
    await start();
    return resource;
  } catch (error) {
    live.delete(resource);
    await resource[Symbol.asyncDispose]();
    throw error;
  }
}

/** etcd's client path: gRPC over one HTTP/2 session per connection, or the v3 JSON gateway. */
export type EtcdClientKind = "grpc" | "http";

interface KvClient {
  put(key: string, value: string): Promise<void>;
  get(key: string): Promise<boolean>;
  close(): void;
}

class EtcdSystem implements System {
  readonly name = "etcd";
  /** Connections to the leader. */
  private clients: KvClient[] = [];
  /** One connection per member, for writes while no leader is known (failover). */
  private anyMember: KvClient[] = [];
  private next = 0;

  private constructor(
    private readonly cluster: EtcdCluster,
    private readonly kind: EtcdClientKind,
    private leader: number,
  ) {}

  static async start(kind: EtcdClientKind): Promise<EtcdSystem> {
    const cluster = new EtcdCluster();
    await starting(cluster, () => cluster.launch(3));
    return new EtcdSystem(cluster, kind, await cluster.waitForLeader());
  }

  private open(member: number): KvClient {
    const url = this.cluster.clientUrl(member);
    return this.kind === "grpc" ? new EtcdGrpcClient(url) : new EtcdClient(url);
  }

  /**
   * Requests go to the leader (a follower would forward puts and ReadIndex to it: one more hop).
   * gRPC multiplexes on `count` HTTP/2 sessions; the JSON gateway takes one keep-alive HTTP/1.1
   * connection per request in flight from Bun's fetch pool, whatever `count` is.
   */
  async connect(count: number): Promise<void> {
    await this.closeClients();
    this.clients = Array.from({ length: this.kind === "grpc" ? count : 1 },
      () => this.open(this.leader));
    this.anyMember = this.cluster.members.map((_, i) => this.open(i));
  }

  async closeClients(): Promise<void> {
    for (const c of [...this.clients.splice(0), ...this.anyMember.splice(0)]) c.close();
  }

  async set(loop: number, key: string, value: string): Promise<void> {
    if (this.clients.length > 0) return this.clientFor(loop).put(key, value);
    // No leader known (failover): any member, in turn; a follower forwards to the leader.
    const client = this.anyMember[this.next++ % this.anyMember.length] as KvClient;
    return client.put(key, value);
  }

  async get(loop: number, key: string): Promise<boolean> {
    return this.clientFor(loop).get(key);
  }

  private clientFor(loop: number): KvClient {
    return this.clients[loop % this.clients.length] as KvClient;
  }

  pids(): number[] {
    return this.cluster.members.map((m) => m.process.pid);
  }

  /** Later writes go to any member, as a client that lost its leader would. */
  async killLeader(): Promise<void> {
    for (const c of this.clients.splice(0)) c.close();
    await this.cluster.kill(this.leader);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.closeClients();
    live.delete(this.cluster);
    return this.cluster[Symbol.asyncDispose]();
  }
}

class WarehouseSystem implements System {
  readonly name = "warehouse";
  private clients: WarehouseClient[] = [];

  private constructor(readonly cluster: Cluster) {}

  static async start(rf: number): Promise<WarehouseSystem> {
    const system = new WarehouseSystem(new Cluster());
    return starting(system, async () => {
      await system.cluster.startMany(3, rf);
      const probe = await system.client();
      try {
        await waitForSynced((b) => probe.request(b), { members: 3, rf, leaderId: 1 });
      } finally {
        await probe.close();
      }
    });
  }

  private client(): Promise<WarehouseClient> {
    return WarehouseClient.connect({
      endpoints: this.cluster.endpoints(),
      requestTimeoutMs: 2000,
      giveUpMs: 10_000,
    });
  }

  async connect(count: number): Promise<void> {
    this.clients = await Promise.all(Array.from({ length: count }, () => this.client()));
  }

  async closeClients(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
  }

  async set(loop: number, key: string, value: string): Promise<void> {
    await this.clientFor(loop).set(key, value);
  }

  async get(loop: number, key: string): Promise<boolean> {
    return (await this.clientFor(loop).get(key)).found;
  }

  private clientFor(loop: number): WarehouseClient {
    return this.clients[loop % this.clients.length] as WarehouseClient;
  }

  pids(): number[] {
    return [...this.cluster.nodes.values()].map((n) => n.process.pid);
  }

  /** waitForSynced made node 1 the leader. */
  async killLeader(): Promise<void> {
    await this.cluster.kill(1);
  }

  [Symbol.asyncDispose](): Promise<void> {
    live.delete(this);
    return this.cluster[Symbol.asyncDispose]();
  }
}
