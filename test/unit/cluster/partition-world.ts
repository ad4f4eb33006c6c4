// A tiny deterministic world for one partition: a PartitionLeader, replica cores over memory
// stores, a message queue delivered on demand, nodes that can be cut off, and a stand-in for
// Raft that commits in-sync changes when the test says so. No timers: the test drives it.

import type { DataReply, DataRequest } from "../../../lib/cluster/data-messages.ts";
import {
  PartitionLeader,
  recentCharsMaxFor,
  type OutgoingRequest,
  type ReadResult,
  type WatchResult,
  type WriteResult,
} from "../../../lib/cluster/partition-leader.ts";
import { readCacheCharsMaxFor } from "../../../lib/cluster/read-cache.ts";
import { ReplicaCore, type ReplicaOptions } from "../../../lib/cluster/replica-core.ts";
import type { ClusterCommand } from "../../../lib/cluster/state.ts";
import { MemoryReplicaStore } from "../../../lib/store/memory-replica-store.ts";
import type { AppliedChange, ChangeRecord } from "../../../lib/store/replica-types.ts";

export const P = 0;

interface InFlight {
  readonly rid: number;
  readonly to: number;
  readonly request: DataRequest;
}

export class PartitionWorld {
  readonly stores = new Map<number, MemoryReplicaStore>();
  readonly cores = new Map<number, ReplicaCore>();
  readonly down = new Set<number>();
  /** Members the leader takes as failed at takeover without asking. */
  readonly suspects = new Set<number>();
  insync: number[];
  placement: number[];
  proposals: ClusterCommand[] = [];
  /** What the leader reported acknowledged, in order (the WATCH feed's source). */
  committed: AppliedChange[] = [];
  leader!: PartitionLeader;
  /** Partitions of the leader's node: its share of what the node keeps of recent changes. */
  partitions = 64;
  private nextRid = 1;
  private requests: InFlight[] = [];
  private replies: { rid: number; from: number; reply: DataReply }[] = [];
  /** Requests sent to a node that was down: they time out when the test says so. */
  private lost: InFlight[] = [];

  constructor(ids: number[], insync: number[], placement = insync, options: ReplicaOptions = {}) {
    for (const id of ids) {
      const store = new MemoryReplicaStore();
      this.stores.set(id, store);
      this.cores.set(id, new ReplicaCore(store, options));
    }
    this.insync = [...insync];
    this.placement = [...placement];
  }

  /** Writes history straight into a replica, as an earlier leader would have left it. */
  seed(id: number, fenced: number, changes: ChangeRecord[]): void {
    const store = this.stores.get(id) as MemoryReplicaStore;
    store.commit([{ type: "fence", partition: P, epoch: fenced }, { type: "append", partition: P, changes }]);
  }

  startLeader(selfId: number, epoch: number, minInsync = 1): PartitionLeader {
    this.leader = new PartitionLeader(P, {
      selfId,
      epoch,
      minInsync,
      recentCharsMax: recentCharsMaxFor(this.partitions),
      readCacheCharsMax: readCacheCharsMaxFor(this.partitions),
      insync: () => this.insync,
      placement: () => this.placement,
      send: (to, request) => this.send(to, request),
      propose: (command) => {
        this.proposals.push(command);
        return true;
      },
      isSuspect: (id) => this.suspects.has(id),
      committed: (change) => this.committed.push(change),
    });
    return this.leader;
  }

  send(to: number, request: OutgoingRequest): number {
    const rid = this.nextRid++;
    this.requests.push({ rid, to, request: { ...request, rid } as DataRequest });
    return rid;
  }

  /** Delivers everything until no message is left, committing each node's batch per round. */
  settle(rounds = 1000): void {
    for (let i = 0; i < rounds; i++) if (!this.step()) return;
    throw new Error("the world did not settle");
  }

  /**
   * One round: every request sent so far is handled, each node commits its batch, and the
   * replies reach the leader. False when nothing was left to deliver.
   */
  step(): boolean {
    this.leader.flush();
    if (this.requests.length === 0 && this.replies.length === 0) return false;
    const requests = this.requests.splice(0);
    for (const r of requests) {
      if (this.down.has(r.to)) {
        this.lost.push(r);
        continue;
      }
      const reply = (this.cores.get(r.to) as ReplicaCore).handle(1, r.request);
      if (reply !== null) this.replies.push({ rid: r.rid, from: r.to, reply });
    }
    for (const [id, core] of this.cores) {
      if (!core.hasBatch()) continue;
      const batch = core.takeBatch();
      const outcome = (this.stores.get(id) as MemoryReplicaStore).commit(batch.writes);
      for (const answer of batch.complete(outcome)) {
        const rid = ridOf(answer.reply);
        this.replies.push({ rid, from: id, reply: answer.reply });
      }
    }
    for (const r of this.replies.splice(0)) this.leader.onReply(r.rid, r.from, r.reply);
    return true;
  }

  /** Every request lost to a down node times out now. */
  timeOut(): void {
    for (const r of this.lost.splice(0)) this.leader.onTimeout(r.rid, r.to);
  }

  /** Raft commits and applies every proposal made so far. */
  commitProposals(): void {
    for (const c of this.proposals.splice(0)) {
      if (c.type === "insync-add" && !this.insync.includes(c.id)) this.insync.push(c.id);
      if (c.type === "insync-remove" && this.insync.length > 1) {
        this.insync = this.insync.filter((id) => id !== c.id);
      }
      this.insync.sort((a, b) => a - b);
    }
    this.leader.onInsyncChanged();
  }

  write(key: string, value: string | null, writer: string | null = null): WriteResult[] {
    const results: WriteResult[] = [];
    this.leader.write(key, value, writer, (r) => results.push(r));
    return results;
  }

  /** A write with compare-and-set and expiry options. */
  writeWith(
    key: string,
    value: string | null,
    options: { ifVersion?: number; expiresAt?: number; writer?: string },
  ): WriteResult[] {
    const results: WriteResult[] = [];
    const { ifVersion = null, expiresAt = null, writer = null } = options;
    this.leader.write(key, value, writer, (r) => results.push(r), { ifVersion, expiresAt });
    return results;
  }

  read(key: string): ReadResult[] {
    const results: ReadResult[] = [];
    this.leader.read(key, (r) => results.push(r));
    return results;
  }

  watch(key: string, since: number, limit = 100): WatchResult[] {
    const results: WatchResult[] = [];
    this.leader.watch(key, since, limit, (r) => results.push(r));
    return results;
  }

  values(id: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const row of (this.stores.get(id) as MemoryReplicaStore).rowsAfter(P, "", 1e6)) {
      out[row.key] = row.value;
    }
    return out;
  }
}

function ridOf(reply: DataReply): number {
  return reply.rid;
}
