// SCAN and COUNT on the leader. SCAN walks the partitions in order and each partition's live
// keys in key order, reading every page from one live in-sync replica (itself when it is one);
// the cursor it hands back names the partition and the last key returned, so a scan holds no
// state on the server and survives a leader change. COUNT asks each partition's replica for its
// live key count. Kept apart from the coordinator so it can move as one piece: it needs only the
// in-sync sources of a partition, this node's replica and two peer calls.
import { KvError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { ScanCursor } from "../protocol.ts";
import type { StoredRow } from "../store/index.ts";
import type { PageLimits, PartitionPage, Replica, ScanItem } from "./replica.ts";

/** Values in one SCAN reply, past its first item: the reply stays far below the message limit
 * even when every character needs a JSON escape. */
export const scanReplyBytesMax = 4 * 1024 * 1024;
/** Rows one PEER_SCAN may return, whatever it asks for. */
export const peerScanRowsMax = 1000;

export interface ScanSources {
  readonly partitions: number;
  readonly selfId: number;
  /** Live in-sync replicas of a partition (the only ones that hold every acknowledged write). */
  sources(partition: number): number[];
  readonly self: Replica;
  peerScan(
    nodeId: number,
    partition: number,
    afterKey: string,
    limits: PageLimits,
  ): Promise<PartitionPage>;
  peerCount(nodeId: number, partitions: readonly number[]): Promise<number[]>;
  readonly log: Logger;
}

export interface ScanPage {
  readonly items: ScanItem[];
  /** Where the next call resumes; null when the scan is complete. */
  readonly next: ScanCursor | null;
}

async function pageFrom(
  deps: ScanSources,
  partition: number,
  afterKey: string,
  limits: PageLimits,
): Promise<PartitionPage> {
  const sources = deps.sources(partition);
  if (sources.includes(deps.selfId)) return deps.self.scan(partition, afterKey, limits);
  for (const id of sources) {
    try {
      return await deps.peerScan(id, partition, afterKey, limits);
    } catch (error) {
      deps.log.warn("scan_read_failed", { node: id, partition, error: String(error) });
    }
  }
  throw new KvError("UNAVAILABLE", `no live in-sync replica of partition ${partition} answered`);
}

/** One SCAN call: up to `count` live keys, with their values unless `keysOnly`, from `cursor`
 * on. */
export async function scanPage(
  deps: ScanSources,
  cursor: ScanCursor,
  count: number,
  keysOnly = false,
): Promise<ScanPage> {
  if (cursor.partition >= deps.partitions) {
    throw new KvError("BAD_REQUEST", `cursor names partition ${cursor.partition} of ` +
      `${deps.partitions}: it comes from another cluster`);
  }
  const items: ScanItem[] = [];
  let bytes = 0;
  let partition = cursor.partition;
  let afterKey = cursor.afterKey;
  while (partition < deps.partitions) {
    const bytesMax = items.length === 0 ? scanReplyBytesMax : scanReplyBytesMax - bytes;
    const limits = { limit: count - items.length, bytesMax, keysOnly };
    const page = await pageFrom(deps, partition, afterKey, limits);
    for (const item of page.items) {
      items.push(item);
      bytes += Buffer.byteLength(item.value ?? item.key);
      afterKey = item.key;
    }
    if (page.hasMore) return { items, next: { partition, afterKey } };
    partition++;
    afterKey = "";
    if (items.length >= count || bytes >= scanReplyBytesMax) break;
  }
  return { items, next: partition < deps.partitions ? { partition, afterKey: "" } : null };
}

/** Live keys per partition, each from one live in-sync replica, one request per replica. */
export async function countPerPartition(deps: ScanSources): Promise<number[]> {
  const counts = new Array<number>(deps.partitions).fill(0);
  const byNode = new Map<number, number[]>();
  for (let partition = 0; partition < deps.partitions; partition++) {
    const sources = deps.sources(partition);
    const source = sources.includes(deps.selfId) ? deps.selfId : sources[0];
    if (source === undefined) {
      throw new KvError("UNAVAILABLE", `no live in-sync replica of partition ${partition}`);
    }
    byNode.set(source, [...(byNode.get(source) ?? []), partition]);
  }
  await Promise.all(
    [...byNode].map(async ([id, partitions]) => {
      const found =
        id === deps.selfId ? deps.self.count(partitions) : await deps.peerCount(id, partitions);
      if (found.length !== partitions.length) {
        throw new KvError("UNAVAILABLE", `node ${id} sent a malformed count`);
      }
      partitions.forEach((partition, index) => {
        counts[partition] = found[index] ?? 0;
      });
    }),
  );
  return counts;
}

// ---- the replica's side: PEER_SCAN and PEER_COUNT ------------------------------------------

type PeerAnswer = { ok: true; fields: Record<string, unknown> } | { ok: false; message: string };

function isPartitionOf(value: unknown, partitions: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) < partitions;
}

/** PEER_SCAN {partition, after, limit, bytesMax, keysOnly} → {items, hasMore}. */
export function answerPeerScan(
  replica: Replica,
  partitions: number,
  request: Record<string, unknown>,
): PeerAnswer {
  const { partition, after, limit, bytesMax, keysOnly } = request;
  if (
    !isPartitionOf(partition, partitions) ||
    typeof after !== "string" ||
    after.length > 64 ||
    !Number.isSafeInteger(limit) ||
    (limit as number) < 1 ||
    !Number.isSafeInteger(bytesMax) ||
    (bytesMax as number) < 1 ||
    (keysOnly !== undefined && typeof keysOnly !== "boolean")
  ) {
    return { ok: false, message: "PEER_SCAN needs partition, after, limit and bytesMax" };
  }
  const cappedLimit = Math.min(limit as number, peerScanRowsMax);
  const cappedBytes = Math.min(bytesMax as number, scanReplyBytesMax);
  const page = replica.scan(partition, after, {
    limit: cappedLimit, bytesMax: cappedBytes, keysOnly: keysOnly === true,
  });
  return { ok: true, fields: { items: page.items, hasMore: page.hasMore } };
}

/** PEER_COUNT {partitions: [p, ...]} → {counts: [n, ...]}. */
export function answerPeerCount(
  replica: Replica,
  partitions: number,
  request: Record<string, unknown>,
): PeerAnswer {
  const asked = request["partitions"];
  if (
    !Array.isArray(asked) ||
    asked.length > partitions ||
    !asked.every((partition) => isPartitionOf(partition, partitions))
  ) {
    return { ok: false, message: "PEER_COUNT needs partitions" };
  }
  return { ok: true, fields: { counts: replica.count(asked as number[]) } };
}
