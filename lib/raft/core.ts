// RaftCore: the public, synchronous face of the Raft state machine (etcd's RawNode shape,
// style.md A1/B2). Inputs: tick(), step(), propose(), campaign(), transferLeader(),
// readIndex(); output: ready() batches, acknowledged with advance(). Pure: no I/O, no clock,
// no randomness of its own.
import { assert, unreachable } from "./assert.ts";
import { encodeConfChange, messageLimits } from "./messages.ts";
import { pendingReadsMax, Raft } from "./raft.ts";
import { stepCandidate, tickCandidate } from "./roles/candidate.ts";
import { stepFollower, tickFollower } from "./roles/follower.ts";
import {
  broadcastAppend, broadcastHeartbeat, hasCommittedInTerm, releaseReads, selfPersisted,
  stepLeader, tickLeader, transferLeader,
} from "./roles/leader.ts";
import type {
  ConfChange, Entry, HardState, Message, NodeId, ProgressStatus, ProposeConfChangeResult,
  ProposeResult, RaftConfig, RaftLogger, RaftStatus, RaftStorage, Random, ReadIndexResult, Role,
  Ready, Snapshot, SoftState, StepResult,
} from "./types.ts";

/** Committed entries handed out per Ready at most (style.md B6). */
export const committedPerReadyMax = 10_000;

/** Checks a configuration; returns every problem at once (empty when valid). */
export function validateRaftConfig(config: RaftConfig): string[] {
  const problems: string[] = [];
  const positive = (name: keyof RaftConfig): void => {
    const value = config[name];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      problems.push(`${name} must be a positive integer (got ${String(value)})`);
    }
  };
  for (const name of ["id", "electionTicks", "heartbeatTicks", "maxInflightAppends",
    "maxEntriesPerAppend"] as const) positive(name);
  if (!Number.isSafeInteger(config.rankStaggerTicks) || config.rankStaggerTicks < 0) {
    problems.push(
      `rankStaggerTicks must be a non-negative integer (got ${config.rankStaggerTicks})`,
    );
  }
  if (config.electionTicks <= 2 * config.heartbeatTicks) {
    problems.push(`electionTicks (${config.electionTicks}) must exceed twice heartbeatTicks ` +
      `(${config.heartbeatTicks})`);
  }
  if (config.maxEntriesPerAppend > messageLimits.entriesPerMessageMax) {
    problems.push(`maxEntriesPerAppend must be at most ${messageLimits.entriesPerMessageMax}`);
  }
  return problems;
}

export class RaftCore {
  private readonly raft: Raft;
  private previousHardState: HardState;
  private previousSoftState: SoftState = { leaderId: 0, role: "follower" };
  private compaction: Snapshot | null = null;
  private isReadyOut = false;
  private isBroadcastPending = false;

  constructor(config: RaftConfig, storage: RaftStorage, random: Random, logger?: RaftLogger) {
    const problems = validateRaftConfig(config);
    assert(problems.length === 0, `invalid raft config: ${problems.join("; ")}`);
    this.raft = new Raft(config, storage, random, logger);
    this.previousHardState = storage.initialState().hardState;
  }

  tick(): void {
    const raft = this.raft;
    switch (raft.role) {
      case "leader":
        return tickLeader(raft);
      case "candidate":
      case "pre-candidate":
        return tickCandidate(raft);
      case "follower":
        return tickFollower(raft);
      default:
        return unreachable(raft.role);
    }
  }

  /** Feeds a message from a peer. Never throws on peer input: a bad one is refused. */
  step(message: Message): StepResult {
    const raft = this.raft;
    if (message.to !== raft.id) return { ok: false, reason: `message for node ${message.to}` };
    if (message.from === raft.id) return { ok: false, reason: "message from this node itself" };
    const early = raft.stepTerm(message);
    if (early !== "continue") return early;
    switch (raft.role) {
      case "leader":
        return stepLeader(raft, message);
      case "candidate":
      case "pre-candidate":
        return stepCandidate(raft, message);
      case "follower":
        return stepFollower(raft, message);
      default:
        return unreachable(raft.role);
    }
  }

  private refusal(): { ok: false; reason: "not-leader" | "transferring" | "no-leader";
    leaderId: NodeId | 0 } | null {
    const raft = this.raft;
    if (raft.role !== "leader") {
      return { ok: false, reason: raft.leaderId === 0 ? "no-leader" : "not-leader",
        leaderId: raft.leaderId };
    }
    if (raft.leadTransferee !== 0) return { ok: false, reason: "transferring", leaderId: raft.id };
    return null;
  }

  propose(data: string): ProposeResult {
    const refused = this.refusal();
    if (refused !== null) return refused;
    if (data.length > messageLimits.entryDataCharsMax) {
      return { ok: false, reason: "too-large", leaderId: this.raft.id };
    }
    return this.append({ term: 0, index: 0, type: "normal", data });
  }

  /** One change at a time (thesis §4.1), checked before it enters the log. */
  proposeConfChange(change: ConfChange): ProposeConfChangeResult {
    const refused = this.refusal();
    if (refused !== null) return refused;
    const raft = this.raft;
    // One change at a time: the previous one committed and applied, everything inherited
    // applied, and an entry of this term committed (the fix to the single-server change bug).
    const isPending =
      raft.pendingConfIndex > raft.log.applied || raft.lastConf().index > raft.log.applied ||
      !hasCommittedInTerm(raft);
    if (isPending) return { ok: false, reason: "change-pending", leaderId: raft.id };
    const isValidId = Number.isSafeInteger(change.nodeId) && change.nodeId > 0;
    if (!isValidId || typeof Raft.checkConfChange(raft.voters, change) === "string") {
      return { ok: false, reason: "invalid-change", leaderId: raft.id };
    }
    const result = this.append({ term: 0, index: 0, type: "conf-change",
      data: encodeConfChange(change) });
    raft.pendingConfIndex = result.index;
    return result;
  }

  private append(entry: Entry): { ok: true; index: number; term: number } {
    const raft = this.raft;
    const index = raft.appendEntries([entry]);
    // Sent when the next Ready is taken: proposals made in between share one append per
    // follower instead of one each.
    this.isBroadcastPending = true;
    return { ok: true, index, term: raft.term };
  }

  /**
   * Starts an election now (PreVote first when enabled). Ignored by non-voters, and by a
   * follower in lease (it heard from a leader, or restarted, within the election timeout): it
   * may have acknowledged a heartbeat round that a leader's lease rests on, so it must not vote
   * for anyone, itself included. To move leadership, use transferLeader on the leader. The one
   * exception is a node that is its configuration's only voter (a cluster just bootstrapped):
   * no other leader can hold a lease on it, since every later configuration would be in its log.
   */
  campaign(): void {
    const raft = this.raft;
    const isSoleVoter = raft.voters.length === 1 && raft.voters[0] === raft.id;
    if (raft.isInLease() && !isSoleVoter) return;
    raft.campaign(raft.config.preVote ? "pre-vote" : "vote", false);
  }

  /** Leader only: hands leadership to `to` once it is caught up (thesis §3.10). */
  transferLeader(to: NodeId): void {
    if (this.raft.role === "leader") transferLeader(this.raft, to);
  }

  /**
   * The shell could not deliver to `to` (its connection dropped): stop pipelining appends into
   * the void and probe again, one append at a time (etcd's ReportUnreachable).
   */
  reportUnreachable(to: NodeId): void {
    const progress = this.raft.progress?.get(to);
    if (progress !== undefined && progress.state === "replicate") progress.becomeProbe();
  }

  /**
   * ReadIndex (thesis §6.4): answered in a Ready's readStates once a quorum confirmed this
   * leadership in a heartbeat round sent after the request, with the commit index at request
   * time (after the leader has committed an entry of its own term). Requests still waiting when
   * this node stops leading are dropped: the caller times them out and retries elsewhere.
   */
  readIndex(context: string): ReadIndexResult {
    const raft = this.raft;
    if (raft.role !== "leader") {
      return { ok: false, reason: raft.leaderId === 0 ? "no-leader" : "not-leader",
        leaderId: raft.leaderId };
    }
    if (raft.pendingReads.length >= pendingReadsMax) {
      return { ok: false, reason: "too-many-reads", leaderId: raft.id };
    }
    // A round whose messages are still in the outbox was not sent yet: the read may ride it.
    if (raft.roundPending === null) broadcastHeartbeat(raft);
    const index = hasCommittedInTerm(raft) ? raft.log.committed : -1;
    raft.pendingReads.push({ context, index, round: raft.round });
    releaseReads(raft);
    return { ok: true };
  }

  /**
   * The newest heartbeat round a quorum acknowledged in this term, or null (not leader,
   * checkQuorum off, no round yet, or a transfer started in this term). See types.ts.
   */
  leaseRound(): number | null {
    const raft = this.raft;
    if (raft.role !== "leader" || !raft.config.checkQuorum) return null;
    if (raft.transferTerm === raft.term) return null;
    const round = raft.quorumRound();
    return round > 0 ? round : null;
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  private softState(): SoftState {
    return { leaderId: this.raft.leaderId, role: this.raft.role };
  }

  private hasCommittedToApply(): boolean {
    const log = this.raft.log;
    return log.unstable.snapshot === null && log.applied < log.committed;
  }

  /** Whether ready() has work; false while a Ready is out (until advance()). */
  hasReady(): boolean {
    if (this.isReadyOut) return false;
    const raft = this.raft;
    const previous = this.previousHardState;
    const soft = this.previousSoftState;
    return (
      this.isBroadcastPending ||
      raft.messages.length > 0 ||
      raft.log.unstable.entries.length > 0 ||
      raft.log.unstable.snapshot !== null ||
      this.hasCommittedToApply() ||
      raft.readStates.length > 0 ||
      raft.roundPending !== null ||
      this.compaction !== null ||
      raft.term !== previous.term || raft.vote !== previous.vote ||
      raft.log.committed !== previous.commit ||
      raft.leaderId !== soft.leaderId || raft.role !== soft.role
    );
  }

  /** The next batch; call advance(ready) before asking for another. */
  ready(): Ready {
    assert(!this.isReadyOut, "ready() called again before advance()");
    this.isReadyOut = true;
    const raft = this.raft;
    if (this.isBroadcastPending) {
      this.isBroadcastPending = false;
      if (raft.role === "leader") broadcastAppend(raft);
    }
    const log = raft.log;
    const hard = this.hardState();
    const previous = this.previousHardState;
    const isHardChanged =
      hard.term !== previous.term || hard.vote !== previous.vote || hard.commit !== previous.commit;
    const soft = this.softState();
    const isSoftChanged =
      soft.leaderId !== this.previousSoftState.leaderId ||
      soft.role !== this.previousSoftState.role;
    this.previousSoftState = soft;
    const committed = this.hasCommittedToApply()
      ? (log.entries(log.applied + 1, log.committed + 1, committedPerReadyMax) ?? [])
      : [];
    const entries = log.unstable.entries.slice();
    const ready: Ready = {
      hardState: isHardChanged ? hard : null,
      entries,
      snapshot: log.unstable.snapshot,
      messages: raft.messages,
      committed,
      readStates: raft.readStates,
      softState: isSoftChanged ? soft : null,
      mustSync: entries.length > 0 || hard.term !== previous.term || hard.vote !== previous.vote ||
        log.unstable.snapshot !== null,
      heartbeatRound: raft.roundPending,
      compaction: this.compaction,
    };
    raft.messages = [];
    raft.readStates = [];
    raft.roundPending = null;
    this.compaction = null;
    return ready;
  }

  /** The shell has persisted, sent and applied `ready`. */
  advance(ready: Ready): void {
    assert(this.isReadyOut, "advance() without a ready()");
    this.isReadyOut = false;
    const raft = this.raft;
    const log = raft.log;
    if (ready.hardState !== null) this.previousHardState = ready.hardState;
    if (ready.snapshot !== null) {
      const index = ready.snapshot.meta.index;
      log.unstable.stableSnapTo(index);
      if (log.applied < index) log.applied = index;
    }
    const last = ready.entries[ready.entries.length - 1];
    if (last !== undefined) {
      log.unstable.stableTo(last.index, last.term);
      if (raft.role === "leader" && log.term(last.index) === last.term) {
        selfPersisted(raft, last.index);
      }
    }
    const lastCommitted = ready.committed[ready.committed.length - 1];
    if (lastCommitted !== undefined) log.appliedTo(lastCommitted.index);
    if (ready.compaction !== null) raft.trimConfHistory(ready.compaction.meta.index);
  }

  /**
   * The application took a snapshot of its state machine at `index` (<= applied): the next
   * Ready carries it in `compaction`, with the configuration in force at that index.
   */
  compact(index: number, data: string): void {
    const log = this.raft.log;
    assert(index <= log.applied, `compact at ${index} beyond applied ${log.applied}`);
    if (index <= log.storage.snapshot().meta.index) return;
    const term = log.term(index);
    assert(term !== null, `no term for ${index} to compact at`);
    this.compaction = {
      meta: { index, term, confState: { voters: this.raft.confStateAt(index) } },
      data,
    };
  }

  /** What status() says of term, leader, role and voters, without copying the progress. */
  brief(): { term: number; leaderId: NodeId | 0; role: Role; voters: readonly NodeId[] } {
    const raft = this.raft;
    return { term: raft.term, leaderId: raft.leaderId, role: raft.role, voters: raft.voters };
  }

  status(): RaftStatus {
    const raft = this.raft;
    let progress: Map<NodeId, ProgressStatus> | null = null;
    if (raft.progress !== null) {
      progress = new Map();
      for (const [id, item] of raft.progress) {
        progress.set(id, { match: item.match, next: item.next, state: item.state,
          recentActive: raft.isRecentlyActive(id) });
      }
    }
    return {
      id: raft.id, term: raft.term, vote: raft.vote, commit: raft.log.committed,
      applied: raft.log.applied, lastIndex: raft.log.lastIndex(), leaderId: raft.leaderId,
      role: raft.role, voters: raft.committedVoters().slice(), votersInLog: raft.voters.slice(),
      progress, transferee: raft.leadTransferee,
      leaseRound: this.leaseRound(),
    };
  }
}
