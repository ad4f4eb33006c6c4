// The semantics the cluster relies on (issue 6's contract, types.ts), each named by its rule:
// election timeouts with the rank bias, non-members, stickiness and the startup lease, lease
// rounds, ReadIndex, persist-before-send, transfer, membership, validation of peer input,
// compaction. Cores run synchronously through the harness; time is tick().
import { describe, expect, test } from "bun:test";
import {
  MemoryStorage, type Message, RaftCore, type Random, type VoteMessage, bootstrapEntries,
  encodeConfChange,
} from "../../../lib/raft/index.ts";
import { TestCluster, config, zeroRandom } from "./harness.ts";

function ticksUntilCampaign(core: RaftCore): number {
  for (let ticks = 1; ticks <= 1000; ticks++) {
    core.tick();
    if (core.status().role !== "follower") return ticks;
  }
  return -1;
}

function ticksUntilTermChanges(core: RaftCore): number {
  const term = core.status().term;
  for (let ticks = 1; ticks <= 1000; ticks++) {
    core.tick();
    if (core.status().term !== term) return ticks;
  }
  return -1;
}

describe("election timeout: electionTicks + rank * rankStaggerTicks + jitter", () => {
  const bounds: number[] = [];
  const maxRandom: Random = { nextInt: (bound) => { bounds.push(bound); return bound - 1; } };

  test("each rank times out after the one before it, whatever the jitter", () => {
    const voters = [3, 7, 9];
    const timeouts = voters.map((id) => {
      const lowest = ticksUntilCampaign(new RaftCore(config(id, { rankStaggerTicks: 4 }),
        bootstrap(voters), zeroRandom));
      bounds.length = 0;
      const highest = ticksUntilCampaign(new RaftCore(config(id, { rankStaggerTicks: 4 }),
        bootstrap(voters), maxRandom));
      // Every draw before the campaign had the rank order's bound; the campaign itself drew
      // the next timeout, a retry's, with the full bound E.
      expect(bounds.slice(0, -1).every((bound) => bound === 2)).toBe(true);
      expect(bounds.at(-1)).toBe(10);
      return [lowest, highest];
    });
    // Jitter is drawn below max(1, floor(stagger / 2)) = 2, so ranks never overlap.
    expect(timeouts).toEqual([[10, 11], [14, 15], [18, 19]]);
  });

  test("a retry draws Raft's full jitter [0, E), until the node hears from a leader", () => {
    const core = new RaftCore(config(1, { rankStaggerTicks: 4, preVote: false }),
      bootstrap([1, 2, 3]), maxRandom);
    expect(ticksUntilCampaign(core)).toBe(11);
    // Rank 0 with the highest jitter: 10 + 0 * 4 + 9 ticks until the next campaign. Two nodes
    // whose ranks collide (each counts them in its own configuration) or whose lower rank
    // cannot win would otherwise repeat the same election forever.
    expect(ticksUntilTermChanges(core)).toBe(19);
    const term = core.status().term;
    expect(core.step({ type: "heartbeat", from: 2, to: 1, term, commit: 0, round: 1 }).ok)
      .toBe(true);
    expect(core.status().role).toBe("follower");
    // A leader again: the rank order's timeout, 10 + 0 * 4 + 1.
    expect(ticksUntilCampaign(core)).toBe(11);
  });

  test("without a stagger it is Raft's plain [E, 2E)", () => {
    const core = new RaftCore(config(2, { rankStaggerTicks: 0 }), bootstrap([1, 2, 3]), maxRandom);
    expect(ticksUntilCampaign(core)).toBe(19);
  });
});

/** Drains a lone core (persisting nothing) and returns what it sent. */
function sentBy(core: RaftCore): Message[] {
  const sent: Message[] = [];
  while (core.hasReady()) {
    const ready = core.ready();
    sent.push(...ready.messages.map((o) => o.message));
    core.advance(ready);
  }
  return sent;
}

function bootstrap(voters: number[]): MemoryStorage {
  const storage = new MemoryStorage();
  const { entries, hardState } = bootstrapEntries(voters);
  storage.append(entries);
  storage.setHardState(hardState);
  return storage;
}

const vote = (from: number, to: number, term: number, force = false): VoteMessage => ({
  type: "vote", from, to, term, lastLogIndex: 100, lastLogTerm: 100, force,
});

describe("joining node: outside its configuration", () => {
  test("never campaigns, but follows a leader's appends and learns the configuration", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const joiner = cluster.add(4, new MemoryStorage());
    cluster.tick(4, 500);
    joiner.core.campaign();
    cluster.drain(4);
    expect(joiner.sent).toEqual([]);
    expect(joiner.core.status()).toMatchObject({ role: "follower", term: 0 });
    expect(cluster.core(1).proposeConfChange({ type: "add-voter", nodeId: 4, context: "" }).ok)
      .toBe(true);
    cluster.drain(1);
    cluster.stabilize();
    cluster.tick(1, 2);
    cluster.stabilize();
    expect(joiner.core.status()).toMatchObject({
      voters: [1, 2, 3, 4], leaderId: 1, commit: 5, lastIndex: 5,
    });
  });
});

describe("stickiness (thesis §4.2.3) and the startup lease", () => {
  test("a follower that heard from the leader ignores (pre)votes of higher terms", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const term = cluster.core(2).status().term;
    cluster.clearSent();
    for (const type of ["vote", "pre-vote"] as const) {
      expect(cluster.core(2).step({ ...vote(3, 2, term + 1), type })).toEqual({ ok: true });
    }
    cluster.drain(2);
    expect(cluster.node(2).sent).toEqual([]);
    expect(cluster.core(2).status().term).toBe(term);
  });

  test("a vote forced by TimeoutNow is granted all the same", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const term = cluster.core(2).status().term;
    cluster.clearSent();
    cluster.core(2).step(vote(3, 2, term + 1, true));
    cluster.drain(2);
    expect(cluster.node(2).sent.map((o) => o.message)).toEqual([
      { type: "vote-response", from: 2, to: 3, term: term + 1, reject: false },
    ]);
  });

  test("a restarted core ignores votes for one election timeout, then grants them", () => {
    const storage = bootstrap([1, 2, 3]);
    storage.setHardState({ term: 5, vote: 1, commit: 3 });
    const core = new RaftCore(config(2), storage, zeroRandom);
    sentBy(core);
    core.step(vote(3, 2, 6));
    expect(sentBy(core)).toEqual([]);
    expect(core.status().term).toBe(5);
    for (let i = 0; i < 10; i++) core.tick();
    core.step(vote(3, 2, 6));
    expect(sentBy(core)).toEqual([
      { type: "vote-response", from: 2, to: 3, term: 6, reject: false },
    ]);
  });

  test("campaign() is ignored while in lease, also right after a (re)start", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.core(2).campaign();
    expect(cluster.core(2).status().role).toBe("follower");
    cluster.elect(1);
    cluster.core(2).campaign();
    expect(cluster.core(2).status().role).toBe("follower");
  });

  test("a just-bootstrapped sole voter campaigns at once", () => {
    const cluster = new TestCluster([1]);
    cluster.core(1).campaign();
    cluster.drain(1);
    expect(cluster.core(1).status().role).toBe("leader");
  });
});

describe("lease rounds (types.ts, the lease contract)", () => {
  test("a round counts once a quorum echoed it; Ready says when a round went out", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const leader = cluster.node(1);
    expect(leader.core.leaseRound()).toBeNull();
    leader.readies = [];
    cluster.tick(1, 2);
    expect(leader.readies.map((r) => r.heartbeatRound)).toEqual([1]);
    expect(leader.core.leaseRound()).toBeNull();
    // One follower's echo makes a quorum of three with the leader.
    cluster.stabilize((m) => m.type === "heartbeat-response" && m.from === 3);
    expect(leader.core.leaseRound()).toBe(1);
    expect(cluster.core(2).leaseRound()).toBeNull();
  });

  test("no lease once a transfer started in the term, nor without CheckQuorum", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.tick(1, 2);
    cluster.stabilize();
    expect(cluster.core(1).leaseRound()).toBe(1);
    cluster.queue = [];
    cluster.core(1).transferLeader(3);
    expect(cluster.core(1).leaseRound()).toBeNull();
    const plain = new TestCluster([1, 2, 3], { checkQuorum: false });
    plain.elect(1);
    plain.tick(1, 2);
    plain.stabilize();
    expect(plain.core(1).leaseRound()).toBeNull();
  });
});

describe("ReadIndex (thesis §6.4)", () => {
  test("answers with the commit index at request time once a later round is confirmed", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const leader = cluster.core(1);
    const commit = leader.status().commit;
    leader.propose("x");
    // Two reads before the Ready is taken share one round.
    expect(leader.readIndex("a")).toEqual({ ok: true });
    expect(leader.readIndex("b")).toEqual({ ok: true });
    const ready = leader.ready();
    expect(ready.heartbeatRound).toBe(1);
    expect(ready.messages.filter((o) => o.message.type === "heartbeat")).toHaveLength(2);
    expect(ready.readStates).toEqual([]);
    leader.advance(ready);
    cluster.queue.push(...ready.messages.map((o) => o.message));
    cluster.stabilize((m) => m.type === "append");
    const answers = cluster.node(1).readies.flatMap((r) => r.readStates);
    expect(answers).toEqual([{ index: commit, context: "a" }, { index: commit, context: "b" }]);
  });

  test("waits until the leader committed an entry of its term", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.tickAll(10);
    cluster.stabilize((m) => m.type === "append" || m.type === "append-response");
    const leader = cluster.core(1);
    expect(leader.status().role).toBe("leader");
    expect(leader.readIndex("r")).toEqual({ ok: true });
    cluster.drain(1);
    cluster.stabilize((m) => m.type === "append" || m.type === "append-response");
    expect(cluster.node(1).readies.flatMap((r) => r.readStates)).toEqual([]);
    cluster.tick(1, 2);
    cluster.stabilize();
    expect(cluster.node(1).readies.flatMap((r) => r.readStates)).toEqual([
      { index: leader.status().commit, context: "r" },
    ]);
  });

  test("a follower refuses and names the leader", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    expect(cluster.core(2).readIndex("r"))
      .toEqual({ ok: false, reason: "not-leader", leaderId: 1 });
  });
});

describe("persist before send", () => {
  test("vote responses, append responses wait for persistence; a leader's appends do not", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.core(1).propose("x");
    cluster.drain(1);
    cluster.stabilize();
    const sent = [...cluster.nodes.values()].flatMap((n) => n.sent);
    const byType = new Map<string, Set<boolean>>();
    for (const out of sent) {
      const set = byType.get(out.message.type) ?? new Set<boolean>();
      set.add(out.afterPersist);
      byType.set(out.message.type, set);
    }
    expect(byType.get("vote")).toEqual(new Set([true]));
    expect(byType.get("vote-response")).toEqual(new Set([true]));
    expect(byType.get("append-response")).toEqual(new Set([true]));
    expect(byType.get("append")).toEqual(new Set([false]));
  });

  test("a leader counts its own entry only after advance()", () => {
    const cluster = new TestCluster([1]);
    cluster.elect(1);
    const leader = cluster.core(1);
    const { index } = leader.propose("x") as { index: number };
    const ready = leader.ready();
    expect(ready.entries.map((e) => e.index)).toEqual([index]);
    cluster.node(1).storage.append(ready.entries);
    expect(leader.status().commit).toBe(index - 1);
    leader.advance(ready);
    expect(leader.status().commit).toBe(index);
  });
});

describe("leader transfer (thesis §3.10)", () => {
  test("proposals are refused while transferring; aborted after an election timeout", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.core(1).transferLeader(3);
    expect(cluster.core(1).propose("x"))
      .toEqual({ ok: false, reason: "transferring", leaderId: 1 });
    cluster.queue = [];
    for (let i = 0; i < 9; i++) {
      cluster.tick(1);
      cluster.stabilize((m) => m.to === 3 || m.from === 3);
    }
    expect(cluster.core(1).status().transferee).toBe(3);
    cluster.tick(1);
    expect(cluster.core(1).status().transferee).toBe(0);
    expect(cluster.core(1).propose("x").ok).toBe(true);
  });

  test("a caught-up target gets TimeoutNow and wins at once", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.core(1).transferLeader(2);
    cluster.drain(1);
    cluster.stabilize();
    expect(cluster.core(2).status().role).toBe("leader");
    expect(cluster.core(1).status()).toMatchObject({ role: "follower", leaderId: 2 });
  });
});

test("reportUnreachable: a replicating follower goes back to probing", () => {
  const cluster = new TestCluster([1, 2, 3]);
  cluster.elect(1);
  expect(cluster.core(1).status().progress?.get(2)?.state).toBe("replicate");
  cluster.core(1).reportUnreachable(2);
  expect(cluster.core(1).status().progress?.get(2)?.state).toBe("probe");
  cluster.core(1).propose("x");
  cluster.drain(1);
  cluster.stabilize();
  expect(cluster.core(1).status().progress?.get(2)).toMatchObject({ state: "replicate",
    match: cluster.core(1).status().lastIndex });
});

describe("membership changes (thesis §4.1)", () => {
  test("checked before appended, and one at a time until committed and applied", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const leader = cluster.core(1);
    const change = (type: "add-voter" | "remove-voter", nodeId: number) =>
      leader.proposeConfChange({ type, nodeId, context: "" });
    expect(change("add-voter", 2)).toMatchObject({ ok: false, reason: "invalid-change" });
    expect(change("remove-voter", 7)).toMatchObject({ ok: false, reason: "invalid-change" });
    expect(change("add-voter", 0)).toMatchObject({ ok: false, reason: "invalid-change" });
    expect(change("remove-voter", 3).ok).toBe(true);
    expect(change("add-voter", 4)).toMatchObject({ ok: false, reason: "change-pending" });
    cluster.drain(1);
    cluster.stabilize();
    expect(change("add-voter", 4).ok).toBe(true);
  });

  test("an added voter need not answer before its own addition commits", () => {
    const cluster = new TestCluster([1]);
    cluster.elect(1);
    const result = cluster.core(1).proposeConfChange({ type: "add-voter", nodeId: 2, context: "" });
    expect(result.ok).toBe(true);
    cluster.drain(1);
    expect(cluster.core(1).status()).toMatchObject({
      commit: (result as { index: number }).index, voters: [1, 2], votersInLog: [1, 2],
    });
  });

  test("elections use the latest configuration in the log, committed or not", () => {
    // Node 2 holds "add 4" and "remove 2" without knowing that either committed: it must not
    // campaign as a voter of {1, 2, 3}, whose majority {2, 3} need not meet {1, 3, 4}'s.
    const storage = bootstrap([1, 2, 3]);
    const change = (type: "add-voter" | "remove-voter", nodeId: number, index: number) => ({
      term: 2, index, type: "conf-change" as const,
      data: encodeConfChange({ type, nodeId, context: "" }),
    });
    storage.append([change("add-voter", 4, 4), change("remove-voter", 2, 5)]);
    storage.setHardState({ term: 2, vote: 0, commit: 3 });
    const core = new RaftCore(config(2), storage, zeroRandom);
    expect(core.status()).toMatchObject({ voters: [1, 2, 3], votersInLog: [1, 3, 4] });
    for (let i = 0; i < 100; i++) core.tick();
    core.campaign();
    expect(sentBy(core)).toEqual([]);
    expect(core.status().role).toBe("follower");
  });

  test("the last voter cannot be removed", () => {
    const cluster = new TestCluster([1]);
    cluster.elect(1);
    expect(cluster.core(1).proposeConfChange({ type: "remove-voter", nodeId: 1, context: "" }))
      .toMatchObject({ ok: false, reason: "invalid-change" });
  });
});

describe("step() refuses what it must not trust", () => {
  test("wrong addressee, own id, non-voters' answers, rounds from the future", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const leader = cluster.core(1);
    const term = leader.status().term;
    const snapshot = (): string =>
      JSON.stringify({ ...leader.status(), progress: [...leader.status().progress ?? []] });
    const before = snapshot();
    const echo = (from: number, to: number, round: number): Message =>
      ({ type: "heartbeat-response", from, to, term, round });
    expect(leader.step(echo(2, 5, 0)).ok).toBe(false);
    expect(leader.step(echo(1, 1, 0)).ok).toBe(false);
    expect(leader.step({ type: "append-response", from: 9, to: 1, term, index: 99, reject: false,
      rejectHint: 0, logTerm: 0 }).ok).toBe(false);
    expect(leader.step(echo(2, 1, 99)).ok).toBe(false);
    expect(leader.step({ type: "append", from: 2, to: 1, term, index: 0, logTerm: 0, entries: [],
      commit: 0 }).ok).toBe(false);
    expect(snapshot()).toBe(before);
  });

  test("an append that would rewrite committed entries changes nothing (§5.3)", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const follower = cluster.core(2);
    const status = follower.status();
    const result = follower.step({
      type: "append", from: 1, to: 2, term: status.term, index: 2, logTerm: 1, commit: 0,
      entries: [{ term: status.term, index: 3, type: "normal", data: "evil" }],
    });
    expect(result).toEqual({ ok: true });
    expect(follower.status()).toEqual(status);
    // The answer only says what is committed already; the log is untouched.
    expect(sentBy(follower)).toEqual([{ type: "append-response", from: 2, to: 1,
      term: status.term, index: status.commit, reject: false, rejectHint: 0, logTerm: 0 }]);
    expect(cluster.node(2).storage.entries(3, 4)[0]?.data).not.toBe("evil");
  });
});

describe("compaction", () => {
  test("compact() yields a snapshot with the configuration in force at its index", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const leader = cluster.core(1);
    const applied = leader.status().applied;
    leader.compact(applied, "state");
    const ready = leader.ready();
    expect(ready.compaction).toEqual({
      meta: { index: applied, term: leader.status().term, confState: { voters: [1, 2, 3] } },
      data: "state",
    });
    leader.advance(ready);
    expect(() => leader.compact(applied + 5, "x")).toThrow(/beyond applied/);
  });

  test("ready() twice without advance() is a programming error", () => {
    const cluster = new TestCluster([1]);
    const core = cluster.core(1);
    core.ready();
    expect(() => core.ready()).toThrow(/before advance/);
  });
});
