// The Raft state machine proper (internal; RaftCore in core.ts is the public face): terms,
// roles and their transitions, the election timer with the rank bias, the common part of
// step() (term rules, votes) and configuration changes at commit. Role-specific handling lives
// in roles/. Pure: no I/O, no clock; randomness comes from the injected Random.
import { assert, unreachable } from "./assert.ts";
import { RaftLog } from "./log.ts";
import { decodeConfChange } from "./messages.ts";
import { Progress } from "./progress.ts";
import { majorityValue, voteResult } from "./quorum.ts";
import { broadcastAppend } from "./roles/leader.ts";
import type {
  ConfChange, Entry, Message, NodeId, Outbound, RaftConfig, RaftLogger, RaftStorage, Random,
  ReadState, Role, Snapshot, StepResult, VoteMessage,
} from "./types.ts";

const silentLogger: RaftLogger = { debug() {}, info() {}, warn() {} };

/** A ReadIndex request waiting for a quorum to confirm the round it rides on (§6.4). */
export interface PendingRead {
  context: string;
  /** The commit index at request time; -1 until the leader commits an entry of its term. */
  index: number;
  round: number;
}

/** Bound on queued ReadIndex requests (style.md B6). */
export const pendingReadsMax = 10_000;

export class Raft {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly random: Random;
  readonly logger: RaftLogger;
  readonly log: RaftLog;

  term = 0;
  vote: NodeId | 0 = 0;
  role: Role = "follower";
  leaderId: NodeId | 0 = 0;
  /**
   * Sorted voters of the latest configuration in the log, committed or not: who may campaign,
   * and whose votes elect (thesis §4.1). Commitment, CheckQuorum, ReadIndex and the lease count
   * the committed configuration instead (committedVoters); see ConfChange in types.ts.
   */
  voters: NodeId[] = [];
  /** Configurations by the index of their entry, the snapshot's first; the last is in force. */
  confHistory: { index: number; voters: NodeId[] }[] = [];

  /** Leader only: one entry per voter, itself included. */
  progress: Map<NodeId, Progress> | null = null;
  votes = new Map<NodeId, boolean>();

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Ticks since this node last heard from a leader (or was constructed): stickiness. */
  leaderContactTicks = 0;
  /**
   * Set when this node campaigns, cleared when it hears from a leader or leads: meanwhile its
   * timeouts draw Raft's full jitter (RaftConfig), as the rank order alone can replay the same
   * failed election forever.
   */
  isRetryingElection = false;

  /** Ticks since this node became leader: the clock of CheckQuorum. */
  leaderTicks = 0;
  leadTransferee: NodeId | 0 = 0;
  /** The term in which this node last started a leader transfer (no lease in that term). */
  transferTerm = 0;
  /** Leader: no new conf change until this index is applied. */
  pendingConfIndex = 0;

  /** Heartbeat round of the current leadership; roundPending: the newest not yet in a Ready. */
  round = 0;
  roundPending: number | null = null;
  pendingReads: PendingRead[] = [];
  readStates: ReadState[] = [];
  messages: Outbound[] = [];

  constructor(config: RaftConfig, storage: RaftStorage, random: Random, logger?: RaftLogger) {
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.logger = logger ?? silentLogger;
    const { hardState, confState } = storage.initialState();
    const snapshotIndex = storage.firstIndex() - 1;
    assert(hardState.commit >= snapshotIndex, "stored commit is below the snapshot");
    assert(hardState.commit <= storage.lastIndex(), "stored commit is beyond the stored log");
    const applied = config.applied ?? snapshotIndex;
    assert(applied >= snapshotIndex && applied <= hardState.commit, `bad applied ${applied}`);
    this.log = new RaftLog(storage, snapshotIndex, applied);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.voters = confState.voters.slice().sort((a, b) => a - b);
    this.confHistory = [{ index: snapshotIndex, voters: this.voters }];
    this.replayConfChanges(snapshotIndex + 1, storage.lastIndex() + 1);
    this.commitTo(hardState.commit);
    this.becomeFollower(this.term, 0);
    // A restart behaves as if it had just heard from a leader: a lease granted before the
    // crash survives a fast restart (types.ts, the lease contract).
    this.leaderContactTicks = 0;
  }

  /** On start: the configuration is the snapshot's plus every conf change in the log. */
  private replayConfChanges(lo: number, hi: number): void {
    const step = 1024;
    for (let at = lo; at < hi; at += step) {
      const batch = this.log.entries(at, Math.min(hi, at + step)) ?? [];
      for (const entry of batch) if (entry.type === "conf-change") this.applyConfChange(entry);
    }
  }

  isPromotable(): boolean {
    return this.voters.includes(this.id);
  }

  rank(): number {
    return this.voters.indexOf(this.id);
  }

  send(message: Message, afterPersist: boolean): void {
    this.messages.push({ message, afterPersist });
  }

  /** See RaftConfig in types.ts for the formula. */
  resetRandomizedElectionTimeout(): void {
    const { electionTicks, rankStaggerTicks } = this.config;
    const isOrdered = rankStaggerTicks > 0 && !this.isRetryingElection;
    const jitterTicks = isOrdered ? Math.max(1, Math.floor(rankStaggerTicks / 2)) : electionTicks;
    const rank = Math.max(0, this.rank());
    this.randomizedElectionTimeout =
      electionTicks + rank * rankStaggerTicks + this.random.nextInt(jitterTicks);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = 0;
    }
    this.leaderId = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = 0;
    this.votes.clear();
    this.progress = null;
    this.leaderTicks = 0;
    this.pendingReads = [];
    this.round = 0;
    this.roundPending = null;
  }

  becomeFollower(term: number, leaderId: NodeId | 0): void {
    const wasFollower = this.role === "follower";
    this.reset(term);
    this.role = "follower";
    this.leaderId = leaderId;
    // A node that was campaigning or leading holds no follower's lease on anyone.
    if (!wasFollower) this.leaderContactTicks = this.config.electionTicks;
    this.logger.debug("became-follower", { term, leaderId });
  }

  becomePreCandidate(): void {
    assert(this.role !== "leader", "a leader cannot become a pre-candidate");
    // PreVote (thesis §9.6) changes neither term nor vote.
    this.votes.clear();
    this.progress = null;
    this.leaderId = 0;
    this.role = "pre-candidate";
    this.leaderContactTicks = this.config.electionTicks;
    // Each election starts its own timeout (§5.2), the jitter of a retry included.
    this.resetRandomizedElectionTimeout();
    this.logger.debug("became-pre-candidate", { term: this.term });
  }

  becomeCandidate(): void {
    assert(this.role !== "leader", "a leader cannot become a candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
    this.leaderContactTicks = this.config.electionTicks;
    this.logger.info("became-candidate", { term: this.term });
  }

  /** The last index known durable on this node (what a leader may count for itself). */
  stableLastIndex(): number {
    if (this.log.unstable.snapshot !== null) return 0;
    return Math.min(this.log.lastIndex(), this.log.unstable.offset - 1);
  }

  becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.isRetryingElection = false;
    this.reset(this.term);
    this.role = "leader";
    this.leaderId = this.id;
    const progress = new Map<NodeId, Progress>();
    const next = this.log.lastIndex() + 1;
    for (const voter of this.trackedVoters()) {
      progress.set(voter, new Progress(next, this.config.maxInflightAppends));
    }
    this.progress = progress;
    const own = this.selfProgress();
    if (own !== null) {
      own.maybeUpdate(this.stableLastIndex());
      own.becomeReplicate();
    }
    // No conf change until everything this leader inherited is applied (etcd's rule, and the
    // fix for the single-server change bug: a leader commits an entry of its term first).
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntries([{ term: this.term, index: 0, type: "normal", data: "" }]);
    this.logger.info("became-leader", { term: this.term });
    broadcastAppend(this);
  }

  selfProgress(): Progress | null {
    return this.progress?.get(this.id) ?? null;
  }

  /** Leader: appends new entries of its term at the end of its log. */
  appendEntries(entries: Entry[]): number {
    const lastIndex = this.log.lastIndex();
    const stamped = entries.map((e, i) => ({ ...e, term: this.term, index: lastIndex + 1 + i }));
    this.log.append(stamped);
    this.noteConfChanges(stamped);
    return lastIndex + stamped.length;
  }

  /**
   * Puts the conf changes among newly appended `entries` into force. A configuration takes
   * effect as soon as its entry is in the log, committed or not (thesis §4.1): every quorum
   * then overlaps with those of the configurations before and after it. A replaced suffix
   * takes its configurations with it.
   */
  noteConfChanges(entries: Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const before = this.voters;
    while (this.confHistory.length > 1 && (this.lastConf().index >= first.index)) {
      this.confHistory.pop();
    }
    this.voters = this.lastConf().voters;
    for (const entry of entries) if (entry.type === "conf-change") this.applyConfChange(entry);
    if (this.voters !== before && this.progress !== null) this.leaderConfChanged();
  }

  lastConf(): { index: number; voters: NodeId[] } {
    const last = this.confHistory[this.confHistory.length - 1];
    assert(last !== undefined, "configuration history is empty");
    return last;
  }

  /** Advances the commit index; a leader whose removal is now committed steps down. */
  commitTo(index: number): void {
    if (index <= this.log.committed) return;
    this.log.commitTo(index);
  }

  /** The voters after `change`, or a reason why it cannot be applied to `voters`. */
  static checkConfChange(voters: NodeId[], change: ConfChange): NodeId[] | string {
    const has = voters.includes(change.nodeId);
    switch (change.type) {
      case "add-voter":
        if (has) return `node ${change.nodeId} is already a voter`;
        return voters.concat([change.nodeId]).sort((a, b) => a - b);
      case "remove-voter":
        if (!has) return `node ${change.nodeId} is not a voter`;
        if (voters.length === 1) return "cannot remove the last voter";
        return voters.filter((v) => v !== change.nodeId);
      default:
        return unreachable(change.type);
    }
  }

  private applyConfChange(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    const next =
      change === null ? "malformed conf change" : Raft.checkConfChange(this.voters, change);
    if (typeof next === "string") {
      // Checked when proposed; one that still fails here is skipped identically everywhere.
      this.logger.warn("conf-change-skipped", { index: entry.index, reason: next });
      return;
    }
    this.voters = next;
    this.confHistory.push({ index: entry.index, voters: next });
    // The rank bias depends on this node's place among the voters: redraw with the new rank.
    this.resetRandomizedElectionTimeout();
    this.logger.info("conf-changed", { index: entry.index, voters: next });
  }

  /** The configuration counted for commitment: the newest at or below the commit index. */
  committedVoters(): NodeId[] {
    for (let i = this.confHistory.length - 1; i > 0; i--) {
      const item = this.confHistory[i] as { index: number; voters: NodeId[] };
      if (item.index <= this.log.committed) return item.voters;
    }
    return (this.confHistory[0] as { voters: NodeId[] }).voters;
  }

  /** A leader replicates to both the latest and the committed configuration's voters. */
  trackedVoters(): NodeId[] {
    const committed = this.committedVoters();
    if (committed === this.voters) return this.voters;
    return [...new Set([...this.voters, ...committed])].sort((a, b) => a - b);
  }

  /** Keeps the leader's progress in step with the tracked voters (after appends and commits). */
  leaderConfChanged(): void {
    const progress = this.progress as Map<NodeId, Progress>;
    const tracked = this.trackedVoters();
    for (const id of [...progress.keys()]) {
      if (!tracked.includes(id) && id !== this.id) progress.delete(id);
    }
    for (const voter of tracked) {
      if (!progress.has(voter)) {
        const added = new Progress(this.log.lastIndex(), this.config.maxInflightAppends);
        added.lastActiveTick = this.leaderTicks;
        progress.set(voter, added);
      }
    }
    if (this.leadTransferee !== 0 && !this.voters.includes(this.leadTransferee)) {
      this.leadTransferee = 0;
    }
  }

  /** A leader outside its configuration whose removal is committed: it must step down. */
  isRemovalCommitted(): boolean {
    return !this.voters.includes(this.id) && this.lastConf().index <= this.log.committed;
  }

  confStateAt(index: number): NodeId[] {
    let voters = this.confHistory[0]?.voters ?? [];
    for (const item of this.confHistory) {
      if (item.index > index) break;
      voters = item.voters;
    }
    return voters.slice();
  }

  /** Drops configuration history older than the newest entry at or below `index`. */
  trimConfHistory(index: number): void {
    while (this.confHistory.length > 1 && (this.confHistory[1]?.index ?? Infinity) <= index) {
      this.confHistory.shift();
    }
  }

  restoreSnapshot(snapshot: Snapshot): void {
    this.log.restore(snapshot);
    this.voters = snapshot.meta.confState.voters.slice().sort((a, b) => a - b);
    this.confHistory = [{ index: snapshot.meta.index, voters: this.voters }];
    this.resetRandomizedElectionTimeout();
  }

  /** In lease: this node ignores (pre)vote requests of higher terms (thesis §4.2.3). */
  isInLease(): boolean {
    if (!this.config.checkQuorum) return false;
    if (this.role === "leader") return true;
    return this.role === "follower" && this.leaderContactTicks < this.config.electionTicks;
  }

  /** Whether the leader heard from `id` within the last election timeout. */
  isRecentlyActive(id: NodeId): boolean {
    if (id === this.id) return true;
    const item = this.progress?.get(id);
    return item !== undefined && this.leaderTicks - item.lastActiveTick < this.config.electionTicks;
  }

  /** The newest heartbeat round a quorum acknowledged in this term (0: none). */
  quorumRound(): number {
    const progress = this.progress;
    if (progress === null) return 0;
    return majorityValue(this.committedVoters(), (id) =>
      id === this.id ? this.round : (progress.get(id)?.ackedRound ?? 0),
    );
  }

  // ---- campaigning ----

  campaign(kind: "pre-vote" | "vote", force: boolean): void {
    if (!this.isPromotable()) return;
    if (this.role === "leader") return;
    this.isRetryingElection = true;
    if (kind === "pre-vote") this.becomePreCandidate();
    else this.becomeCandidate();
    const term = kind === "pre-vote" ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (voteResult(this.voters, this.votes) === "won") {
      // A single-voter configuration wins at once.
      if (kind === "pre-vote") this.campaign("vote", false);
      else this.becomeLeader();
      return;
    }
    for (const voter of this.voters) {
      if (voter === this.id) continue;
      const request: VoteMessage = {
        type: kind, from: this.id, to: voter, term,
        lastLogIndex: this.log.lastIndex(), lastLogTerm: this.log.lastTerm(), force,
      };
      this.send(request, true);
    }
  }

  /** The common part of step(): term rules (§5.1) and votes; then the role's handler. */
  stepTerm(message: Message): StepResult | "continue" {
    if (message.term > this.term) {
      if (message.type === "vote" || message.type === "pre-vote") {
        if (!message.force && this.isInLease()) {
          this.logger.debug("vote-ignored-in-lease", { from: message.from, term: message.term });
          return { ok: true };
        }
      }
      const keepsTerm =
        message.type === "pre-vote" || (message.type === "pre-vote-response" && !message.reject);
      if (!keepsTerm) {
        const fromLeader =
          message.type === "append" || message.type === "heartbeat" || message.type === "snapshot";
        const elapsed = this.electionElapsed;
        const wasFollower = this.role === "follower";
        this.becomeFollower(message.term, fromLeader ? message.from : 0);
        // §5.2 restarts the timer only on hearing from a leader or granting a vote: a stale
        // candidate (the lowest rank, behind, without PreVote) must not hold back the others.
        if (message.type === "vote" && wasFollower) this.electionElapsed = elapsed;
      }
    } else if (message.term < this.term) {
      this.answerStale(message);
      return { ok: true };
    }
    if (message.type === "vote" || message.type === "pre-vote") {
      this.answerVote(message);
      return { ok: true };
    }
    return "continue";
  }

  private answerStale(message: Message): void {
    const usesNewerTerms = this.config.checkQuorum || this.config.preVote;
    if (usesNewerTerms && (message.type === "append" || message.type === "heartbeat")) {
      // A deposed leader cut off for a while learns our term and steps down; without this,
      // PreVote/CheckQuorum could leave it stuck (etcd does the same).
      this.send({
        type: "append-response", from: this.id, to: message.from, term: this.term,
        index: 0, reject: false, rejectHint: 0, logTerm: 0,
      }, true);
    } else if (message.type === "pre-vote" || message.type === "vote") {
      const type = message.type === "vote" ? "vote-response" : "pre-vote-response";
      this.send({ type, from: this.id, to: message.from, term: this.term, reject: true }, true);
    }
  }

  private answerVote(message: VoteMessage): void {
    const canVote =
      this.vote === message.from ||
      (this.vote === 0 && this.leaderId === 0) ||
      (message.type === "pre-vote" && message.term > this.term);
    const responseType = message.type === "vote" ? "vote-response" : "pre-vote-response";
    if (canVote && this.log.isUpToDate(message.lastLogIndex, message.lastLogTerm)) {
      this.send({
        type: responseType, from: this.id, to: message.from, term: message.term, reject: false,
      }, true);
      if (message.type === "vote") {
        this.electionElapsed = 0;
        this.vote = message.from;
      }
    } else {
      this.send({
        type: responseType, from: this.id, to: message.from, term: this.term, reject: true,
      }, true);
    }
  }
}
