// One seeded simulation run (after TigerBeetle's VOPR, style.md A4/B10.4): the seed picks the
// cluster size (3 or 5), the Raft options and a "swarm" of fault rates, then drives a fault
// phase (loss, duplication, delay and reordering, partitions, crashes that keep only what was
// persisted, crashes in the middle of a Ready, leader transfers, forced campaigns, membership
// changes, compaction, ReadIndex, client proposals) with every checker on, and a healed phase
// that must converge: one leader, a fresh proposal applied by every voter. The same seed
// replays the same run exactly.
import { bootstrapMemoryStorage, MemoryStorage, type NodeId } from "../../lib/raft/index.ts";
import { SeededRandom } from "../../lib/util/random.ts";
import { SimCluster, type SimNode } from "./sim-cluster.ts";

export interface SimResult {
  seed: number;
  ok: boolean;
  failure: string | null;
  steps: number;
  elections: number;
  commits: number;
  /** Every node's final term, commit and state-machine hash: equal runs give equal digests. */
  digest: string;
}

export interface SimOptions {
  faultSteps: number;
  healStepsMax: number;
  /** Receives the step-by-step trace of the run (SIM_TRACE=1 in scripts/sim.ts). */
  trace?: (line: string) => void;
}

export const defaultSimOptions: SimOptions = { faultSteps: 1200, healStepsMax: 4000 };

function pick<T>(random: SeededRandom, items: readonly T[]): T {
  return items[random.nextInt(items.length)] as T;
}

/** The fault mix of one seed. */
interface Swarm {
  crashRate: number;
  partitionRate: number;
  proposeRate: number;
  transferRate: number;
  campaignRate: number;
  confChangeRate: number;
  compactRate: number;
  readRate: number;
  leaseAttackRate: number;
}

function chooseSwarm(random: SeededRandom): Swarm {
  return {
    crashRate: pick(random, [0, 0.0005, 0.002, 0.005]),
    partitionRate: pick(random, [0, 0.001, 0.004]),
    proposeRate: pick(random, [0.02, 0.1, 0.3]),
    transferRate: pick(random, [0, 0.001, 0.003]),
    campaignRate: pick(random, [0, 0.0005]),
    confChangeRate: pick(random, [0, 0, 0.001, 0.003]),
    compactRate: pick(random, [0, 0.002, 0.02]),
    readRate: pick(random, [0, 0.02, 0.1]),
    leaseAttackRate: pick(random, [0, 0, 0.002]),
  };
}

export class Run {
  readonly random: SeededRandom;
  readonly cluster: SimCluster;
  readonly swarm: Swarm;
  private nextNodeId: number;
  private readonly nodeIdMax: number;
  private readonly downUntil = new Map<NodeId, number>();
  /** Crashes planned for a later step, with their downtime. */
  private readonly crashAt = new Map<NodeId, { at: number; downtime: number }>();
  private healAt = 0;
  private quietUntil = 0;
  private proposals = 0;
  private reads = 0;

  constructor(seed: number, trace?: (line: string) => void) {
    this.random = new SeededRandom(seed);
    const random = this.random;
    const size = random.chance(0.5) ? 3 : 5;
    const electionTicks = pick(random, [6, 10, 20]);
    this.cluster = new SimCluster({
      random: random.fork(),
      raft: {
        electionTicks,
        heartbeatTicks: 1 + random.nextInt(Math.floor((electionTicks - 1) / 2)),
        rankStaggerTicks: pick(random, [0, 1, 3, 5]),
        preVote: random.chance(0.85),
        checkQuorum: random.chance(0.85),
        maxInflightAppends: 1 + random.nextInt(8),
        maxEntriesPerAppend: 1 + random.nextInt(16),
      },
      faults: {
        dropRate: pick(random, [0, 0.01, 0.05, 0.2]),
        duplicateRate: pick(random, [0, 0.02, 0.1]),
        delayMin: 1,
        delayMax: pick(random, [1, 3, 8, 16]),
      },
      tickSteps: 4,
      isEncoding: random.chance(0.25),
      readyCrashRate: pick(random, [0, 0, 0.002, 0.01]),
      voteCrashRate: pick(random, [0, 0.1, 0.5]),
      trace,
    });
    this.swarm = chooseSwarm(random);
    const voters = Array.from({ length: size }, (_, i) => i + 1);
    for (const id of voters) this.cluster.addNode(id, bootstrapMemoryStorage(voters));
    this.nextNodeId = size + 1;
    this.nodeIdMax = size + 3;
  }

  private upNodes(): SimNode[] {
    return [...this.cluster.nodes.values()].filter((n) => n.isUp);
  }

  private leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.cluster.nodes.values()) {
      if (node.core?.status().role !== "leader") continue;
      if (best === null || node.term > best.term) best = node;
    }
    return best;
  }

  faultStep(): void {
    const { random, cluster, swarm } = this;
    const now = cluster.now;
    for (const [id, until] of this.downUntil) {
      if (now >= until) {
        this.downUntil.delete(id);
        cluster.restart(id);
      }
    }
    for (const [id, plan] of this.crashAt) {
      if (now < plan.at) continue;
      this.crashAt.delete(id);
      if (cluster.node(id).isUp) {
        cluster.crash(id);
        this.downUntil.set(id, now + plan.downtime);
      }
    }
    // Nodes that crashed on their own (in the middle of a Ready) come back soon.
    for (const node of cluster.nodes.values()) {
      if (node.isUp || this.downUntil.has(node.id)) continue;
      this.downUntil.set(node.id, now + this.downtime());
    }
    if (this.healAt !== 0 && now >= this.healAt) {
      cluster.network.heal();
      this.healAt = 0;
    }
    const up = this.upNodes();
    if (random.chance(swarm.crashRate) && up.length > 0) {
      const victim = pick(random, up);
      if (random.chance(0.3)) cluster.crashMidReady(victim.id);
      else cluster.crash(victim.id);
      this.downUntil.set(victim.id, now + this.downtime());
    }
    if (this.healAt === 0 && random.chance(swarm.partitionRate)) this.partition();
    if (random.chance(swarm.proposeRate) && up.length > 0 && now >= this.quietUntil) {
      this.propose(pick(random, up));
    }
    if (random.chance(swarm.readRate)) {
      const leader = this.leader();
      if (leader !== null) cluster.readIndex(leader.id, `r${this.reads++}`);
    }
    if (random.chance(swarm.transferRate)) this.transfer();
    if (this.healAt === 0 && random.chance(swarm.leaseAttackRate)) this.attackLease();
    if (random.chance(swarm.campaignRate) && up.length > 0) {
      const node = pick(random, up);
      node.core?.campaign();
      cluster.drain(node);
    }
    if (random.chance(swarm.confChangeRate)) this.changeMembership();
    if (random.chance(swarm.compactRate) && up.length > 0) cluster.compact(pick(random, up).id);
  }

  /**
   * The pattern a lease must survive: the leader loses its link to one follower, which starts
   * campaigning; later the other followers, whose acknowledgements back the lease, crash and
   * come back at once, and are asked for their votes before they hear from the leader again.
   */
  private attackLease(): void {
    const leader = this.leader();
    if (leader === null) return;
    const others = [...this.cluster.nodes.values()].filter((n) => n !== leader && n.isUp);
    if (others.length < 2) return;
    const campaigner = pick(this.random, others);
    this.cluster.network.cutLink(leader.id, campaigner.id);
    const tickSteps = this.cluster.options.tickSteps;
    const electionSteps = this.cluster.options.raft.electionTicks * tickSteps;
    const at = this.cluster.now + electionSteps + this.random.nextInt(2 * electionSteps);
    for (const backer of others) {
      if (backer === campaigner) continue;
      const downtime = 1 + this.random.nextInt(2 * tickSteps);
      this.crashAt.set(backer.id, { at: at + this.random.nextInt(tickSteps), downtime });
    }
    this.healAt = at + 4 * electionSteps;
    // No proposals meanwhile, so the campaigner's log stays as up to date as the backer's.
    this.quietUntil = this.healAt;
  }

  /** A fast restart (inside a lease) or a long outage. */
  private downtime(): number {
    return this.random.chance(0.5) ? 1 + this.random.nextInt(30) : 30 + this.random.nextInt(400);
  }

  /** A split in two, one node isolated, or some single links cut (a partial partition). */
  private partition(): void {
    const { random, cluster } = this;
    const ids = [...cluster.nodes.keys()];
    const kind = random.nextInt(3);
    if (kind === 0) {
      const left = ids.filter(() => random.chance(0.5));
      cluster.network.partition([left, ids.filter((id) => !left.includes(id))]);
    } else if (kind === 1) {
      cluster.network.isolate(pick(random, ids), ids);
    } else {
      for (let cuts = 1 + random.nextInt(3); cuts > 0; cuts--) {
        cluster.network.cutLink(pick(random, ids), pick(random, ids), random.chance(0.7));
      }
    }
    this.healAt = cluster.now + 20 + random.nextInt(600);
  }

  private propose(node: SimNode): void {
    const core = node.core;
    if (core === null) return;
    const result = core.propose(`p${this.proposals++}`);
    if (result.ok) this.cluster.drain(node);
  }

  private transfer(): void {
    const leader = this.leader();
    const core = leader?.core;
    if (leader === null || core === undefined || core === null) return;
    const voters = core.status().voters;
    core.transferLeader(pick(this.random, voters));
    this.cluster.drain(leader);
  }

  private changeMembership(): void {
    const leader = this.leader();
    const core = leader?.core;
    if (leader === null || core === undefined || core === null) return;
    const voters = core.status().voters;
    const isAdding =
      voters.length <= 2 || (this.nextNodeId <= this.nodeIdMax && this.random.chance(0.5));
    if (isAdding && this.nextNodeId <= this.nodeIdMax) {
      const id = this.nextNodeId;
      const result = core.proposeConfChange({ type: "add-voter", nodeId: id, context: `n${id}` });
      if (result.ok) {
        this.nextNodeId += 1;
        // A joining node starts empty and learns everything from the leader.
        this.cluster.addNode(id, new MemoryStorage());
      }
    } else if (!isAdding) {
      const nodeId = pick(this.random, voters);
      core.proposeConfChange({ type: "remove-voter", nodeId, context: "" });
    }
    this.cluster.drain(leader);
  }

  /** Heals everything and requires convergence: one leader, a fresh entry applied by all. */
  heal(stepsMax: number): string | null {
    const { cluster } = this;
    cluster.network.heal();
    cluster.network.faults = { dropRate: 0, duplicateRate: 0, delayMin: 1, delayMax: 2 };
    cluster.options.readyCrashRate = 0;
    cluster.options.voteCrashRate = 0;
    this.downUntil.clear();
    this.crashAt.clear();
    for (const id of cluster.nodes.keys()) cluster.restart(id);
    let target: { index: number; term: number; data: string } | null = null;
    for (let step = 0; step < stepsMax; step++) {
      cluster.step();
      if (step % 8 !== 0) continue;
      const leader = this.leader();
      const core = leader?.core;
      if (leader === null || core === undefined || core === null) continue;
      const voters = core.status().voters;
      if (target === null || target.term !== core.status().term) {
        const data = `final${cluster.now}`;
        const result = core.propose(data);
        if (result.ok) target = { index: result.index, term: result.term, data };
        cluster.drain(leader);
        continue;
      }
      const goal = target;
      const done = voters.every((id) => {
        const node = cluster.nodes.get(id);
        return node !== undefined && node.app.appliedIndex >= goal.index;
      });
      if (done && cluster.checkers.appliedText(goal.index)?.endsWith(goal.data)) return null;
    }
    const states = [...cluster.nodes.values()].map((n) => {
      const status = n.core?.status();
      if (status === undefined) return `${n.id}:down`;
      return `${n.id}:${status.role}/t${status.term}/c${status.commit}/a${status.applied}/` +
        `l${status.lastIndex}/lead${status.leaderId}/v[${status.voters}]` +
        // Elections count the latest configuration in the log, committed or not (§4.1).
        (`${status.votersInLog}` === `${status.voters}` ? "" : `/inlog[${status.votersInLog}]`);
    });
    return `no convergence within ${stepsMax} steps after healing: ${states.join(" ")}`;
  }

  get commits(): number {
    return this.cluster.checkers.appliedCount;
  }
}

/** Runs one seed; never throws: a failure comes back with its reason. */
export function runSeed(seed: number, options: SimOptions = defaultSimOptions): SimResult {
  let run: Run | null = null;
  let failure: string | null = null;
  try {
    run = new Run(seed, options.trace);
    options.trace?.(`seed ${seed}: ${JSON.stringify(run.cluster.options.raft)} ` +
      `faults ${JSON.stringify(run.cluster.options.faults)} swarm ${JSON.stringify(run.swarm)}`);
    for (let step = 0; step < options.faultSteps; step++) {
      run.faultStep();
      run.cluster.step();
    }
    options.trace?.(`${run.cluster.now} healing`);
    failure = run.heal(options.healStepsMax);
  } catch (error) {
    failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  return {
    seed,
    ok: failure === null,
    failure,
    steps: run?.cluster.now ?? 0,
    elections: run?.cluster.checkers.elections ?? 0,
    commits: run?.commits ?? 0,
    digest: run === null ? "" : [...run.cluster.nodes.values()]
      .map((n) => `${n.id}:${n.term}:${n.commit}:${n.app.appliedIndex}:${n.app.state}`).join(" "),
  };
}
