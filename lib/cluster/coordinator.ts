// The leader's side of replication (stage 1): stamps versions, fans writes out to a partition's
// replicas and waits for every live in-sync one, reads from an in-sync replica, keeps the
// in-sync sets, and brings a lagging replica level (copy, then live writes) before it counts.
// Stage 2 moves the in-sync bookkeeping into the Raft log; the fan-out stays.
import { KvError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { replicasOf, partitionOf } from "../placement.ts";
import type { StoredRow, Version } from "../store/index.ts";
import type { ApplyResult, Replica } from "./replica.ts";

/** How the coordinator reaches other nodes; the node wires this to PeerRpc. */
export interface PeerLink {
  replicate(nodeId: number, term: number, rows: StoredRow[]): Promise<ApplyResult[]>;
  read(nodeId: number, key: string): Promise<StoredRow | undefined>;
  page(nodeId: number, partition: number, after: Version, limit: number): Promise<StoredRow[]>;
}

/**
 * A replica refused a write because it has seen a newer term: another node leads now. This
 * coordinator must not acknowledge the write (the new leader may never see it) nor drop the
 * replica from the in-sync set (it did nothing wrong).
 */
export class StaleTermError extends KvError {
  constructor(message: string) {
    super("NOT_LEADER", message);
    this.name = "StaleTermError";
  }
}

export interface ClusterFacts {
  selfId: number;
  term: number;
  rf: number;
  partitions: number;
  minInsync: number;
  memberIds: number[];
  isAlive(id: number): boolean;
}

export interface WriteOutcome {
  existed: boolean;
  replicas: number;
}

const CATCH_UP_PAGE_ROWS = 512;

export class Coordinator {
  /** partition → ids known to hold every acknowledged write of it. */
  private insync: number[][];
  /** partition → ids being brought level: they get live writes but are not waited for. */
  private readonly receiving = new Map<number, Set<number>>();
  /** partition → receiving ids that failed a live write: their catch-up must start over. */
  private readonly missed = new Map<number, Set<number>>();
  /** "partition/node" → the copy running for it. */
  private readonly catchingUp = new Map<string, Promise<void>>();
  private readonly seq: number[];
  private readonly inflightByKey = new Map<string, Promise<unknown>>();
  private readonly inflightByPartition = new Map<number, Set<Promise<unknown>>>();
  private readonly facts: () => ClusterFacts;
  private readonly self: Replica;
  private readonly peers: PeerLink;
  private readonly log: Logger;
  private readonly onInsyncChanged: () => void;

  constructor(options: {
    facts: () => ClusterFacts;
    self: Replica;
    peers: PeerLink;
    log: Logger;
    insync: number[][];
    seqStart: (partition: number) => number;
    onInsyncChanged: () => void;
  }) {
    this.facts = options.facts;
    this.self = options.self;
    this.peers = options.peers;
    this.log = options.log;
    this.onInsyncChanged = options.onInsyncChanged;
    const { partitions } = this.facts();
    this.insync = Array.from({ length: partitions }, (_, p) => [...(options.insync[p] ?? [])]);
    this.seq = Array.from({ length: partitions }, (_, p) => options.seqStart(p));
    this.dropDeadFromInsync();
  }

  /** The last sequence number this leader gave a write of `partition`. */
  headSeq(partition: number): number {
    return this.seq[partition] ?? 0;
  }

  insyncMap(): number[][] {
    return this.insync.map((ids) => [...ids]);
  }

  async write(key: string, value: string | null): Promise<WriteOutcome> {
    const facts = this.facts();
    const partition = partitionOf(key, facts.partitions);
    const previous = this.inflightByKey.get(key);
    if (previous !== undefined) await previous.catch(() => undefined);
    // An in-sync replica this write will not reach must leave the set before the write is
    // acknowledged: "in sync" means "holds every acknowledged write".
    const unreachable = (this.insync[partition] ?? []).filter((id) => !facts.isAlive(id));
    if (unreachable.length > 0) this.dropFromInsync(partition, unreachable);
    const required = (this.insync[partition] ?? []).filter((id) => facts.isAlive(id));
    if (required.length < facts.minInsync || required.length === 0) {
      throw new KvError(
        "UNAVAILABLE",
        `partition ${partition} has ${required.length} live in-sync replicas ` +
          `(need ${facts.minInsync})`,
      );
    }
    const seq = (this.seq[partition] ?? 0) + 1;
    this.seq[partition] = seq;
    const row: StoredRow = { key, partition, term: facts.term, seq, value };
    const work = this.fanOut(row, required, facts);
    this.track(key, partition, work);
    return work;
  }

  async read(key: string): Promise<StoredRow | undefined> {
    const facts = this.facts();
    const partition = partitionOf(key, facts.partitions);
    const inflight = this.inflightByKey.get(key);
    if (inflight !== undefined) await inflight.catch(() => undefined);
    const sources = (this.insync[partition] ?? []).filter((id) => facts.isAlive(id));
    if (sources.includes(facts.selfId)) return this.self.read(key);
    for (const id of sources) {
      try {
        return await this.peers.read(id, key);
      } catch (error) {
        this.log.warn("read_failed", { node: id, error: String(error) });
      }
    }
    throw new KvError("UNAVAILABLE", `no live in-sync replica of partition ${partition} answered`);
  }

  /** A member stopped heartbeating: it can no longer hold acknowledged writes. */
  onMemberDown(): void {
    this.dropDeadFromInsync();
  }

  /** Placement changed (a join): new replicas must catch up; extra holders stay until then. */
  onMembersChanged(): void {
    this.pruneSurplus();
  }

  /**
   * Brings `nodeId` level on `partition`: it starts receiving live writes, the writes already in
   * flight settle, then every row from an in-sync source is copied to it; only then does it
   * count as in sync. Rows carry versions, so copies that cross live writes are harmless.
   */
  catchUp(nodeId: number, partition: number): Promise<void> {
    // A replica that asks again while its copy still runs joins that copy: two copies at once
    // would clear each other's receiving and missed marks.
    const key = `${partition}/${nodeId}`;
    const running = this.catchingUp.get(key);
    if (running !== undefined) return running;
    const work = this.copyTo(nodeId, partition).finally(() => this.catchingUp.delete(key));
    this.catchingUp.set(key, work);
    return work;
  }

  private async copyTo(nodeId: number, partition: number): Promise<void> {
    const facts = this.facts();
    if (partition < 0 || partition >= facts.partitions) {
      throw new KvError("BAD_REQUEST", `no partition ${partition}`);
    }
    if ((this.insync[partition] ?? []).includes(nodeId)) return;
    let set = this.receiving.get(partition);
    if (set === undefined) {
      set = new Set();
      this.receiving.set(partition, set);
    }
    set.add(nodeId);
    this.missed.get(partition)?.delete(nodeId);
    try {
      await Promise.allSettled([...(this.inflightByPartition.get(partition) ?? [])]);
      const source = (this.insync[partition] ?? []).find(
        (id) => id !== nodeId && facts.isAlive(id),
      );
      if (source === undefined) {
        throw new KvError("UNAVAILABLE", `no live in-sync source for partition ${partition}`);
      }
      let after: Version = { term: 0, seq: 0 };
      while (true) {
        const rows =
          source === facts.selfId
            ? this.self.page(partition, after, CATCH_UP_PAGE_ROWS)
            : await this.peers.page(source, partition, after, CATCH_UP_PAGE_ROWS);
        if (rows.length > 0) {
          if (nodeId === facts.selfId) await this.self.apply(rows);
          else await this.peers.replicate(nodeId, this.facts().term, rows);
          const last = rows[rows.length - 1] as StoredRow;
          after = { term: last.term, seq: last.seq };
        }
        if (rows.length < CATCH_UP_PAGE_ROWS) break;
      }
      // A live write that failed to reach it after the copy began may be in neither the copy
      // nor its store; counting it in sync now would lose that write.
      if (this.missed.get(partition)?.has(nodeId) === true) {
        throw new KvError(
          "UNAVAILABLE",
          `node ${nodeId} missed a write to partition ${partition} while catching up`,
        );
      }
      const ids = this.insync[partition] ?? [];
      if (!ids.includes(nodeId)) ids.push(nodeId);
      this.insync[partition] = ids.sort((a, b) => a - b);
      this.log.debug("replica_in_sync", { partition, replica: nodeId });
      this.pruneSurplus();
      this.onInsyncChanged();
    } finally {
      set.delete(nodeId);
    }
  }

  private async fanOut(
    row: StoredRow,
    required: number[],
    facts: ClusterFacts,
  ): Promise<WriteOutcome> {
    const placement = replicasOf(row.partition, facts.memberIds, facts.rf);
    const targets = new Set<number>(required);
    for (const id of placement) if (facts.isAlive(id)) targets.add(id);
    for (const id of this.receiving.get(row.partition) ?? []) {
      // A receiving replica that looks down is not waited for; it misses this write, so its
      // catch-up has to start over.
      if (facts.isAlive(id)) targets.add(id);
      else this.markMissed(row.partition, id);
    }
    const results = await Promise.allSettled(
      [...targets].map(async (id) => {
        const [result] =
          id === facts.selfId
            ? await this.self.apply([row])
            : await this.peers.replicate(id, row.term, [row]);
        return { id, result };
      }),
    );
    let acked = 0;
    let existed = false;
    const failed: number[] = [];
    let staleTerm: StaleTermError | undefined;
    const targetIds = [...targets];
    results.forEach((r, i) => {
      const id = targetIds[i] as number;
      if (r.status === "fulfilled" && r.value.result !== undefined) {
        // Only in-sync replicas hold every acknowledged write: a lagging one may still hold a
        // value that was deleted since, and would turn "created" into "updated".
        if (required.includes(id)) {
          acked++;
          existed ||= r.value.result.existed;
        }
        return;
      }
      if (r.status === "rejected" && r.reason instanceof StaleTermError) staleTerm = r.reason;
      failed.push(id);
    });
    if (staleTerm !== undefined) throw staleTerm;
    // Checked against the sets as they are now, not as they were when the write started: a
    // replica that finished catching up meanwhile counts as in sync but lacks this write.
    const insyncNow = this.insync[row.partition] ?? [];
    const outOfSync = failed.filter((id) => insyncNow.includes(id));
    if (outOfSync.length > 0) this.dropFromInsync(row.partition, outOfSync);
    for (const id of failed) {
      if (this.receiving.get(row.partition)?.has(id) === true) this.markMissed(row.partition, id);
    }
    if (acked < facts.minInsync) {
      throw new KvError(
        "TIMEOUT",
        `only ${acked} of ${required.length} replicas acknowledged; ` +
          "the write may or may not have happened",
      );
    }
    return { existed, replicas: acked };
  }

  private markMissed(partition: number, id: number): void {
    let missed = this.missed.get(partition);
    if (missed === undefined) {
      missed = new Set();
      this.missed.set(partition, missed);
    }
    missed.add(id);
  }

  private track(key: string, partition: number, work: Promise<unknown>): void {
    this.inflightByKey.set(key, work);
    let set = this.inflightByPartition.get(partition);
    if (set === undefined) {
      set = new Set();
      this.inflightByPartition.set(partition, set);
    }
    set.add(work);
    const done = (): void => {
      if (this.inflightByKey.get(key) === work) this.inflightByKey.delete(key);
      set.delete(work);
    };
    work.then(done, done);
  }

  /** A replica that missed a write is dropped before the write is acknowledged. */
  private dropFromInsync(partition: number, ids: number[]): void {
    const before = this.insync[partition] ?? [];
    const after = before.filter((id) => !ids.includes(id));
    if (after.length === 0) return;
    this.insync[partition] = after;
    this.log.debug("replica_out_of_sync", { partition, nodes: ids });
    this.onInsyncChanged();
  }

  /** Dead members leave the in-sync sets, as long as a live one remains to hold the data. */
  private dropDeadFromInsync(): void {
    const facts = this.facts();
    let changed = false;
    this.insync = this.insync.map((ids) => {
      const alive = ids.filter((id) => facts.isAlive(id));
      if (alive.length === 0 || alive.length === ids.length) return ids;
      changed = true;
      return alive;
    });
    if (changed) this.onInsyncChanged();
  }

  /**
   * Once every placement replica of a partition is in sync, holders outside the placement
   * (left over from before a join) stop counting; they drop the data when they see it.
   */
  private pruneSurplus(): void {
    const facts = this.facts();
    let changed = false;
    this.insync = this.insync.map((ids, p) => {
      const placement = replicasOf(p, facts.memberIds, facts.rf);
      if (!placement.every((id) => ids.includes(id))) return ids;
      if (ids.length === placement.length) return ids;
      changed = true;
      return [...placement].sort((a, b) => a - b);
    });
    if (changed) this.onInsyncChanged();
  }
}
