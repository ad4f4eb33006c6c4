// Fair queuing of incoming messages (RFC 28 and 29): peers take turns, one whole message each,
// so a busy peer cannot starve a quiet one. Pure data structure: no I/O, no timers.

interface Lane<T> {
  items: T[];
  head: number;
}

/** Compact an array once this many consumed slots sit at its front (and they are the majority). */
const COMPACT_AFTER = 1024;

export class FairQueue<K, T> {
  private readonly lanes = new Map<K, Lane<T>>();
  /** Keys whose lane is non-empty, in turn order; each key appears at most once. */
  private ring: K[] = [];
  private ringHead = 0;
  private count = 0;

  /** Messages queued over all lanes. */
  get size(): number {
    return this.count;
  }

  push(key: K, item: T): void {
    let lane = this.lanes.get(key);
    if (lane === undefined) {
      lane = { items: [], head: 0 };
      this.lanes.set(key, lane);
      this.ring.push(key);
    }
    lane.items.push(item);
    this.count++;
  }

  /** The next item in turn, or undefined when every lane is empty. */
  shift(): T | undefined {
    if (this.ringHead >= this.ring.length) return undefined;
    const key = this.ring[this.ringHead] as K;
    this.ring[this.ringHead++] = undefined as K; // release the reference for the collector
    const lane = this.lanes.get(key) as Lane<T>;
    const item = lane.items[lane.head] as T;
    lane.items[lane.head++] = undefined as T;
    this.count--;
    if (lane.head === lane.items.length) {
      this.lanes.delete(key);
    } else {
      if (lane.head > COMPACT_AFTER && lane.head * 2 > lane.items.length) {
        lane.items.splice(0, lane.head);
        lane.head = 0;
      }
      this.ring.push(key);
    }
    if (this.ringHead === this.ring.length) {
      this.ring = [];
      this.ringHead = 0;
    } else if (this.ringHead > COMPACT_AFTER && this.ringHead * 2 > this.ring.length) {
      this.ring.splice(0, this.ringHead);
      this.ringHead = 0;
    }
    return item;
  }
}
