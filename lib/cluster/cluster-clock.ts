// The cluster clock: the time key expiries (SET's ttlMs) are measured in. Pure: the shell passes
// its monotonic clock in as `now`; nothing here reads a clock.
//
// Monotonic clocks of different machines cannot be compared, so a key's deadline is stored as a
// reading of a clock the whole cluster shares: the leader runs it on its own monotonic clock,
// starting from the newest reading committed through Raft (ClusterState.clockMs), and commits a
// reading every CLOCK_COMMIT_INTERVAL_MS. A row keeps `expiresAt` in this clock's ms.
//
// Why a key never expires early: a new leader starts from a reading some earlier leader took
// before it, and from then on advances at the rate of real time, so at every instant its clock
// is at most what the earlier leader's would read then. A deadline set by any leader is
// therefore reached, on any later leader, no sooner in real time than it would have been on the
// leader that set it. Why it never outlives its TTL by much: the reading a new leader starts from
// is at most one commit interval plus the failover behind the old leader's clock, so a key
// expires at most that much late (plus the time to take over and order the delete).

/** How often the leader commits a clock reading: what a failover can add to a key's life. */
export const CLOCK_COMMIT_INTERVAL_MS = 1000;

export class ClusterClock {
  private readonly committedMs: () => number;
  private start: { readonly clusterMs: number; readonly monoMs: number } | null = null;
  private lastCommitMono: number | null = null;
  private lastReading = 0;

  /** `committedMs`: the newest reading committed through Raft (ClusterState.clockMs). */
  constructor(committedMs: () => number) {
    this.committedMs = committedMs;
  }

  /**
   * The cluster clock at monotonic time `now` (ms). The first call starts it from the committed
   * reading: starting late only makes it run behind, which delays expiries, never hastens them.
   */
  read(now: number): number {
    if (this.start === null) this.start = { clusterMs: this.committedMs(), monoMs: now };
    // A shell clock that steps back (it must not) would otherwise move readings backwards.
    // Whole ms (readings are stored as integers), rounded down: a clock behind is the safe side.
    const reading = this.start.clusterMs + Math.floor(Math.max(0, now - this.start.monoMs));
    this.lastReading = Math.max(this.lastReading, reading);
    return this.lastReading;
  }

  /** The reading to commit now, or null when the last one is recent enough. */
  dueReading(now: number): number | null {
    if (this.lastCommitMono !== null && now - this.lastCommitMono < CLOCK_COMMIT_INTERVAL_MS) {
      return null;
    }
    this.lastCommitMono = now;
    return this.read(now);
  }
}
