// A (pre-)candidate's side: count votes (§5.2; PreVote, thesis §9.6), give way to a leader of
// its term. Pure: no I/O.
import { voteResult } from "../quorum.ts";
import type { Raft } from "../raft.ts";
import type { Message, StepResult } from "../types.ts";
import { stepFollower } from "./follower.ts";

export function tickCandidate(raft: Raft): void {
  raft.electionElapsed += 1;
  if (raft.electionElapsed >= raft.randomizedElectionTimeout) {
    raft.electionElapsed = 0;
    raft.campaign(raft.config.preVote ? "pre-vote" : "vote", false);
  }
}

export function stepCandidate(raft: Raft, message: Message): StepResult {
  const expected = raft.role === "pre-candidate" ? "pre-vote-response" : "vote-response";
  switch (message.type) {
    case "append":
      // A leader exists in our term (§5.2): follow it.
      raft.becomeFollower(message.term, message.from);
      return stepFollower(raft, message);
    case "heartbeat":
    case "snapshot":
      raft.becomeFollower(message.term, message.from);
      return stepFollower(raft, message);
    case "vote-response":
    case "pre-vote-response": {
      if (message.type !== expected) return { ok: true };
      if (!raft.voters.includes(message.from)) return { ok: true };
      raft.votes.set(message.from, !message.reject);
      const result = voteResult(raft.voters, raft.votes);
      if (result === "won") {
        if (raft.role === "pre-candidate") raft.campaign("vote", false);
        else raft.becomeLeader();
      } else if (result === "lost") {
        raft.becomeFollower(raft.term, 0);
      }
      return { ok: true };
    }
    case "timeout-now":
    case "append-response":
    case "heartbeat-response":
    case "vote":
    case "pre-vote":
      return { ok: true };
  }
}
