// The client's merge of the WATCH feed with WATCH since answers (lib/client/watch.ts): every
// version once, oldest first, whatever order and overlap the two sources bring.
import { describe, expect, test } from "bun:test";
import { WatchMerge } from "../../../lib/client/watch.ts";
import { watchChange, type WatchChange } from "../../../lib/protocol.ts";

const key = "9b2f1c3e-1a2b-4c3d-8e4f-a1b2c3d4e5f6";
const set = (version: number): WatchChange => watchChange(key, `v${version}`, version);
const versions = (changes: readonly WatchChange[]) => changes.map((c) => c.version);

describe("WatchMerge", () => {
  test("the feed is held while an answer is awaited, then follows it without duplicates", () => {
    const merge = new WatchMerge(2);
    merge.beginFill();
    expect(merge.onFeed(set(6))).toEqual([]);
    expect(merge.onFeed(set(5))).toEqual([]);
    // The answer covers up to 5: the feed's 5 is the same change, 6 comes after it.
    expect(versions(merge.onFill([set(3), set(5)], 5, true))).toEqual([3, 5, 6]);
    expect(merge.version).toBe(6);
    expect(merge.onFeed(set(6))).toEqual([]);
    expect(versions(merge.onFeed(set(9)))).toEqual([9]);
  });

  test("an answer in pages: the feed waits for the last page", () => {
    const merge = new WatchMerge(0);
    merge.beginFill();
    merge.onFeed(set(8));
    expect(versions(merge.onFill([set(1), set(2)], 2, false))).toEqual([1, 2]);
    expect(versions(merge.onFill([set(4)], 7, true))).toEqual([4, 8]);
  });

  test("from now (no since): the first answer only sets where to start", () => {
    const merge = new WatchMerge(null);
    expect(merge.onFeed(set(3))).toEqual([]);
    merge.onFeed(set(12));
    merge.beginFill();
    expect(versions(merge.onFill([], 10, true))).toEqual([12]);
    expect(merge.version).toBe(12);
  });

  test("before the first answer the feed is held: it may be ahead of what only the log has", () => {
    const merge = new WatchMerge(0);
    expect(merge.onFeed(set(2))).toEqual([]);
    expect(versions(merge.onFill([set(1), set(2)], 2, true))).toEqual([1, 2]);
  });

  test("a failed fill keeps the feed held for the next one; a new leader's fill overlaps", () => {
    const merge = new WatchMerge(4);
    merge.onFill([], 4, true);
    expect(versions(merge.onFeed(set(5)))).toEqual([5]);
    merge.beginFill();
    merge.onFeed(set(7));
    merge.endFillFailed();
    merge.beginFill();
    expect(versions(merge.onFill([set(5), set(6), set(7)], 7, true))).toEqual([6, 7]);
  });
});
