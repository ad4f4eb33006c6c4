// The leader's side: replication with pipelined appends and fast back-off (§5.3), commit of
// current-term entries only (§5.4.2), heartbeat rounds (lease and ReadIndex, §6.4),
// CheckQuorum (thesis §6.2) and leader transfer (thesis §3.10). Pure: no I/O.
import { assert } from "../assert.ts";
import type { Progress } from "../progress.ts";
import { majorityValue } from "../quorum.ts";
import type { Raft } from "../raft.ts";
import type { Message, NodeId, StepResult } from "../types.ts";

export function tickLeader(raft: Raft): void {
  raft.heartbeatElapsed += 1;
  raft.electionElapsed += 1;
  raft.leaderTicks += 1;
  const { electionTicks, heartbeatTicks } = raft.config;
  if (raft.config.checkQuorum && !hasQuorumActive(raft)) {
    raft.logger.info("leader-lost-quorum", { term: raft.term });
    raft.becomeFollower(raft.term, 0);
    return;
  }
  if (raft.electionElapsed >= electionTicks) {
    raft.electionElapsed = 0;
    if (raft.leadTransferee !== 0) {
      raft.logger.info("transfer-aborted", { to: raft.leadTransferee });
      raft.leadTransferee = 0;
    }
  }
  for (const [id, progress] of progressOf(raft)) {
    if (progress.state !== "snapshot") continue;
    // A snapshot lost on the way (or refused) is given up after an election timeout.
    progress.snapshotTicks += 1;
    if (progress.snapshotTicks >= electionTicks) {
      progress.becomeProbe();
      sendAppend(raft, id, true);
    }
  }
  if (raft.heartbeatElapsed >= heartbeatTicks) {
    raft.heartbeatElapsed = 0;
    broadcastHeartbeat(raft);
  }
}

function progressOf(raft: Raft): Map<NodeId, Progress> {
  const progress = raft.progress;
  assert(progress !== null, "a leader without progress");
  return progress;
}

/** CheckQuorum: whether a majority (the leader included) was heard from within the last
 * election timeout; a new leader has one election timeout of grace. */
function hasQuorumActive(raft: Raft): boolean {
  const voters = raft.committedVoters();
  return majorityValue(voters, (id) => (raft.isRecentlyActive(id) ? 1 : 0)) === 1;
}

/**
 * Sends the follower what it misses: entries from next (or a snapshot when they are
 * compacted). Returns whether something was sent. An empty append goes out only when asked.
 */
export function sendAppend(raft: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const progress = progressOf(raft).get(to);
  if (progress === undefined || progress.isPaused()) return false;
  const prevIndex = progress.next - 1;
  const prevTerm = raft.log.term(prevIndex);
  const lastIndex = raft.log.lastIndex();
  const entries =
    prevTerm === null
      ? null
      : raft.log.entries(progress.next, lastIndex + 1, raft.config.maxEntriesPerAppend);
  if (prevTerm === null || entries === null) return sendSnapshot(raft, to, progress);
  if (entries.length === 0 && !sendIfEmpty) return false;
  raft.send({
    type: "append", from: raft.id, to, term: raft.term, index: prevIndex, logTerm: prevTerm,
    entries, commit: raft.log.committed,
  }, false);
  progress.sentEntries(prevIndex + entries.length, entries.length);
  return true;
}

function sendSnapshot(raft: Raft, to: NodeId, progress: Progress): boolean {
  const snapshot = raft.log.snapshot();
  if (snapshot.meta.index === 0) return false;
  progress.becomeSnapshot(snapshot.meta.index);
  raft.send({ type: "snapshot", from: raft.id, to, term: raft.term, snapshot }, false);
  raft.logger.info("snapshot-sent", { to, index: snapshot.meta.index });
  return true;
}

export function broadcastAppend(raft: Raft): void {
  for (const id of progressOf(raft).keys()) if (id !== raft.id) sendAppend(raft, id, true);
}

/** Starts a new heartbeat round: the unit of the lease and of ReadIndex confirmation. */
export function broadcastHeartbeat(raft: Raft): void {
  raft.round += 1;
  raft.roundPending = raft.round;
  const progress = progressOf(raft);
  for (const [id, item] of progress) {
    if (id === raft.id) continue;
    // Never tell a follower to commit beyond what it is known to hold.
    const commit = Math.min(item.match, raft.log.committed);
    raft.send({
      type: "heartbeat", from: raft.id, to: id, term: raft.term, commit, round: raft.round,
    }, false);
  }
  releaseReads(raft);
}

/** Commits what a majority holds, if it is of the current term (§5.4.2). */
export function maybeCommit(raft: Raft): boolean {
  const progress = progressOf(raft);
  // Counted in the committed configuration: a change is committed by the voters before it
  // (with one change at a time, any two majorities of the two overlap).
  const index = majorityValue(raft.committedVoters(), (id) => progress.get(id)?.match ?? 0);
  if (index <= raft.log.committed || raft.log.term(index) !== raft.term) return false;
  const before = raft.committedVoters();
  raft.commitTo(index);
  if (raft.committedVoters() !== before) {
    raft.leaderConfChanged();
    // The new configuration may already hold a majority further on.
    maybeCommit(raft);
    if (raft.role !== "leader") return true;
  }
  if (raft.isRemovalCommitted()) {
    stepDownRemoved(raft);
    return true;
  }
  for (const read of raft.pendingReads) if (read.index < 0) read.index = raft.log.committed;
  releaseReads(raft);
  return true;
}

/**
 * The leader's removal is committed: tell the followers the commit, hand the lead to the
 * lowest-ordered voter that holds the whole log (TimeoutNow, so no election timeout is lost),
 * and step down.
 */
function stepDownRemoved(raft: Raft): void {
  broadcastAppend(raft);
  const progress = progressOf(raft);
  const lastIndex = raft.log.lastIndex();
  const successor = raft.voters.find((id) => progress.get(id)?.match === lastIndex);
  if (successor !== undefined) sendTimeoutNow(raft, successor);
  raft.logger.info("removed-leader-stepped-down", { term: raft.term, successor: successor ?? 0 });
  raft.becomeFollower(raft.term, 0);
}

export function hasCommittedInTerm(raft: Raft): boolean {
  return raft.log.term(raft.log.committed) === raft.term;
}

/** Answers the reads whose round a quorum has confirmed, in order. */
export function releaseReads(raft: Raft): void {
  if (raft.pendingReads.length === 0) return;
  const confirmed = raft.quorumRound();
  let released = 0;
  for (const read of raft.pendingReads) {
    if (read.round > confirmed || read.index < 0) break;
    raft.readStates.push({ index: read.index, context: read.context });
    released += 1;
  }
  if (released > 0) raft.pendingReads.splice(0, released);
}

/** The leader's own entries are durable up to `index` (it counts itself only then). */
export function selfPersisted(raft: Raft, index: number): void {
  const own = raft.selfProgress();
  if (own === null || !own.maybeUpdate(index)) return;
  if (maybeCommit(raft) && raft.role === "leader") broadcastAppend(raft);
}

function notVoter(id: NodeId): StepResult {
  return { ok: false, reason: `node ${id} is not a voter` };
}

export function stepLeader(raft: Raft, message: Message): StepResult {
  const progress = progressOf(raft).get(message.from);
  switch (message.type) {
    case "append-response":
      if (progress === undefined) return notVoter(message.from);
      progress.lastActiveTick = raft.leaderTicks;
      if (message.reject) onAppendRejected(raft, message.from, progress, message);
      else onAppendAccepted(raft, message.from, progress, message.index);
      return { ok: true };
    case "heartbeat-response":
      if (progress === undefined) return notVoter(message.from);
      if (message.round > raft.round) {
        return { ok: false, reason: "heartbeat round from the future" };
      }
      progress.lastActiveTick = raft.leaderTicks;
      progress.ackedRound = Math.max(progress.ackedRound, message.round);
      progress.probeSent = false;
      if (progress.state === "replicate" && progress.inflights.isFull()) progress.inflights.reset();
      if (progress.match < raft.log.lastIndex()) sendAppend(raft, message.from, true);
      releaseReads(raft);
      return { ok: true };
    case "append":
    case "heartbeat":
    case "snapshot":
      // Election safety (§5.2) means no other leader in this term: a broken or hostile peer.
      return {
        ok: false, reason: `${message.type} from node ${message.from} in the leader's term`,
      };
    case "vote-response":
    case "pre-vote-response":
    case "timeout-now":
    case "vote":
    case "pre-vote":
      return { ok: true };
  }
}

function onAppendRejected(
  raft: Raft, from: NodeId, progress: Progress,
  message: { index: number; rejectHint: number; logTerm: number },
): void {
  // Fast back-off: skip every entry of a term the follower does not have (thesis §5.3 note).
  let next = message.rejectHint;
  if (message.logTerm > 0) {
    next = raft.log.findConflictByTerm(message.rejectHint, message.logTerm).index;
  }
  if (!progress.maybeDecrTo(message.index, next)) return;
  if (progress.state === "replicate") progress.becomeProbe();
  sendAppend(raft, from, true);
}

function onAppendAccepted(raft: Raft, from: NodeId, progress: Progress, index: number): void {
  if (index > raft.log.lastIndex()) return;
  const wasPaused = progress.isPaused();
  const updated = progress.maybeUpdate(index);
  if (progress.state === "replicate") progress.inflights.freeLE(index);
  if (updated) {
    if (progress.state === "probe") {
      progress.becomeReplicate();
    } else if (progress.state === "snapshot" && progress.match >= progress.pendingSnapshot) {
      progress.becomeProbe();
      progress.becomeReplicate();
    }
    if (maybeCommit(raft)) {
      if (raft.role !== "leader") return;
      broadcastAppend(raft);
    } else if (wasPaused) {
      sendAppend(raft, from, true);
    }
  }
  // Pipelining: keep the window full while there is something to send.
  while (sendAppend(raft, from, false)) {
    // Each call sends one append; the window bounds the loop.
  }
  if (from === raft.leadTransferee && progress.match === raft.log.lastIndex()) {
    sendTimeoutNow(raft, from);
  }
}

export function sendTimeoutNow(raft: Raft, to: NodeId): void {
  raft.send({ type: "timeout-now", from: raft.id, to, term: raft.term }, false);
  raft.logger.info("timeout-now-sent", { to });
}

/** Thesis §3.10: stop proposals, catch the target up, then tell it to campaign at once. */
export function transferLeader(raft: Raft, to: NodeId): void {
  if (to === raft.id || !raft.voters.includes(to)) return;
  if (raft.leadTransferee === to) return;
  raft.leadTransferee = to;
  raft.transferTerm = raft.term;
  raft.electionElapsed = 0;
  raft.logger.info("transfer-started", { to, term: raft.term });
  const progress = progressOf(raft).get(to);
  if (progress !== undefined && progress.match === raft.log.lastIndex()) sendTimeoutNow(raft, to);
  else sendAppend(raft, to, true);
}
