// The joining side of a join: find the leader through any member's client port (HEARTBEAT names
// it and every member's peer endpoint), ask it on its peer port, follow NOT_LEADER hints, and
// retry until the leader admits us or refuses. A refusal is a ConfigError: the node exits 1 with
// the leader's sentence. I/O only; the leader's rules are in join-rules.ts.

import { ConfigError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { type CurveOptions, Dealer, bytesToString } from "../zmtp/index.ts";
import type { Message as RaftMessage } from "../raft/index.ts";
import {
  encodePeerMessage,
  parsePeerMessage,
  type MembershipReply,
  type PeerLimits,
} from "./peer-protocol.ts";
import type { MemberRecord } from "./state.ts";

export interface JoinAsk {
  readonly rf: number | null;
  readonly minInsync: number;
  readonly isRestart: boolean;
}

export type JoinAccepted = Extract<MembershipReply, { ok: true }>;

const ATTEMPT_TIMEOUT_MS = 2000;
const RETRY_PAUSE_MS = 200;

/** Where to send the join: a member's id and peer endpoint. */
interface Target {
  readonly id: number;
  readonly peer: string;
}

export async function joinCluster(
  self: MemberRecord,
  seeds: readonly string[],
  ask: JoinAsk,
  limits: PeerLimits<RaftMessage>,
  log: Logger,
  deadlineMs: number,
  /** Told each member asked, before the asking: the joiner must be able to answer its Raft
   * messages (the leader's first appends and snapshot) before the join reply comes. */
  onTarget: (target: { id: number; peer: string }) => void = () => undefined,
  /** CURVE toward the members (the cluster key), or undefined for NULL. */
  curve?: CurveOptions,
): Promise<JoinAccepted> {
  const deadline = performance.now() + deadlineMs;
  let rid = 1;
  let lastProblem = "no member answered";
  while (performance.now() < deadline) {
    for (const seed of seeds) {
      let target: Target | null = await findLeader(seed, curve).catch((error: unknown) => {
        lastProblem = `${seed}: ${String(error instanceof Error ? error.message : error)}`;
        return null;
      });
      for (let hops = 0; target !== null && hops < 3; hops++) {
        onTarget(target);
        const reply = await askJoin(self, target, ask, rid++, limits, curve).catch((error: unknown) => {
          lastProblem = `${target?.peer}: ${String(error instanceof Error ? error.message : error)}`;
          return null;
        });
        if (reply === null) break;
        if (reply.ok) return reply;
        if (reply.code === "REFUSED") {
          throw new ConfigError(`join refused by ${seed}: ${reply.message}`);
        }
        lastProblem = reply.message;
        if (reply.code === "BUSY") break;
        target = reply.leader === undefined ? null : { id: reply.leader.id, peer: reply.leader.endpoint };
      }
    }
    log.info("join_retry", { problem: lastProblem });
    await Bun.sleep(RETRY_PAUSE_MS);
  }
  throw new ConfigError(`could not join through ${seeds.join(", ")}: ${lastProblem}`);
}

/** Asks a member's client port who leads and where its peer port is. */
async function findLeader(seed: string, curve?: CurveOptions): Promise<Target | null> {
  const dealer = new Dealer({ lingerMs: 0, reconnectIvlMs: 50, ...(curve ? { curve } : {}) });
  try {
    dealer.connect(seed);
    await dealer.send([JSON.stringify({ id: 1, op: "HEARTBEAT" })]);
    const frames = await withTimeout(dealer.receive(), ATTEMPT_TIMEOUT_MS, "no heartbeat reply");
    const reply: unknown = JSON.parse(bytesToString(frames[frames.length - 1] as Uint8Array));
    return leaderTarget(reply);
  } finally {
    await dealer.close();
  }
}

function leaderTarget(reply: unknown): Target | null {
  if (typeof reply !== "object" || reply === null) return null;
  const { leader, members } = reply as { leader?: unknown; members?: unknown };
  if (typeof leader !== "object" || leader === null || !Array.isArray(members)) return null;
  const leaderId = (leader as { id?: unknown }).id;
  for (const m of members) {
    if (typeof m !== "object" || m === null) continue;
    const { id, peer } = m as { id?: unknown; peer?: unknown };
    if (id === leaderId && typeof id === "number" && typeof peer === "string") return { id, peer };
  }
  return null;
}

async function askJoin(
  self: MemberRecord,
  target: Target,
  ask: JoinAsk,
  rid: number,
  limits: PeerLimits<RaftMessage>,
  curve?: CurveOptions,
): Promise<MembershipReply | null> {
  const dealer = new Dealer({ lingerMs: 0, reconnectIvlMs: 50, ...(curve ? { curve } : {}) });
  try {
    dealer.connect(target.peer);
    const body = { rid, member: self, rf: ask.rf, minInsync: ask.minInsync, isRestart: ask.isRestart };
    await dealer.send([encodePeerMessage({ from: self.id, to: target.id, kind: "join", body })]);
    // A join waits for its conf change to commit; allow a few attempts' worth.
    const frames = await withTimeout(dealer.receive(), 3 * ATTEMPT_TIMEOUT_MS, "no join reply");
    const parsed = parsePeerMessage(frames[frames.length - 1] as Uint8Array, limits);
    if (!parsed.ok || parsed.message.kind !== "join-reply") return null;
    return parsed.message.body.rid === rid ? parsed.message.body : null;
  } finally {
    await dealer.close();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
