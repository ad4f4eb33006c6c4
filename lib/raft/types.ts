// Public types of the Raft core: the contract between the pure core (lib/raft) and the shell
// that persists, sends and applies (lib/cluster). Types only, plus the documented rules of the
// contract; no I/O, no clock, no randomness of its own.

/** A member's id: a positive safe integer, never reused (style.md B4). */
export type NodeId = number;

/** The durable part of a node's state (§5.1): it must survive a crash before anything is sent. */
export interface HardState {
  term: number;
  /** Who this node voted for in `term`, 0 for nobody. */
  vote: NodeId | 0;
  /** Highest index known committed. Persisting it is an optimisation, not a safety need. */
  commit: number;
}

export type EntryType = "normal" | "conf-change";

/** One log entry. `data` is opaque to the core; "" in a normal entry is a leader's no-op. */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: string;
}

/**
 * A one-member change; carried JSON-encoded (encodeConfChange) in a conf-change entry. One
 * change at a time: the next is refused until this one is committed and applied, and until the
 * leader has committed an entry of its own term. Two configurations are then in play at most,
 * the committed one and the one after it, and any majorities of the two overlap, so:
 * - commitment (and CheckQuorum, ReadIndex, the lease) counts the committed configuration: an
 *   added voter does not have to answer before its own addition commits (the application
 *   learns its endpoints from `Ready.committed`), and the change takes effect there at commit;
 * - elections use the latest configuration in the log, committed or not (thesis §4.1): a node
 *   that holds two changes but has not yet learned that the first committed must not campaign
 *   or count votes in the configuration before both, whose majorities need not overlap with
 *   the newest one's.
 */
export interface ConfChange {
  type: "add-voter" | "remove-voter";
  nodeId: NodeId;
  /** Opaque application data, e.g. the member's endpoints. */
  context: string;
}

/** The voters of a configuration, sorted ascending. */
export interface ConfState {
  voters: NodeId[];
}

export interface SnapshotMeta {
  /** Last index the snapshot covers, and its term. */
  index: number;
  term: number;
  /** The configuration in force at `index`. */
  confState: ConfState;
}

/** A snapshot of the application's state machine; `data` is opaque to the core. */
export interface Snapshot {
  meta: SnapshotMeta;
  data: string;
}

export type MessageType =
  | "append"
  | "append-response"
  | "vote"
  | "vote-response"
  | "pre-vote"
  | "pre-vote-response"
  | "heartbeat"
  | "heartbeat-response"
  | "snapshot"
  | "timeout-now";

interface MessageBase {
  from: NodeId;
  to: NodeId;
  /** Sender's term; for a pre-vote, the term the sender would campaign in (§9.6). */
  term: number;
}

/** AppendEntries (§5.3): entries follow the entry at `index` whose term is `logTerm`. */
export interface AppendMessage extends MessageBase {
  type: "append";
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
}

/**
 * Answer to an append or snapshot. Accepted: `index` is the last index now known to match.
 * Rejected: `index` is the rejected previous index; `rejectHint` the follower's best guess of
 * where the logs may match, `logTerm` the follower's term at that index (fast back-off).
 */
export interface AppendResponseMessage extends MessageBase {
  type: "append-response";
  index: number;
  reject: boolean;
  rejectHint: number;
  logTerm: number;
}

/** RequestVote (§5.2, §5.4.1), or PreVote (thesis §9.6). `force`: sent after TimeoutNow. */
export interface VoteMessage extends MessageBase {
  type: "vote" | "pre-vote";
  lastLogIndex: number;
  lastLogTerm: number;
  force: boolean;
}

export interface VoteResponseMessage extends MessageBase {
  type: "vote-response" | "pre-vote-response";
  reject: boolean;
}

/** Leader liveness; `round` numbers the leader's broadcasts in its term (lease and ReadIndex). */
export interface HeartbeatMessage extends MessageBase {
  type: "heartbeat";
  commit: number;
  round: number;
}

export interface HeartbeatResponseMessage extends MessageBase {
  type: "heartbeat-response";
  round: number;
}

/** InstallSnapshot (§7). */
export interface SnapshotMessage extends MessageBase {
  type: "snapshot";
  snapshot: Snapshot;
}

/** Leader transfer (thesis §3.10): the target campaigns at once, bypassing stickiness. */
export interface TimeoutNowMessage extends MessageBase {
  type: "timeout-now";
}

export type Message =
  | AppendMessage
  | AppendResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | SnapshotMessage
  | TimeoutNowMessage;

/** A message to send. `afterPersist`: send only once this Ready's state is durable. */
export interface Outbound {
  message: Message;
  afterPersist: boolean;
}

/** A ReadIndex answer: serve the read once the application has applied up to `index`. */
export interface ReadState {
  index: number;
  context: string;
}

export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

export interface SoftState {
  leaderId: NodeId | 0;
  role: Role;
}

/**
 * A batch of work for the shell. Order: persist `snapshot`, `entries`, `hardState` and
 * `compaction` (one transaction); send the messages (those with afterPersist only after the
 * persist); restore the state machine from `snapshot`; apply `committed` in order; then call
 * `advance(ready)`. Messages with afterPersist=false may go out before the persist.
 */
export interface Ready {
  /** Only when changed. */
  hardState: HardState | null;
  /** Append to stable storage; an entry whose index exists replaces it and all after it. */
  entries: Entry[];
  /** A snapshot received from the leader: persist it, and restore the state machine from it. */
  snapshot: Snapshot | null;
  messages: Outbound[];
  /** Apply in order; conf changes included (the core already applied them to its config). */
  committed: Entry[];
  readStates: ReadState[];
  /** Only when changed. */
  softState: SoftState | null;
  /** Whether the persist must be synced (hard state or entries changed). */
  mustSync: boolean;
  /**
   * The heartbeat round broadcast in this batch (leader only), else null. Record the monotonic
   * clock when this Ready is taken, as the round's `sentAt` (see `RaftCore.leaseRound`).
   */
  heartbeatRound: number | null;
  /**
   * A snapshot the application asked for with `compact()`: store it and discard log entries up
   * to its index. Unlike `snapshot`, the state machine is not restored from it.
   */
  compaction: Snapshot | null;
}

/** Read-only view of stable storage the core reads through; the shell writes it from Ready. */
export interface RaftStorage {
  /** Hard state, and the configuration of the latest snapshot (conf entries after it replay). */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries [lo, hi); at least one entry when lo < hi, even beyond maxBytes. */
  entries(lo: number, hi: number, maxBytes?: number): Entry[];
  /** Term of the entry at `index`; the snapshot's index answers the snapshot's term. */
  term(index: number): number | null;
  /** Index of the first entry held (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** Injected randomness: an integer in [0, boundExclusive). */
export interface Random {
  nextInt(boundExclusive: number): number;
}

/** Injected logger; the core never writes anywhere itself. Fields never carry user values. */
export interface RaftLogger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

/**
 * Configuration, all in ticks (only the shell knows tickMs).
 *
 * Election timeout of a voter, drawn afresh each time its timer restarts:
 *   timeout = electionTicks + rank * rankStaggerTicks + random[0, jitterTicks)
 *   jitterTicks = rankStaggerTicks > 0 ? max(1, floor(rankStaggerTicks / 2)) : electionTicks
 * where rank is the node's position among the sorted voters (0 for the lowest id). The jitter
 * is smaller than the stagger, so after a leader failure the ranks time out in order and the
 * lowest live member with an up-to-date log normally wins; with no stagger this is Raft's
 * plain randomised timeout [E, 2E). A node not among the voters never campaigns.
 * Once a node has campaigned, and until it hears from a leader or leads, jitterTicks is
 * electionTicks whatever the stagger: the order alone can replay a failed election forever
 * (voters that disagree on the configuration rank themselves in different lists, so two can
 * share a rank, or the first rank cannot win and always times out before the one that can).
 */
export interface RaftConfig {
  id: NodeId;
  electionTicks: number;
  heartbeatTicks: number;
  rankStaggerTicks: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Appends in flight per follower while replicating (pipelining). */
  maxInflightAppends: number;
  maxEntriesPerAppend: number;
  /** Last applied index on restart (default: the snapshot's index). */
  applied?: number;
}

export type ProposeResult =
  | { ok: true; index: number; term: number }
  | {
      ok: false;
      reason: "not-leader" | "transferring" | "no-leader" | "too-large";
      leaderId: NodeId | 0;
    };

export type ProposeConfChangeResult =
  | { ok: true; index: number; term: number }
  | {
      ok: false;
      reason: "not-leader" | "transferring" | "no-leader" | "change-pending" | "invalid-change";
      leaderId: NodeId | 0;
    };

export type StepResult = { ok: true } | { ok: false; reason: string };

export type ReadIndexResult =
  | { ok: true }
  | { ok: false; reason: "not-leader" | "no-leader" | "too-many-reads"; leaderId: NodeId | 0 };

export type ProgressState = "probe" | "replicate" | "snapshot";

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  recentActive: boolean;
}

export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId | 0;
  commit: number;
  applied: number;
  lastIndex: number;
  leaderId: NodeId | 0;
  role: Role;
  /** The committed configuration: what commitment, CheckQuorum and the lease count. */
  voters: NodeId[];
  /** The latest configuration in the log, committed or not: who campaigns and who elects. */
  votersInLog: NodeId[];
  /** Leader only: its view of every voter (itself included); null elsewhere. */
  progress: Map<NodeId, ProgressStatus> | null;
  /** Leader only: the target of a transfer in progress, else 0. */
  transferee: NodeId | 0;
  /** See RaftCore.leaseRound. */
  leaseRound: number | null;
}

/*
 * The lease contract (thesis §6.4, with CheckQuorum's leader stickiness).
 *
 * A leader numbers its heartbeat broadcasts 1, 2, 3, ... within its term (rounds, starting
 * again at 1 in each leadership, so key sentAt by term and round); followers echo the round.
 * `Ready.heartbeatRound` says a round went out in that batch: the shell records its monotonic
 * clock as sentAt(round) when it takes the Ready (before sending, so early).
 * `RaftCore.leaseRound()` is the newest round a quorum (the leader included) acknowledged in the
 * current term, or null: none yet, checkQuorum off, or a leader transfer was started in this
 * term (TimeoutNow bypasses stickiness, so no lease can be trusted). The lease holds until
 *   sentAt(leaseRound) + (electionTicks - 1) * tickMs * safetyFactor      (safetyFactor < 1)
 * Why: every follower that acknowledged the round got it after sentAt, and, with checkQuorum,
 * ignores vote and pre-vote requests (unless forced by TimeoutNow) for electionTicks of its own
 * ticks after hearing from the leader, which is at least (electionTicks - 1) * tickMs. A quorum
 * of those is needed to elect anyone else. A freshly constructed core (a restart) behaves as if
 * it had just heard from a leader, so a crash and fast restart does not shorten the lease.
 * safetyFactor covers clock-rate drift between nodes.
 */
