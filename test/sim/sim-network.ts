// A seeded, simulated network for whole-cluster simulations (style.md B10.4): it loses,
// duplicates, delays and reorders messages and cuts links between nodes. Time is counted in
// simulation steps; nothing here reads a clock. Generic over the payload, so the cluster can
// carry Raft messages and, later, data-plane messages over the same links.
import type { SeededRandom } from "../../lib/util/random.ts";

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Delivery delay in steps, uniform in [delayMin, delayMax]; spread delays reorder. */
  delayMin: number;
  delayMax: number;
}

export const perfectNetwork: NetworkFaults = {
  dropRate: 0, duplicateRate: 0, delayMin: 1, delayMax: 1,
};

interface InFlight<T> {
  deliverAt: number;
  sequence: number;
  from: number;
  to: number;
  payload: T;
}

export class SimNetwork<T> {
  faults: NetworkFaults;
  private readonly random: SeededRandom;
  private queue: InFlight<T>[] = [];
  private sequence = 0;
  /** Cut links as "from>to"; a cut link drops in both directions when cut symmetrically. */
  private readonly cut = new Set<string>();
  sentCount = 0;
  droppedCount = 0;
  /** Bound on messages in flight: beyond it new ones are dropped, like a full socket buffer. */
  readonly inFlightMax: number;

  constructor(random: SeededRandom, faults: NetworkFaults = perfectNetwork, inFlightMax = 100_000) {
    this.random = random;
    this.faults = faults;
    this.inFlightMax = inFlightMax;
  }

  get inFlight(): number {
    return this.queue.length;
  }

  isCut(from: number, to: number): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  cutLink(from: number, to: number, bothWays = true): void {
    this.cut.add(`${from}>${to}`);
    if (bothWays) this.cut.add(`${to}>${from}`);
  }

  /** Splits the nodes into groups that cannot reach each other. */
  partition(groups: number[][]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
      }
    }
  }

  isolate(node: number, others: number[]): void {
    for (const other of others) if (other !== node) this.cutLink(node, other);
  }

  heal(): void {
    this.cut.clear();
  }

  send(now: number, from: number, to: number, payload: T): void {
    this.sentCount += 1;
    if (this.isCut(from, to) || this.queue.length >= this.inFlightMax) {
      this.droppedCount += 1;
      return;
    }
    if (this.random.chance(this.faults.dropRate)) {
      this.droppedCount += 1;
      return;
    }
    const copies = this.random.chance(this.faults.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const { delayMin, delayMax } = this.faults;
      const delay = delayMin + this.random.nextInt(delayMax - delayMin + 1);
      this.queue.push({ deliverAt: now + delay, sequence: this.sequence++, from, to, payload });
    }
  }

  /** Drops every message addressed to or sent by `node` (it crashed: its sockets are gone). */
  dropFor(node: number): void {
    this.queue = this.queue.filter((m) => m.to !== node && m.from !== node);
  }

  /**
   * Removes and returns the messages due at `now`, in a random order among them. Messages on a
   * link cut while they were in flight are lost.
   */
  takeDue(now: number): { from: number; to: number; payload: T }[] {
    const due: InFlight<T>[] = [];
    const rest: InFlight<T>[] = [];
    for (const item of this.queue) (item.deliverAt <= now ? due : rest).push(item);
    if (due.length === 0) return [];
    this.queue = rest;
    for (let i = due.length - 1; i > 0; i--) {
      const j = this.random.nextInt(i + 1);
      const swap = due[i] as InFlight<T>;
      due[i] = due[j] as InFlight<T>;
      due[j] = swap;
    }
    const delivered: { from: number; to: number; payload: T }[] = [];
    for (const item of due) {
      if (this.isCut(item.from, item.to)) {
        this.droppedCount += 1;
        continue;
      }
      delivered.push({ from: item.from, to: item.to, payload: item.payload });
    }
    return delivered;
  }
}
