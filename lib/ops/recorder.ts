// The narrow interface through which request, replication and storage code reports what it
// did. Implemented by NodeMetrics (node-metrics.ts); nullRecorder where nothing listens.
// Calls sit on hot paths, so implementations must be cheap and must never throw.

export interface OpsRecorder {
  /** A client request was answered: op (SET, GET, DELETE, HEARTBEAT, or "invalid"), outcome
   * ("ok" or the reply's error code), time from receipt to reply in seconds. */
  request(op: string, outcome: string, seconds: number): void;
  /** A node-to-node request to `peer` finished: outcome "ok" or an error code. */
  peerRequest(peer: number, op: string, outcome: string, seconds: number): void;
  /** Rows the leader sent to a replica in one replicate call, and whether they were stored. */
  replicated(peer: number, rows: number, outcome: "ok" | "failed"): void;
  /** A read of a partition another node holds: answered from the leader's read cache or not. */
  readCached(outcome: "hit" | "miss"): void;
  /** This node finished bringing one of its partitions level, or failed to. */
  catchUp(outcome: "ok" | "failed"): void;
  /** One group commit: rows in the transaction, seconds it took including its fsync. */
  storageCommit(rows: number, seconds: number): void;
  leaderChanged(leader: number | null, term: number): void;
  memberAdded(member: number, endpoint: string): void;
  memberUp(member: number): void;
  memberDown(member: number): void;
}

const ignore = (): void => undefined;

export const nullRecorder: OpsRecorder = {
  request: ignore,
  peerRequest: ignore,
  replicated: ignore,
  readCached: ignore,
  catchUp: ignore,
  storageCommit: ignore,
  leaderChanged: ignore,
  memberAdded: ignore,
  memberUp: ignore,
  memberDown: ignore,
};
