// The cluster's control state as the Raft log decides it: replication factor and partition
// count (fixed at bootstrap), the members and the members removed for good, and each
// partition's in-sync replica set. Pure: no I/O, no clock. Every node applies the same committed
// entries in the same order and so holds the same state; everything a node decides about
// members and in-sync sets reads it. Commands arrive from the log, which peers write, so they
// are parsed and checked here before anything changes.

import {
  defaultPlacementRule,
  legacyPlacementRule,
  placeReplicas,
  placementRuleOf,
  type PlacementRule,
} from "../placement.ts";
import { assert } from "../util/errors.ts";

export interface MemberRecord {
  readonly id: number;
  /** Request endpoint clients and peers dial, e.g. tcp://127.0.0.1:7001. */
  readonly endpoint: string;
  /** Heartbeat publish endpoint. */
  readonly pub: string;
  /** Peer endpoint: Raft and data-plane traffic between members (firewall it from clients). */
  readonly peer: string;
}

/**
 * A command carried by a normal Raft entry. Members come and go through conf changes; the
 * cluster itself starts from a snapshot (`ClusterState.initial`), so there is no bootstrap
 * command.
 */
export type ClusterCommand =
  | {
      readonly type: "insync-add" | "insync-remove";
      readonly partition: number;
      readonly id: number;
      /** Term of the leader that proposed it (kept for the log and transcripts). */
      readonly term: number;
    }
  /** A member restarted with new endpoints (e.g. ports chosen at start). */
  | { readonly type: "member-update"; readonly member: MemberRecord }
  /** The cluster clock reached `ms` (cluster-clock.ts): the point key expiries count from. */
  | { readonly type: "clock"; readonly ms: number };

/** A membership change as the cluster sees it: a Raft conf change and its context. */
export type MemberChange =
  | { readonly type: "add"; readonly member: MemberRecord }
  | { readonly type: "remove"; readonly id: number };

/** What an applied entry changed, for the shell to act on (log, drop data, re-place). */
export type StateEffect =
  | { readonly type: "member-added"; readonly member: MemberRecord }
  | { readonly type: "member-updated"; readonly member: MemberRecord }
  | { readonly type: "member-removed"; readonly id: number }
  | { readonly type: "insync-changed"; readonly partition: number; readonly ids: readonly number[] }
  | { readonly type: "ignored"; readonly reason: string }
  | { readonly type: "clock"; readonly ms: number }
  /** The whole state was replaced from a snapshot (a joining or lagging node). */
  | { readonly type: "restored" };

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export const PARTITIONS_MAX = 4096;
export const RF_MAX = 16;
const ENDPOINT_LENGTH_MAX = 256;

interface Snapshot {
  readonly rf: number;
  readonly partitions: number;
  readonly members: readonly MemberRecord[];
  readonly removed: readonly number[];
  readonly insync: readonly (readonly number[])[];
  /** Absent in snapshots written before the cluster clock existed: 0. */
  readonly clockMs?: number;
  /** Absent in snapshots of clusters created before placement was balanced: rendezvous. */
  readonly placement?: PlacementRule;
}

export class ClusterState {
  private rfValue = 0;
  private partitionsValue = 0;
  private placementRuleValue: PlacementRule = legacyPlacementRule;
  private readonly memberMap = new Map<number, MemberRecord>();
  private readonly removedIds = new Set<number>();
  private insyncSets: number[][] = [];
  private clockMsValue = 0;
  /** placement() per partition: the leader asks every tick for every partition. */
  private placements: (readonly number[] | undefined)[] = [];

  /** The state a new cluster starts from: one member holding every partition. */
  static initial(
    rf: number,
    partitions: number,
    member: MemberRecord,
    placementRule: PlacementRule = defaultPlacementRule,
  ): ClusterState {
    assert(rf >= 1 && rf <= RF_MAX, `rf ${rf} out of range`);
    assert(partitions >= 1 && partitions <= PARTITIONS_MAX, `partitions ${partitions} out of range`);
    const state = new ClusterState();
    state.rfValue = rf;
    state.partitionsValue = partitions;
    state.placementRuleValue = placementRule;
    state.memberMap.set(member.id, member);
    state.insyncSets = Array.from({ length: partitions }, () => [member.id]);
    return state;
  }

  /** False only for a node that joined and has not yet received the leader's snapshot. */
  get isBootstrapped(): boolean {
    return this.rfValue > 0;
  }
  get rf(): number {
    return this.rfValue;
  }
  get partitions(): number {
    return this.partitionsValue;
  }
  /** How partitions are placed on members; fixed when the cluster is created. */
  get placementRule(): PlacementRule {
    return this.placementRuleValue;
  }
  /** The newest committed cluster-clock reading, in ms (never decreases). */
  get clockMs(): number {
    return this.clockMsValue;
  }
  /** Members in id order (the cluster's ordered list). */
  members(): MemberRecord[] {
    return [...this.memberMap.values()].sort((a, b) => a.id - b.id);
  }
  memberIds(): number[] {
    return this.members().map((m) => m.id);
  }
  member(id: number): MemberRecord | undefined {
    return this.memberMap.get(id);
  }
  isRemoved(id: number): boolean {
    return this.removedIds.has(id);
  }
  /** The replicas placement gives `partition` over the current members (see placeReplicas). */
  placement(partition: number): readonly number[] {
    let replicas = this.placements[partition];
    if (replicas === undefined) {
      replicas = Object.freeze(placeReplicas(this.placementRuleValue, partition,
        this.partitionsValue, this.memberIds(), this.rfValue));
      this.placements[partition] = replicas;
    }
    return replicas;
  }

  /** The partition's in-sync replicas, ascending. */
  insync(partition: number): readonly number[] {
    assert(partition >= 0 && partition < this.partitionsValue, `partition ${partition} out of range`);
    return this.insyncSets[partition] as number[];
  }

  /** Applies a committed normal entry's command. Commands that no longer fit are ignored. */
  applyCommand(command: ClusterCommand): StateEffect {
    if (command.type === "clock") {
      this.clockMsValue = Math.max(this.clockMsValue, command.ms);
      return { type: "clock", ms: this.clockMsValue };
    }
    if (command.type !== "member-update") return this.applyInsync(command);
    if (!this.memberMap.has(command.member.id)) {
      return ignored(`member ${command.member.id} is not a member`);
    }
    this.memberMap.set(command.member.id, command.member);
    this.placements = [];
    return { type: "member-updated", member: command.member };
  }

  /** Applies a committed membership change (a Raft conf change's context). */
  applyMemberChange(change: MemberChange): StateEffect {
    this.placements = [];
    if (change.type === "add") {
      const { member } = change;
      if (this.removedIds.has(member.id)) return ignored(`member ${member.id} was removed`);
      const known = this.memberMap.get(member.id);
      this.memberMap.set(member.id, member);
      return known === undefined
        ? { type: "member-added", member }
        : { type: "member-updated", member };
    }
    if (!this.memberMap.has(change.id)) return ignored(`member ${change.id} is not a member`);
    this.memberMap.delete(change.id);
    this.removedIds.add(change.id);
    // A removed member holds nothing the cluster may count on, except where it was the last
    // in-sync replica: the leader refuses such a removal before proposing it (removalBlockers),
    // and should one still commit, the set keeps the id so the partition reads as unavailable
    // rather than silently empty.
    for (const set of this.insyncSets) {
      const at = set.indexOf(change.id);
      if (at >= 0 && set.length > 1) set.splice(at, 1);
    }
    return { type: "member-removed", id: change.id };
  }

  /** Partitions whose only in-sync replica is `id`: removing it would lose their data. */
  removalBlockers(id: number): number[] {
    const out: number[] = [];
    this.insyncSets.forEach((set, partition) => {
      if (set.length === 1 && set[0] === id) out.push(partition);
    });
    return out;
  }

  snapshot(): string {
    const snapshot: Snapshot = {
      rf: this.rfValue,
      partitions: this.partitionsValue,
      members: this.members(),
      removed: [...this.removedIds].sort((a, b) => a - b),
      insync: this.insyncSets,
      clockMs: this.clockMsValue,
      placement: this.placementRuleValue,
    };
    return JSON.stringify(snapshot);
  }

  /** Rebuilds the state from `snapshot()` text; null when the text is not a valid snapshot. */
  static restore(text: string): ClusterState | null {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return null;
    }
    if (!isRecord(raw)) return null;
    const state = new ClusterState();
    const { rf, partitions, members, removed, insync, clockMs, placement } = raw;
    if (clockMs !== undefined && !isCount(clockMs, 0, Number.MAX_SAFE_INTEGER)) return null;
    state.clockMsValue = clockMs ?? 0;
    const rule = placementRuleOf(placement);
    if (rule === null) return null;
    state.placementRuleValue = rule;
    if (!isCount(rf, 0, RF_MAX) || !isCount(partitions, 0, PARTITIONS_MAX)) return null;
    if (!Array.isArray(members) || !Array.isArray(removed) || !Array.isArray(insync)) return null;
    if (insync.length !== partitions) return null;
    for (const m of members) {
      const parsed = parseMember(m);
      if (!parsed.ok) return null;
      state.memberMap.set(parsed.value.id, parsed.value);
    }
    for (const id of removed) {
      if (!isId(id)) return null;
      state.removedIds.add(id);
    }
    for (const set of insync) {
      if (!Array.isArray(set) || !set.every(isId)) return null;
      state.insyncSets.push([...(set as number[])].sort((a, b) => a - b));
    }
    state.rfValue = rf;
    state.partitionsValue = partitions;
    return state;
  }

  private applyInsync(
    command: Extract<ClusterCommand, { type: "insync-add" | "insync-remove" }>,
  ): StateEffect {
    if (!this.isBootstrapped) return ignored("in-sync change before bootstrap");
    if (command.partition >= this.partitionsValue) {
      return ignored(`partition ${command.partition} does not exist`);
    }
    const set = this.insyncSets[command.partition] as number[];
    const at = set.indexOf(command.id);
    if (command.type === "insync-add") {
      if (!this.memberMap.has(command.id)) return ignored(`member ${command.id} is not a member`);
      if (at >= 0) return ignored(`member ${command.id} is already in sync`);
      set.push(command.id);
      set.sort((a, b) => a - b);
    } else {
      if (at < 0) return ignored(`member ${command.id} is not in sync`);
      // The last in-sync replica is the partition's data: never let it go.
      if (set.length === 1) return ignored(`member ${command.id} is the last in-sync replica`);
      set.splice(at, 1);
    }
    return { type: "insync-changed", partition: command.partition, ids: [...set] };
  }
}

function ignored(reason: string): StateEffect {
  return { type: "ignored", reason };
}

// ---- parsing (the log is written by peers: check every field) -----------------------------

export function encodeCommand(command: ClusterCommand): string {
  return JSON.stringify(command);
}

export function parseCommand(text: string): Parsed<ClusterCommand> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: "command is not JSON" };
  }
  if (!isRecord(raw)) return { ok: false, error: "command is not an object" };
  switch (raw.type) {
    case "member-update": {
      const member = parseMember(raw.member);
      if (!member.ok) return member;
      return { ok: true, value: { type: "member-update", member: member.value } };
    }
    case "clock":
      if (!isCount(raw.ms, 0, Number.MAX_SAFE_INTEGER)) return { ok: false, error: "bad clock" };
      return { ok: true, value: { type: "clock", ms: raw.ms } };
    case "insync-add":
    case "insync-remove":
      if (!isCount(raw.partition, 0, PARTITIONS_MAX - 1)) {
        return { ok: false, error: "bad partition" };
      }
      if (!isId(raw.id)) return { ok: false, error: "bad member id" };
      if (!isCount(raw.term, 1, Number.MAX_SAFE_INTEGER)) return { ok: false, error: "bad term" };
      return {
        ok: true,
        value: { type: raw.type, partition: raw.partition, id: raw.id, term: raw.term },
      };
    default:
      return { ok: false, error: `unknown command type ${JSON.stringify(raw.type)}` };
  }
}

export function encodeMember(member: MemberRecord): string {
  const { id, endpoint, pub, peer } = member;
  return JSON.stringify({ id, endpoint, pub, peer });
}

/** Parses a member record (a conf change's context, or a snapshot's member). */
export function parseMember(raw: unknown): Parsed<MemberRecord> {
  if (typeof raw === "string") {
    try {
      raw = JSON.parse(raw);
    } catch {
      return { ok: false, error: "member is not JSON" };
    }
  }
  if (!isRecord(raw)) return { ok: false, error: "member is not an object" };
  const { id, endpoint, pub, peer } = raw;
  if (!isId(id)) return { ok: false, error: "bad member id" };
  if (!isEndpoint(endpoint)) return { ok: false, error: "bad member endpoint" };
  if (!isEndpoint(pub)) return { ok: false, error: "bad member pub endpoint" };
  if (!isEndpoint(peer)) return { ok: false, error: "bad member peer endpoint" };
  return { ok: true, value: { id, endpoint, pub, peer } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

function isId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

function isEndpoint(value: unknown): value is string {
  return (
    typeof value === "string" && value.length <= ENDPOINT_LENGTH_MAX && value.startsWith("tcp://")
  );
}
