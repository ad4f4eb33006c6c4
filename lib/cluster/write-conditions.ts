// What a partition leader needs for compare-and-set and expiring keys: each key's version at
// the head of its write order, a gate that holds a key's writes while its version is read from
// a replica, and the index of keys with a TTL. Pure: no I/O, no clock (times are cluster-clock
// ms passed in). The leader is the only writer of its epoch, so what it ordered is the truth for
// every later write it orders; what it did not order it reads once from an in-sync replica.

/** The optional parts of a write. */
export interface WriteOptions {
  /** Compare-and-set: the key's version must be this; 0: the key must not exist. */
  readonly ifVersion: number | null;
  /** SET only: when the key expires, in cluster-clock ms (cluster-clock.ts). */
  readonly expiresAt: number | null;
}

export const plainWrite: WriteOptions = Object.freeze({ ifVersion: null, expiresAt: null });

/**
 * A key's version after every write this leader ordered to it (0: absent), and the seq of the
 * write that decided it (0 when it was read from a replica, so already acknowledged).
 */
export interface HeadVersion {
  readonly version: number;
  readonly seq: number;
}

export class KeyVersions {
  private readonly head = new Map<string, HeadVersion>();
  /** Keys whose version is being read: their writes wait here, in arrival order. */
  private readonly gates = new Map<string, Array<() => void>>();

  get(key: string): HeadVersion | undefined {
    return this.head.get(key);
  }

  /** A write to `key` was ordered at `seq`; `isDelete`: the key is absent after it. */
  ordered(key: string, seq: number, isDelete: boolean): void {
    this.head.set(key, { version: isDelete ? 0 : seq, seq });
  }

  /** `version` was read from an in-sync replica while no write to the key was in flight. */
  learned(key: string, version: number): void {
    this.head.set(key, { version, seq: 0 });
  }

  /** No write to `key` is in flight any more: its version is read again when next needed. */
  forget(key: string): void {
    if (!this.gates.has(key)) this.head.delete(key);
  }

  isGated(key: string): boolean {
    return this.gates.has(key);
  }

  /** Holds the key's writes until `open`. */
  close(key: string): void {
    this.gates.set(key, []);
  }

  /** Runs `write` when the gate opens. */
  wait(key: string, write: () => void): void {
    this.gates.get(key)?.push(write);
  }

  /** Opens the gate and returns the writes that waited, to run in order. */
  open(key: string): Array<() => void> {
    const waiting = this.gates.get(key) ?? [];
    this.gates.delete(key);
    return waiting;
  }

  /** Leadership ended: what waited runs now (and is refused: the leader is deposed). */
  openAll(): Array<() => void> {
    const waiting = [...this.gates.values()].flat();
    this.gates.clear();
    this.head.clear();
    return waiting;
  }
}

export interface Expiring {
  readonly key: string;
  /** The version that carries the TTL: the expiry deletes the key only at this version. */
  readonly version: number;
  readonly expiresAt: number;
}

/**
 * Keys with a TTL and when they expire. An entry may be stale (the key changed since): the
 * expiry is a delete conditional on the entry's version, so a stale entry deletes nothing.
 */
export class ExpiryIndex {
  private readonly byKey = new Map<string, Expiring>();
  /** No entry expires before this (a lower bound; Infinity when empty). */
  private nextDue = Number.POSITIVE_INFINITY;

  get size(): number {
    return this.byKey.size;
  }

  /** A write to `key` was ordered at `seq`; `expiresAt` null: the key has no TTL after it. */
  ordered(key: string, seq: number, expiresAt: number | null): void {
    if (expiresAt === null) {
      this.byKey.delete(key);
      return;
    }
    this.byKey.set(key, { key, version: seq, expiresAt });
    this.nextDue = Math.min(this.nextDue, expiresAt);
  }

  /** A row with a TTL read at takeover; what this leader ordered since is newer and stays. */
  learned(key: string, version: number, expiresAt: number): void {
    const known = this.byKey.get(key);
    if (known !== undefined && known.version >= version) return;
    this.byKey.set(key, { key, version, expiresAt });
    this.nextDue = Math.min(this.nextDue, expiresAt);
  }

  /** Entries whose time has come at cluster time `now`; they leave the index. */
  due(now: number): Expiring[] {
    if (now < this.nextDue) return [];
    const out: Expiring[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.byKey.values()) {
      if (entry.expiresAt <= now) out.push(entry);
      else next = Math.min(next, entry.expiresAt);
    }
    for (const entry of out) this.byKey.delete(entry.key);
    this.nextDue = next;
    return out;
  }
}
