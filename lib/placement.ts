// Placement: which partition a key falls in and which members hold a partition (balanced, or
// rendezvous hashing for clusters created before), exactly as docs/protocol.md "Placement"
// specifies, so a client in any language can compute the same answer. Pure: no I/O, no clock,
// no randomness; imports util only. The only state is two bounded memos (replicasOf results and
// balanced tables), invisible to callers.
import { assert } from "./util/errors.ts";
import { sha256 } from "./util/sha256.ts";

/** How many replicasOf results are remembered. A node asks about at most `partitions` (<= 4096)
 * distinct questions per membership, so this keeps a whole membership's answers cached. */
export const replicaCacheEntriesMax = 4096;

const canonicalKeyPrefix = /^[0-9a-f]{8}$/;

/** Partition of a key in canonical (lower-case UUID) form: the first 8 hex digits, as an unsigned
 * 32-bit number, modulo `partitions`. */
export function partitionOf(key: string, partitions: number): number {
  assert(Number.isSafeInteger(partitions), "partitions must be an integer");
  assert(partitions > 0, "partitions must be positive");
  const prefix = key.slice(0, 8);
  assert(canonicalKeyPrefix.test(prefix), "partitionOf needs a canonical key (normalize it first)");
  return Number.parseInt(prefix, 16) % partitions;
}

/** Score of a member for a partition: the first 8 bytes, read as a big-endian unsigned 64-bit
 * number, of SHA-256 over the ASCII text "<partition>/<nodeId>". */
export function placementScore(partition: number, nodeId: number): bigint {
  assert(Number.isSafeInteger(partition), "partition must be an integer");
  assert(partition >= 0, "partition must not be negative");
  assert(Number.isSafeInteger(nodeId), "node id must be an integer");
  assert(nodeId > 0, "node id must be positive");
  const text = `${partition}/${nodeId}`;
  // Digits and "/" only, so one byte per character is exactly the ASCII encoding.
  const ascii = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) ascii[i] = text.charCodeAt(i);
  const digest = sha256(ascii);
  return new DataView(digest.buffer, digest.byteOffset, 8).getBigUint64(0, false);
}

/** A member and its score for one partition. */
export interface ScoredMember {
  readonly id: number;
  readonly score: bigint;
}

// Highest score first; equal scores (never seen in practice, but specified) go to the lower id.
function byRank(left: ScoredMember, right: ScoredMember): number {
  if (left.score !== right.score) return left.score > right.score ? -1 : 1;
  return left.id - right.id;
}

/** The ids of the `count` best-ranked members: highest score first, equal scores to the lower
 * id. Exported so the tie rule can be tested with made-up scores. */
export function topRanked(members: readonly ScoredMember[], count: number): number[] {
  const ranked = members.slice().sort(byRank);
  return ranked.slice(0, Math.min(count, ranked.length)).map((member) => member.id);
}

function computeReplicas(partition: number, memberIds: readonly number[], rf: number): number[] {
  assert(new Set(memberIds).size === memberIds.length, "member ids must be distinct");
  return topRanked(
    memberIds.map((id) => ({ id, score: placementScore(partition, id) })),
    rf,
  );
}

// Map iteration order is insertion order, so deleting and re-inserting on a hit makes the first
// key the least recently used one.
const replicaCache = new Map<string, readonly number[]>();

/** Stores `value` under `key`, first dropping the oldest entry when `cache` holds `max`. */
function remember<V>(cache: Map<string, V>, key: string, value: V, max: number): void {
  if (cache.size >= max) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  cache.set(key, value);
}

/** The ids of the min(rf, members) members that hold `partition`, highest score first. The order
 * of `memberIds` does not matter. Cheap to call per request: results are memoized. */
export function replicasOf(partition: number, memberIds: readonly number[], rf: number): number[] {
  assert(Number.isSafeInteger(rf), "rf must be an integer");
  assert(rf > 0, "rf must be positive");
  const cacheKey = `${partition}|${rf}|${memberIds.join(",")}`;
  const cached = replicaCache.get(cacheKey);
  if (cached !== undefined) {
    replicaCache.delete(cacheKey);
    replicaCache.set(cacheKey, cached);
    return cached.slice();
  }
  const replicas = computeReplicas(partition, memberIds, rf);
  remember(replicaCache, cacheKey, Object.freeze(replicas.slice()), replicaCacheEntriesMax);
  return replicas;
}

/** The replicas of the partition that `key` (canonical form) falls in. */
export function replicasOfKey(
  key: string,
  partitions: number,
  memberIds: readonly number[],
  rf: number,
): number[] {
  return replicasOf(partitionOf(key, partitions), memberIds, rf);
}

/** Number of memoized replicasOf results; for tests of the cache bound. */
export function replicaCacheSize(): number {
  return replicaCache.size;
}

/**
 * How a cluster places partitions, fixed when it is created. "rendezvous" (clusters created
 * before placement was balanced): each partition independently takes its `rf` best-scoring
 * members, so members hold uneven shares (with ids 1-3, 64 partitions and RF 2: 39, 37 and 52).
 * "balanced": the same scores, but no member takes more than its share (`balancedReplicas`).
 */
export type PlacementRule = "rendezvous" | "balanced";

export const placementRules: readonly PlacementRule[] = ["rendezvous", "balanced"];

/** The rule of a cluster whose heartbeat or snapshot names none: it predates the field. */
export const legacyPlacementRule: PlacementRule = "rendezvous";

/**
 * The rule a heartbeat's `placement` field names: absent means a node from before the field
 * (rendezvous); null for anything this code does not know.
 */
export function placementRuleOf(field: unknown): PlacementRule | null {
  if (field === undefined) return legacyPlacementRule;
  return placementRules.find((rule) => rule === field) ?? null;
}

/** The rule a new cluster is created with. */
export const defaultPlacementRule: PlacementRule = "balanced";

interface ScoredPair {
  readonly partition: number;
  readonly id: number;
  readonly score: bigint;
}

function byPairRank(left: ScoredPair, right: ScoredPair): number {
  if (left.score !== right.score) return left.score > right.score ? -1 : 1;
  return left.partition - right.partition || left.id - right.id;
}

const balancedCache = new Map<string, readonly (readonly number[])[]>();
/** Whole tables remembered: one per membership a node has seen lately is plenty. */
const balancedCacheEntriesMax = 16;

/**
 * Balanced placement, the replicas of every partition at once (docs/protocol.md, Placement):
 * with k = min(rf, members), each member may take at most ceil(partitions * k / members)
 * partitions (its quota). Every (partition, member) pair is taken in order of its score,
 * highest first (equal scores: lower partition, then lower id), and the member joins the
 * partition's replicas when the partition has fewer than k and the member is under its quota.
 * A partition still short (the quotas left over belong to members it already has) then takes
 * its best-scoring members it lacks, over quota. Each partition's replicas are listed highest
 * score first. A member joining or leaving moves about as many partitions as its share, where
 * a fixed assignment (p mod n) would move nearly all of them.
 */
export function balancedReplicas(
  partitions: number,
  memberIds: readonly number[],
  rf: number,
): readonly (readonly number[])[] {
  assert(Number.isSafeInteger(partitions) && partitions > 0, "partitions must be positive");
  assert(Number.isSafeInteger(rf) && rf > 0, "rf must be positive");
  assert(new Set(memberIds).size === memberIds.length, "member ids must be distinct");
  const ids = memberIds.slice().sort((a, b) => a - b);
  const cacheKey = `${partitions}|${rf}|${ids.join(",")}`;
  const cached = balancedCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const k = Math.min(rf, ids.length);
  const quota = ids.length === 0 ? 0 : Math.ceil((partitions * k) / ids.length);
  const pairs: ScoredPair[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    for (const id of ids) pairs.push({ partition, id, score: placementScore(partition, id) });
  }
  pairs.sort(byPairRank);
  const load = new Map<number, number>(ids.map((id) => [id, 0]));
  const chosen: ScoredMember[][] = Array.from({ length: partitions }, () => []);
  for (const pair of pairs) {
    const replicas = chosen[pair.partition] as ScoredMember[];
    const held = load.get(pair.id) as number;
    if (replicas.length >= k || held >= quota) continue;
    replicas.push({ id: pair.id, score: pair.score });
    load.set(pair.id, held + 1);
  }
  const table = chosen.map((replicas, partition) => {
    if (replicas.length < k) {
      const have = new Set(replicas.map((member) => member.id));
      const missing = ids
        .filter((id) => !have.has(id))
        .map((id) => ({ id, score: placementScore(partition, id) }));
      const extra = new Set(topRanked(missing, k - replicas.length));
      replicas.push(...missing.filter((member) => extra.has(member.id)));
    }
    return Object.freeze(topRanked(replicas, k));
  });
  const frozen = Object.freeze(table);
  remember(balancedCache, cacheKey, frozen, balancedCacheEntriesMax);
  return frozen;
}

/** The replicas of `partition` under `rule`, highest score first. */
export function placeReplicas(
  rule: PlacementRule,
  partition: number,
  partitions: number,
  memberIds: readonly number[],
  rf: number,
): number[] {
  assert(partition >= 0 && partition < partitions, "partition out of range");
  if (rule === "rendezvous") return replicasOf(partition, memberIds, rf);
  return (balancedReplicas(partitions, memberIds, rf)[partition] as readonly number[]).slice();
}

/** The replicas of the partition `key` (canonical form) falls in, under `rule`. */
export function placeKey(
  rule: PlacementRule,
  key: string,
  partitions: number,
  memberIds: readonly number[],
  rf: number,
): number[] {
  return placeReplicas(rule, partitionOf(key, partitions), partitions, memberIds, rf);
}
