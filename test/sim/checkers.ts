// Safety checkers for Raft simulations, each tied to a property of the Raft paper (Figure 3):
// election safety, log matching, leader completeness, state-machine safety; plus committed
// entries never change, ReadIndex linearizability and the lease contract of types.ts. Each
// check throws a CheckFailure naming what broke; the simulation reports it with its seed.
import type { Entry, MemoryStorage, NodeId } from "../../lib/raft/index.ts";

export class CheckFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckFailure";
  }
}

function describe(entry: Entry): string {
  return `${entry.term}/${entry.type}/${entry.data}`;
}

export class RaftCheckers {
  /** Election safety (§5.2): at most one leader per term. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Log matching (§5.3): (index, term) identifies the entry and its predecessor's term. */
  private readonly entryAt = new Map<string, string>();
  /** Entries known committed, by index; they never change. */
  private readonly committed = new Map<number, string>();
  private committedMax = 0;
  /** State-machine safety (§5.4.3): what was applied at each index, and the state after it. */
  private readonly appliedAt = new Map<number, string>();
  private readonly stateAt = new Map<number, string>();
  /** Leases in force, per leader: its term and the step its lease runs out at. */
  private readonly leases = new Map<NodeId, { term: number; expiresAt: number }>();
  elections = 0;

  /** A node reports its role after a step. */
  observeRole(node: NodeId, term: number, isLeader: boolean, now: number): void {
    if (!isLeader) return;
    const existing = this.leaderOfTerm.get(term);
    if (existing === undefined) {
      this.leaderOfTerm.set(term, node);
      this.elections += 1;
      this.checkLeases(node, term, now);
    } else if (existing !== node) {
      throw new CheckFailure(
        `election safety: nodes ${existing} and ${node} both lead term ${term}`,
      );
    }
  }

  /** Lease contract: nobody is elected in a newer term while an older leader's lease holds. */
  private checkLeases(node: NodeId, term: number, now: number): void {
    for (const [holder, lease] of this.leases) {
      if (holder === node || lease.term >= term) continue;
      if (lease.expiresAt > now) {
        throw new CheckFailure(
          `lease: node ${node} leads term ${term} at step ${now} while node ${holder}'s lease ` +
            `of term ${lease.term} runs until step ${lease.expiresAt}`,
        );
      }
    }
  }

  setLease(node: NodeId, lease: { term: number; expiresAt: number } | null): void {
    if (lease === null) this.leases.delete(node);
    else this.leases.set(node, lease);
  }

  /** After a node persisted entries: check them against every other node's (log matching). */
  observePersisted(node: NodeId, storage: MemoryStorage, entries: Entry[]): void {
    for (const entry of entries) {
      const previousTerm = storage.term(entry.index - 1);
      const key = `${entry.index}:${entry.term}`;
      const value = `${describe(entry)}|${previousTerm ?? "?"}`;
      const known = this.entryAt.get(key);
      if (known === undefined) {
        this.entryAt.set(key, value);
        continue;
      }
      const [knownEntry, knownPrevious] = known.split("|");
      const [entryText, previous] = value.split("|");
      const isSame =
        knownEntry === entryText && (knownPrevious === previous || previous === "?" ||
          knownPrevious === "?");
      if (!isSame) {
        throw new CheckFailure(
          `log matching: node ${node} holds ${value} at ${key}, another node held ${known}`,
        );
      }
    }
  }

  /** A node's commit index moved to `commit`: its entries up to there are committed. */
  observeCommit(node: NodeId, storage: MemoryStorage, from: number, commit: number): void {
    const lo = Math.max(from + 1, storage.firstIndex());
    const hi = Math.min(commit, storage.lastIndex());
    if (lo > hi) return;
    for (const entry of storage.entries(lo, hi + 1)) {
      const text = describe(entry);
      const known = this.committed.get(entry.index);
      if (known === undefined) this.committed.set(entry.index, text);
      else if (known !== text) {
        throw new CheckFailure(
          `committed entry changed: node ${node} has ${text} at ${entry.index}, was ${known}`,
        );
      }
    }
    this.committedMax = Math.max(this.committedMax, hi);
  }

  get committedIndexMax(): number {
    return this.committedMax;
  }

  /** Leader completeness (§5.4): a new leader's log holds every entry committed so far. */
  checkLeaderCompleteness(node: NodeId, storage: MemoryStorage, term: number): void {
    const first = storage.firstIndex();
    for (let index = first; index <= this.committedMax; index++) {
      const known = this.committed.get(index);
      if (known === undefined) continue;
      const entryTerm = storage.term(index);
      const entry = entryTerm === null ? undefined : storage.entries(index, index + 1)[0];
      if (entry === undefined || describe(entry) !== known) {
        throw new CheckFailure(
          `leader completeness: node ${node} leads term ${term} without committed entry ` +
            `${index} (${known})`,
        );
      }
    }
  }

  /** State-machine safety: every node applies the same entry at each index. */
  observeApplied(node: NodeId, entry: Entry, stateAfter: string): void {
    const text = describe(entry);
    const known = this.appliedAt.get(entry.index);
    if (known === undefined) {
      this.appliedAt.set(entry.index, text);
      this.stateAt.set(entry.index, stateAfter);
    } else if (known !== text || this.stateAt.get(entry.index) !== stateAfter) {
      throw new CheckFailure(
        `state-machine safety: node ${node} applied ${text} at ${entry.index}, another ${known}`,
      );
    }
  }

  appliedText(index: number): string | undefined {
    return this.appliedAt.get(index);
  }

  get appliedCount(): number {
    return this.appliedAt.size;
  }

  /** A node restored its state machine from a snapshot taken elsewhere at `index`. */
  observeRestored(node: NodeId, index: number, state: string): void {
    const known = this.stateAt.get(index);
    if (known !== undefined && known !== state) {
      throw new CheckFailure(`snapshot: node ${node} restored ${state} at ${index}, not ${known}`);
    }
  }

  /** ReadIndex linearizability: the read index covers everything committed before the read. */
  checkReadIndex(node: NodeId, index: number, committedAtRequest: number): void {
    if (index < committedAtRequest) {
      throw new CheckFailure(
        `read index: node ${node} answered index ${index}, but ${committedAtRequest} was ` +
          `committed before the read`,
      );
    }
  }
}
