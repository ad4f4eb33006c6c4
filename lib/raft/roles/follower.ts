// The follower's side: appends with the log-matching check (§5.3), commit from the leader,
// snapshot install (§7), heartbeat rounds echoed (lease), TimeoutNow. Pure: no I/O.
import type { Raft } from "../raft.ts";
import type {
  AppendMessage, HeartbeatMessage, Message, SnapshotMessage, StepResult,
} from "../types.ts";

export function tickFollower(raft: Raft): void {
  raft.electionElapsed += 1;
  raft.leaderContactTicks += 1;
  if (!raft.isPromotable()) return;
  if (raft.electionElapsed >= raft.randomizedElectionTimeout) {
    raft.electionElapsed = 0;
    raft.campaign(raft.config.preVote ? "pre-vote" : "vote", false);
  }
}

function heardFromLeader(raft: Raft, message: Message): void {
  raft.leaderId = message.from;
  raft.electionElapsed = 0;
  raft.leaderContactTicks = 0;
  if (raft.isRetryingElection) {
    // A leader again: back to the rank order for the next election.
    raft.isRetryingElection = false;
    raft.resetRandomizedElectionTimeout();
  }
}

export function stepFollower(raft: Raft, message: Message): StepResult {
  switch (message.type) {
    case "append":
      heardFromLeader(raft, message);
      return handleAppend(raft, message);
    case "heartbeat":
      heardFromLeader(raft, message);
      return handleHeartbeat(raft, message);
    case "snapshot":
      heardFromLeader(raft, message);
      return handleSnapshot(raft, message);
    case "timeout-now":
      if (message.from !== raft.leaderId) {
        return { ok: false, reason: `timeout-now from node ${message.from}, not the leader` };
      }
      raft.logger.info("timeout-now-received", { from: message.from, term: raft.term });
      raft.campaign("vote", true);
      return { ok: true };
    case "append-response":
    case "heartbeat-response":
    case "vote-response":
    case "pre-vote-response":
    case "vote":
    case "pre-vote":
      // Answers to an earlier role: stale, nothing to do.
      return { ok: true };
  }
}

export function handleAppend(raft: Raft, message: AppendMessage): StepResult {
  const reply = (index: number, reject: boolean, rejectHint: number, logTerm: number): void => {
    raft.send({
      type: "append-response", from: raft.id, to: message.from, term: raft.term,
      index, reject, rejectHint, logTerm,
    }, true);
  };
  const committed = raft.log.committed;
  if (message.index < committed) {
    // Everything up to our commit already matches the leader (Log Matching): say so.
    reply(committed, false, 0, 0);
    return { ok: true };
  }
  if (raft.log.matchTerm(message.index, message.logTerm)) {
    const appended = raft.log.maybeAppend(message.index, message.entries);
    if (appended === null) {
      return { ok: false, reason: "append would overwrite committed entries" };
    }
    raft.noteConfChanges(appended.appended);
    raft.commitTo(Math.min(message.commit, appended.lastNewIndex));
    reply(appended.lastNewIndex, false, 0, 0);
    return { ok: true };
  }
  // Reject, with a hint so the leader can skip a whole term at once: the largest index at or
  // below the probe whose term is at most the leader's term there.
  const probe = Math.min(message.index, raft.log.lastIndex());
  const hint = raft.log.findConflictByTerm(probe, message.logTerm);
  reply(message.index, true, hint.index, hint.term);
  return { ok: true };
}

function handleHeartbeat(raft: Raft, message: HeartbeatMessage): StepResult {
  // The leader sends min(match, commit), so this never commits an unmatched entry.
  raft.commitTo(Math.min(message.commit, raft.log.lastIndex()));
  raft.send({
    type: "heartbeat-response", from: raft.id, to: message.from, term: raft.term,
    round: message.round,
  }, false);
  return { ok: true };
}

function handleSnapshot(raft: Raft, message: SnapshotMessage): StepResult {
  const { index, term } = message.snapshot.meta;
  const reply = (at: number): void => {
    raft.send({
      type: "append-response", from: raft.id, to: message.from, term: raft.term,
      index: at, reject: false, rejectHint: 0, logTerm: 0,
    }, true);
  };
  if (index <= raft.log.committed) {
    reply(raft.log.committed);
    return { ok: true };
  }
  if (raft.log.matchTerm(index, term)) {
    // We already hold the entries it covers: just commit up to it (§7: retain what follows).
    raft.commitTo(index);
    reply(raft.log.committed);
    return { ok: true };
  }
  raft.restoreSnapshot(message.snapshot);
  raft.logger.info("snapshot-restored", { index, term });
  reply(raft.log.lastIndex());
  return { ok: true };
}
