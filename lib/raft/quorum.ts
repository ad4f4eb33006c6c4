// Majority arithmetic (§5.2, §5.3), pure: who won a vote, and what a majority has.

export type VoteResult = "won" | "lost" | "pending";

export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The vote result among `voters` given the answers so far (true: granted). */
export function voteResult(voters: number[], votes: Map<number, boolean>): VoteResult {
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing += 1;
    else if (vote) granted += 1;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return "won";
  if (granted + missing >= needed) return "pending";
  return "lost";
}

/**
 * The largest value that a majority of voters has reached: the committed index from match
 * indexes, or the lease round from acknowledged rounds. Zero for an empty configuration.
 */
export function majorityValue(voters: number[], valueOf: (id: number) => number): number {
  if (voters.length === 0) return 0;
  const values = voters.map(valueOf).sort((a, b) => b - a);
  return values[majority(voters.length) - 1] ?? 0;
}
