// Placement: which partition a key falls in and which members hold a partition (rendezvous
// hashing), exactly as docs/protocol.md "Placement" specifies, so a client in any language can
// compute the same answer. Pure: no I/O, no clock, no randomness; imports util only. The one piece of state
// is a bounded memo of replicasOf results, which is invisible to callers.
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
  if (replicaCache.size >= replicaCacheEntriesMax) {
    const oldest = replicaCache.keys().next();
    if (oldest.done !== true) replicaCache.delete(oldest.value);
  }
  replicaCache.set(cacheKey, Object.freeze(replicas.slice()));
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
