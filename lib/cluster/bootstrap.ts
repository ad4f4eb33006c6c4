// How a node starts: binding its endpoints, then learning which cluster it belongs to, from its
// own data directory (restart), from a member it joins through, or by bootstrapping a new
// cluster. Persists that knowledge in meta.
import { ConfigError, KvError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { type KvStore, metaNames } from "../store/index.ts";
import type { Member } from "./membership.ts";
import type { CurveOptions } from "../zmtp/index.ts";
import { PeerRpc } from "./peer-rpc.ts";

interface JoinSettings {
  join: string[];
  rf: number | undefined;
  minInsync: number;
  /** CURVE for the join requests (curve-security.ts peerCurve); absent speaks NULL. */
  peerCurve?: CurveOptions;
}

export interface ClusterState {
  rf: number;
  partitions: number;
  members: Member[];
  term: number;
  /** partition → ids in sync, as last known from the leader. */
  insync: number[][];
  /**
   * The term of the leader that produced `insync`: how recent this node's knowledge of the
   * sets is. After a whole-cluster restart the node with the newest sets must lead first.
   */
  insyncTerm: number;
}

const INSYNC_META = "insync";
const INSYNC_TERM_META = "insync_term";
const JOIN_TIMEOUT_MS = 2000;
const JOIN_ATTEMPTS = 5;
/** A restarted node's peers answer within milliseconds if they run at all (see rejoin). */
const REJOIN_TIMEOUT_MS = 1000;

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
      `data directory belongs to node ${storedId}, not node ${settings.id}; ` +
        `use --id ${storedId} or another --data`,
    );
  }
  const rf = Number(store.getMeta(metaNames.rf));
  if (settings.rf !== undefined && settings.rf !== rf) {
    throw new ConfigError(
      `--rf ${settings.rf} differs from this node's stored replication factor ${rf}`,
    );
  }
  const partitions = Number(store.getMeta(metaNames.partitions));
  const members = JSON.parse(store.getMeta(metaNames.members) ?? "[]") as Member[];
  const term = Number(store.getMeta(metaNames.currentTerm) ?? "0");
  const insync = JSON.parse(store.getMeta(INSYNC_META) ?? "[]") as number[][];
  const insyncTerm = Number(store.getMeta(INSYNC_TERM_META) ?? "0");
  return { rf, partitions, members, term, insync, insyncTerm };
}

export function saveClusterState(store: KvStore, state: ClusterState): void {
  store.setMeta(metaNames.rf, String(state.rf));
  store.setMeta(metaNames.partitions, String(state.partitions));
  store.setMeta(metaNames.members, JSON.stringify(state.members));
  store.setMeta(metaNames.currentTerm, String(state.term));
  store.setMeta(INSYNC_META, JSON.stringify(state.insync));
  store.setMeta(INSYNC_TERM_META, String(state.insyncTerm));
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
  settings: JoinSettings,
  known: ClusterState | null,
  log: Logger,
): Promise<ClusterState> {
  if (known !== null) return rejoin(self, settings, known, log);
  for (let attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
    for (const seed of settings.join) {
      const rpc = new PeerRpc(seed, settings.peerCurve);
      try {
        const reply = await rpc.request(
          { op: "PEER_JOIN", node: self, rf: settings.rf ?? null, minInsync: settings.minInsync },
          JOIN_TIMEOUT_MS,
        );
        if (!reply.ok)
          throw new JoinRefusedError(`join refused by ${seed}: ${reply.error.message}`);
        const state = parseJoinReply(reply, null);
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
  throw new KvError("UNAVAILABLE", `no member answered at ${settings.join.join(", ")}`);
}

/**
 * A restarted node asks every seed at once, once and briefly. When the whole cluster restarts,
 * the other nodes are starting too and answer no join until they run, so retrying as a new
 * node does would hold every start for the whole retry budget. Any refusal still wins; with
 * no answer the node carries on with what it stored.
 */
async function rejoin(
  self: Member,
  settings: JoinSettings,
  known: ClusterState,
  log: Logger,
): Promise<ClusterState> {
  const ask = async (seed: string): Promise<ClusterState> => {
    const rpc = new PeerRpc(seed, settings.peerCurve);
    try {
      const reply = await rpc.request(
        { op: "PEER_JOIN", node: self, rf: settings.rf ?? known.rf, minInsync: settings.minInsync },
        REJOIN_TIMEOUT_MS,
      );
      if (!reply.ok) throw new JoinRefusedError(`join refused by ${seed}: ${reply.error.message}`);
      const state = parseJoinReply(reply, known);
      if (state === null) throw new KvError("UNAVAILABLE", `${seed} sent a malformed join reply`);
      log.info("joined", { via: seed, rf: state.rf, members: state.members.length });
      return state;
    } finally {
      await rpc.close();
    }
  };
  const outcomes = await Promise.allSettled(settings.join.map(ask));
  let joined: ClusterState | undefined;
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === "fulfilled") {
      joined ??= outcome.value;
    } else if (outcome.reason instanceof JoinRefusedError) {
      throw outcome.reason;
    } else {
      log.warn("join_attempt_failed", { seed: settings.join[i], error: String(outcome.reason) });
    }
  }
  return joined ?? known;
}

function parseJoinReply(
  reply: Record<string, unknown>,
  known: ClusterState | null,
): ClusterState | null {
  const { rf, partitions, members, term } = reply;
  if (!Number.isSafeInteger(rf) || !Number.isSafeInteger(partitions) || !Array.isArray(members))
    return null;
  const list: Member[] = [];
  for (const m of members) {
    if (typeof m !== "object" || m === null) return null;
    const { id, endpoint, pub } = m as Record<string, unknown>;
    if (!Number.isSafeInteger(id) || typeof endpoint !== "string" || typeof pub !== "string")
      return null;
    list.push({ id: id as number, endpoint, pub });
  }
  return {
    rf: rf as number,
    partitions: partitions as number,
    members: list,
    term: Math.max(Number(term) || 0, known?.term ?? 0),
    insync: known?.insync ?? [],
    insyncTerm: known?.insyncTerm ?? 0,
  };
}

/** A new cluster of one: this node holds every partition. */
export function bootstrapState(
  self: Member,
  settings: { rf: number | undefined; partitions: number },
): ClusterState {
  return {
    rf: settings.rf ?? 2,
    partitions: settings.partitions,
    members: [self],
    term: 0,
    insync: Array.from({ length: settings.partitions }, () => [self.id]),
    insyncTerm: 0,
  };
}

/** The member list with this node on its current endpoints. */
export function withSelf(members: readonly Member[], self: Member): Member[] {
  return [...members.filter((m) => m.id !== self.id), self].sort((a, b) => a.id - b.id);
}

/** Binds, or throws a ConfigError naming the endpoint and its flag (Bun's names neither). */
export async function bindOrExplain(
  socket: { bind(endpoint: string): Promise<string> },
  host: string,
  port: number,
  flag: string,
): Promise<string> {
  const endpoint = `tcp://${host}:${port}`;
  try {
    return await socket.bind(endpoint);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(
      `cannot listen on ${endpoint} (${flag}): ${reason}; ` + "is another process using that port?",
    );
  }
}
