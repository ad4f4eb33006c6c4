// How a node learns which cluster it belongs to: from its own data directory (restart), from a
// member it joins through, or by bootstrapping a new cluster. Persists that knowledge in meta.
import { ConfigError, KvError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { type KvStore, metaNames } from "../store/index.ts";
import type { Member } from "./membership.ts";
import { PeerRpc } from "./peer-rpc.ts";

export interface ClusterState {
  rf: number;
  partitions: number;
  members: Member[];
  term: number;
  /** partition → ids in sync, as last known from the leader. */
  insync: number[][];
}

const INSYNC_META = "insync";
const JOIN_TIMEOUT_MS = 2000;
const JOIN_ATTEMPTS = 5;

/** A join the cluster refused: the process should exit non-zero with this message. */
export class JoinRefusedError extends KvError {
  constructor(message: string) {
    super("CONFIG", message);
    this.name = "JoinRefusedError";
  }
}

export function loadClusterState(
  store: KvStore,
  settings: { id: number; rf: number | undefined; partitions: number },
): ClusterState | null {
  const storedId = store.getMeta(metaNames.nodeId);
  if (storedId === undefined) return null;
  if (Number(storedId) !== settings.id) {
    throw new ConfigError(
      `data directory belongs to node ${storedId}, not node ${settings.id}; use --id ${storedId} or another --data`,
    );
  }
  const rf = Number(store.getMeta(metaNames.rf));
  if (settings.rf !== undefined && settings.rf !== rf) {
    throw new ConfigError(`--rf ${settings.rf} differs from this node's stored replication factor ${rf}`);
  }
  const partitions = Number(store.getMeta(metaNames.partitions));
  const members = JSON.parse(store.getMeta(metaNames.members) ?? "[]") as Member[];
  const term = Number(store.getMeta(metaNames.currentTerm) ?? "0");
  const insync = JSON.parse(store.getMeta(INSYNC_META) ?? "[]") as number[][];
  return { rf, partitions, members, term, insync };
}

export function saveClusterState(store: KvStore, state: ClusterState): void {
  store.setMeta(metaNames.rf, String(state.rf));
  store.setMeta(metaNames.partitions, String(state.partitions));
  store.setMeta(metaNames.members, JSON.stringify(state.members));
  store.setMeta(metaNames.currentTerm, String(state.term));
  store.setMeta(INSYNC_META, JSON.stringify(state.insync));
}

export function saveNodeId(store: KvStore, id: number): void {
  store.setMeta(metaNames.nodeId, String(id));
}

/**
 * Asks the seeds, in turn, to admit this node. A refusal (different RF, id or endpoint taken)
 * throws JoinRefusedError. When nobody answers: a new node fails; a restarted node (`known`)
 * carries on with what it knew, and heartbeats reconnect it.
 */
export async function joinCluster(
  self: Member,
  settings: { join: string[]; rf: number | undefined },
  known: ClusterState | null,
  log: Logger,
): Promise<ClusterState> {
  for (let attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
    for (const seed of settings.join) {
      const rpc = new PeerRpc(seed);
      try {
        const reply = await rpc.request(
          { op: "PEER_JOIN", node: self, rf: settings.rf ?? known?.rf ?? null },
          JOIN_TIMEOUT_MS,
        );
        if (!reply.ok) throw new JoinRefusedError(`join refused by ${seed}: ${reply.error.message}`);
        const state = parseJoinReply(reply, known);
        if (state !== null) {
          log.info("joined", { via: seed, rf: state.rf, members: state.members.length });
          return state;
        }
      } catch (error) {
        if (error instanceof JoinRefusedError) throw error;
        log.warn("join_attempt_failed", { seed, error: String(error) });
      } finally {
        await rpc.close();
      }
    }
  }
  if (known !== null) return known;
  throw new KvError("UNAVAILABLE", `no member answered at ${settings.join.join(", ")}`);
}

function parseJoinReply(reply: Record<string, unknown>, known: ClusterState | null): ClusterState | null {
  const { rf, partitions, members, term } = reply;
  if (!Number.isSafeInteger(rf) || !Number.isSafeInteger(partitions) || !Array.isArray(members)) return null;
  const list: Member[] = [];
  for (const m of members) {
    if (typeof m !== "object" || m === null) return null;
    const { id, endpoint, pub } = m as Record<string, unknown>;
    if (!Number.isSafeInteger(id) || typeof endpoint !== "string" || typeof pub !== "string") return null;
    list.push({ id: id as number, endpoint, pub });
  }
  return {
    rf: rf as number,
    partitions: partitions as number,
    members: list,
    term: Math.max(Number(term) || 0, known?.term ?? 0),
    insync: known?.insync ?? [],
  };
}
