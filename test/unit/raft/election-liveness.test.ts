// Elections end with a leader when the voters disagree on the configuration (thesis §4.1: each
// counts votes in the latest configuration in its own log). Two livelocks the simulator found
// (seeds 50943 and 51014 of `bun run sim`), rebuilt from their final states. Without PreVote:
// with it, a pre-vote already tells a stale candidate the term, and the live node's pre-vote
// at a higher term is granted. Each runs under many seeds of the random source.
import { describe, expect, test } from "bun:test";
import {
  type Entry, type HardState, MemoryStorage, type NodeId, bootstrapMemoryStorage,
  encodeConfChange,
} from "../../../lib/raft/index.ts";
import { SeededRandom } from "../../../lib/util/random.ts";
import { TestCluster } from "./harness.ts";

const normal = (index: number, term: number): Entry =>
  ({ index, term, type: "normal", data: `e${index}` });

const removal = (index: number, term: number, nodeId: NodeId): Entry => ({
  index, term, type: "conf-change",
  data: encodeConfChange({ type: "remove-voter", nodeId, context: "" }),
});

/** A bootstrapped log (indexes 1..voters), then `suffix`, with the hard state given. */
function storageOf(voters: NodeId[], suffix: Entry[], hardState: HardState): MemoryStorage {
  const storage = bootstrapMemoryStorage(voters);
  storage.append(suffix);
  storage.setHardState(hardState);
  return storage;
}

/**
 * Ticks every node once per round and delivers everything; returns the first round in which
 * every voter of a leader's configuration follows it (-1: none within `roundsMax`).
 */
function roundsUntilLeader(cluster: TestCluster, roundsMax: number): number {
  for (let round = 1; round <= roundsMax; round++) {
    cluster.tickAll();
    cluster.stabilize();
    const leader = [...cluster.nodes.values()].map((n) => n.core.status())
      .find((s) => s.role === "leader");
    const isFollowed = leader !== undefined &&
      leader.votersInLog.every((id) => cluster.core(id).status().leaderId === leader.id);
    if (isFollowed) return round;
  }
  return -1;
}

const seeds = Array.from({ length: 30 }, (_, i) => i + 1);
const options = { electionTicks: 20, rankStaggerTicks: 3, preVote: false, checkQuorum: true };

describe("election liveness with diverging configurations, without PreVote", () => {
  test("a stale candidate learns the term from the voter it asks, and wins", () => {
    // Node 1 holds an uncommitted removal of node 2 that node 2's leader has overwritten: it
    // campaigns first (rank 0 of [1,3]) and only to node 3, which refuses (node 1's log is
    // behind) and cannot campaign (it is not in its latest configuration [1,2]). Node 2 holds
    // the committed removal of node 3, so only node 2 can win, and it needs node 1's vote at
    // a term above node 1's: a vote request of an older term must be answered with the term
    // (§5.1, Figure 2), and node 2 must, now and then, time out before node 1.
    const shared = [normal(4, 1), normal(5, 1)];
    const leaderLog = [...shared, normal(6, 3), removal(7, 3, 3), normal(8, 4)];
    const rounds = seeds.map((seed) => {
      const random = new SeededRandom(seed);
      const cluster = new TestCluster([]);
      cluster.add(1, storageOf([1, 2, 3], [...shared, removal(6, 2, 2), normal(7, 2)],
        { term: 12, vote: 0, commit: 5 }), options, random.fork());
      cluster.add(2, storageOf([1, 2, 3], leaderLog, { term: 6, vote: 2, commit: 7 }), options,
        random.fork());
      cluster.add(3, storageOf([1, 2, 3], leaderLog, { term: 12, vote: 0, commit: 6 }), options,
        random.fork());
      const round = roundsUntilLeader(cluster, 10_000);
      if (round > 0) {
        expect(cluster.core(2).status().role).toBe("leader");
        expect(cluster.core(1).status().lastIndex).toBe(cluster.core(2).status().lastIndex);
      }
      return round;
    });
    expect(rounds.filter((r) => r < 0)).toEqual([]);
  });

  test("two candidates of one rank in different configurations stop splitting the vote", () => {
    // Node 2 missed the committed removal of node 1: it is rank 1 of [1,2,5], node 5 rank 1 of
    // [2,5]. Both time out together, vote for themselves and refuse each other, again and
    // again unless their timeouts differ. Only node 5 can win (node 2's log is behind).
    const removed = [removal(4, 2, 1), normal(5, 2)];
    const rounds = seeds.map((seed) => {
      const random = new SeededRandom(seed);
      const cluster = new TestCluster([]);
      const hardState = { term: 3, vote: 0, commit: 5 };
      cluster.add(1, storageOf([1, 2, 5], removed, hardState), options, random.fork());
      cluster.add(2, storageOf([1, 2, 5], [], { term: 3, vote: 0, commit: 3 }), options,
        random.fork());
      cluster.add(5, storageOf([1, 2, 5], removed, hardState), options, random.fork());
      const round = roundsUntilLeader(cluster, 10_000);
      if (round > 0) expect(cluster.core(5).status().role).toBe("leader");
      return round;
    });
    expect(rounds.filter((r) => r < 0)).toEqual([]);
  });
});
