// The nemesis: at seeded random times it applies one fault, holds it, heals it, and waits for
// the cluster to be healthy again. Faults: kill (SIGKILL, then restart on the same data and
// ports), pause (SIGSTOP, then SIGCONT), partition (one node cut from the others both ways,
// then healed). With "leader" the target is the current leader (every fault when "leader" is
// the only kind besides the defaults it implies, half of them otherwise), else a random node.
import type { Network } from "./network.ts";
import type { NodeProcs } from "./procs.ts";

export type FaultKind = "kill" | "pause" | "partition";
export const faultNames = ["kill", "pause", "partition", "leader"] as const;
export type FaultName = (typeof faultNames)[number];

export interface NemesisOptions {
  readonly kinds: readonly FaultKind[];
  readonly targetsLeader: "never" | "half" | "always";
  readonly random: () => number;
  readonly quietMs: readonly [number, number];
  readonly faultMs: readonly [number, number];
  readonly healDeadlineMs: number;
  readonly log: (event: Record<string, unknown>) => void;
}

export interface FaultCounts {
  kill: number;
  pause: number;
  partition: number;
  leaderTargeted: number;
  /** Times the cluster was not healthy again within healDeadlineMs after a heal. */
  slowRecoveries: number;
}

/** Waits `ms`, or less once `isDone()` holds (checked every 50 ms). */
async function pace(ms: number, isDone: () => boolean): Promise<void> {
  const end = performance.now() + ms;
  while (!isDone() && performance.now() < end) {
    await Bun.sleep(Math.min(50, Math.max(1, end - performance.now())));
  }
}

function between(random: () => number, [low, high]: readonly [number, number]): number {
  return low + random() * (high - low);
}

export async function runNemesis(
  procs: NodeProcs,
  network: Network | null,
  options: NemesisOptions,
  isDone: () => boolean,
): Promise<FaultCounts> {
  const counts: FaultCounts = {
    kill: 0, pause: 0, partition: 0, leaderTargeted: 0, slowRecoveries: 0,
  };
  const random = options.random;
  while (!isDone()) {
    await pace(between(random, options.quietMs), isDone);
    if (isDone() || options.kinds.length === 0) break;
    const kind = options.kinds[Math.floor(random() * options.kinds.length)] as FaultKind;
    const wantsLeader = options.targetsLeader === "always"
      || (options.targetsLeader === "half" && random() < 0.5);
    const ids = procs.ids();
    let target = ids[Math.floor(random() * ids.length)] as number;
    const holdMs = between(random, options.faultMs);
    if (wantsLeader) {
      const leader = await procs.leader();
      if (leader !== null) {
        target = leader;
        counts.leaderTargeted++;
      }
    }
    options.log({
      event: "fault", kind, node: target, leader: wantsLeader, holdMs: Math.round(holdMs),
    });
    counts[kind]++;
    await apply(procs, network, kind, target);
    await pace(holdMs, () => false);
    await heal(procs, network, kind, target);
    options.log({ event: "healed", kind, node: target });
    if (!(await procs.waitHealthy(options.healDeadlineMs))) {
      counts.slowRecoveries++;
      options.log({ event: "not healthy after heal", kind, node: target });
    }
  }
  return counts;
}

async function apply(procs: NodeProcs, network: Network | null, kind: FaultKind, target: number):
  Promise<void> {
  switch (kind) {
    case "kill":
      return procs.kill(target);
    case "pause":
      return procs.pause(target);
    case "partition":
      return network?.cut(target, procs.ids().filter((id) => id !== target));
  }
}

/** Undoes a fault; a node that will not restart is retried until it does or time runs out. */
export async function heal(
  procs: NodeProcs,
  network: Network | null,
  kind: FaultKind,
  target: number,
): Promise<void> {
  switch (kind) {
    case "kill":
      for (let attempt = 1; attempt <= 5; attempt++) {
        try {
          await procs.restart(target);
          return;
        } catch {
          await Bun.sleep(500);
        }
      }
      return;
    case "pause":
      return procs.resume(target);
    case "partition":
      return network?.heal();
  }
}
