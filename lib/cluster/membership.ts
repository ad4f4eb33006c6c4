// Membership and stage-1 leadership as a pure core: who the members are, who is alive (counted
// in ticks since their last heartbeat), who leads and in which term. No I/O, no timers, no
// clock: the node's loop calls tick() once per heartbeat interval and feeds heartbeats in.
// Stage 2 replaces the leadership part with Raft behind the same `leaderId`/`term` surface.

export interface Member {
  readonly id: number;
  readonly endpoint: string;
  readonly pub: string;
}

/** What a peer's heartbeat tells this core. */
export interface PeerStatus {
  readonly id: number;
  readonly endpoint: string;
  readonly pub: string;
  readonly term: number;
  /** False while the peer is still catching up after a (re)start: it cannot lead yet. */
  readonly isCaughtUp: boolean;
  readonly members: readonly Member[];
}

export type MembershipChange =
  | { type: "member-added"; member: Member }
  | { type: "member-up"; id: number }
  | { type: "member-down"; id: number }
  | { type: "leader-changed"; leaderId: number | null; term: number };

interface MemberState {
  member: Member;
  lastSeenTick: number;
  isAlive: boolean;
  isCaughtUp: boolean;
}

export class Membership {
  readonly selfId: number;
  private readonly suspectTicks: number;
  private readonly states = new Map<number, MemberState>();
  private now = 0;
  private currentTerm: number;
  private currentLeader: number | null = null;
  private isSelfCaughtUp = false;

  constructor(self: Member, others: readonly Member[], suspectTicks: number, term: number) {
    this.selfId = self.id;
    this.suspectTicks = suspectTicks;
    this.currentTerm = term;
    this.states.set(self.id, { member: self, lastSeenTick: 0, isAlive: true, isCaughtUp: false });
    // Known members start as not yet seen: alive only once a heartbeat arrives.
    for (const m of others) {
      if (m.id !== self.id) {
        this.states.set(m.id, {
          member: m,
          lastSeenTick: -Infinity,
          isAlive: false,
          isCaughtUp: false,
        });
      }
    }
  }

  get term(): number {
    return this.currentTerm;
  }

  get leaderId(): number | null {
    return this.currentLeader;
  }

  get isLeader(): boolean {
    return this.currentLeader === this.selfId;
  }

  get tickCount(): number {
    return this.now;
  }

  members(): Member[] {
    return [...this.states.values()].map((s) => s.member).sort((a, b) => a.id - b.id);
  }

  memberIds(): number[] {
    return this.members().map((m) => m.id);
  }

  member(id: number): Member | undefined {
    return this.states.get(id)?.member;
  }

  isAlive(id: number): boolean {
    return this.states.get(id)?.isAlive ?? false;
  }

  aliveCount(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.isAlive) n++;
    return n;
  }

  isCaughtUp(id: number): boolean {
    return this.states.get(id)?.isCaughtUp ?? false;
  }

  /** Adds or updates a member (a join, or a restarted node on a new endpoint). */
  addMember(member: Member): MembershipChange[] {
    const state = this.states.get(member.id);
    if (state !== undefined) {
      if (state.member.endpoint === member.endpoint && state.member.pub === member.pub) return [];
      state.member = member;
      return [{ type: "member-added", member }];
    }
    this.states.set(member.id, {
      member,
      lastSeenTick: -Infinity,
      isAlive: false,
      isCaughtUp: false,
    });
    return [{ type: "member-added", member }];
  }

  setSelfCaughtUp(isCaughtUp: boolean): MembershipChange[] {
    this.isSelfCaughtUp = isCaughtUp;
    const self = this.states.get(this.selfId);
    if (self !== undefined) self.isCaughtUp = isCaughtUp;
    return this.electLeader();
  }

  /**
   * Adopts a higher term seen anywhere (terms only grow). A leader that sees one learns that
   * someone else led meanwhile (e.g. across a healed partition): it keeps leading, but in a new
   * term above both, so that two leaders never stamp versions in the same term.
   */
  observeTerm(term: number): MembershipChange[] {
    if (term <= this.currentTerm) return [];
    this.currentTerm = term;
    if (this.currentLeader !== this.selfId) return [];
    this.currentTerm++;
    return [{ type: "leader-changed", leaderId: this.selfId, term: this.currentTerm }];
  }

  tick(): MembershipChange[] {
    this.now++;
    const changes: MembershipChange[] = [];
    for (const [id, state] of this.states) {
      if (id === this.selfId) continue;
      const isAlive = this.now - state.lastSeenTick <= this.suspectTicks;
      if (isAlive !== state.isAlive) {
        state.isAlive = isAlive;
        changes.push(isAlive ? { type: "member-up", id } : { type: "member-down", id });
      }
    }
    return changes.concat(this.electLeader());
  }

  onHeartbeat(status: PeerStatus): MembershipChange[] {
    if (status.id === this.selfId) return [];
    const changes: MembershipChange[] = [];
    changes.push(...this.addMember({ id: status.id, endpoint: status.endpoint, pub: status.pub }));
    for (const m of status.members) {
      if (!this.states.has(m.id)) changes.push(...this.addMember(m));
    }
    const state = this.states.get(status.id);
    if (state === undefined) return changes;
    state.lastSeenTick = this.now;
    state.isCaughtUp = status.isCaughtUp;
    if (!state.isAlive) {
      state.isAlive = true;
      changes.push({ type: "member-up", id: status.id });
    }
    // The sender's term is adopted before the election, so a leader-changed event carries the
    // term the new leader announced; a leader that stays leader past a higher term moves above
    // it (see observeTerm), one that hands over does not.
    const wasLeader = this.isLeader;
    const termBefore = this.currentTerm;
    if (status.term > this.currentTerm) this.currentTerm = status.term;
    changes.push(...this.electLeader());
    if (wasLeader && this.isLeader && this.currentTerm > termBefore) {
      this.currentTerm++;
      changes.push({ type: "leader-changed", leaderId: this.selfId, term: this.currentTerm });
    }
    return changes;
  }

  /**
   * The lowest-ordered live member that has caught up leads. A node that becomes leader starts
   * a new term above every term it has seen, so a returning lower-ordered node takes over with
   * a term the others adopt from its heartbeats.
   */
  private electLeader(): MembershipChange[] {
    let leader: number | null = null;
    for (const [id, state] of this.states) {
      if (!state.isAlive || !state.isCaughtUp) continue;
      if (leader === null || id < leader) leader = id;
    }
    if (leader === this.currentLeader) return [];
    this.currentLeader = leader;
    if (leader === this.selfId && this.isSelfCaughtUp) this.currentTerm++;
    return [{ type: "leader-changed", leaderId: leader, term: this.currentTerm }];
  }
}
