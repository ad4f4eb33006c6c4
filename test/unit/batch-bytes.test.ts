// Batches between members sized in bytes: whatever the values hold (control characters take 6
// bytes each as JSON), a batch's JSON stays within BATCH_BYTES_MAX, and one item always goes.
import { describe, expect, test } from "bun:test";
import {
  BATCH_BYTES_MAX,
  changeBytesAtMost,
  countWithin,
  rowBytesAtMost,
} from "../../lib/cluster/batch-bytes.ts";
import { peerLimitDefaults } from "../../lib/cluster/peer-protocol.ts";
import type { ChangeRecord, DataRow } from "../../lib/store/replica-types.ts";

const MiB = 1024 * 1024;

function row(i: number, value: string): DataRow {
  return { key: crypto.randomUUID(), partition: 3, seq: i, epoch: 1, value, writer: `w:${i}` };
}

describe("countWithin", () => {
  test("cuts where the next item would pass the budget; never below one item", () => {
    expect(countWithin([5, 5, 5, 5], (n) => n, 12)).toBe(2);
    expect(countWithin([5, 5, 5, 5], (n) => n, 20)).toBe(4);
    expect(countWithin([50, 5], (n) => n, 12)).toBe(1);
    expect(countWithin([], (n: number) => n, 12)).toBe(0);
  });

  test("rows of 1 MiB control characters: each batch's JSON is within the budget", () => {
    const rows = Array.from({ length: 40 }, (_, i) => row(i, "\u0001".repeat(MiB)));
    let sent = 0;
    while (sent < rows.length) {
      const batch = rows.slice(sent, sent + countWithin(rows.slice(sent), rowBytesAtMost));
      const json = new TextEncoder().encode(JSON.stringify({ rows: batch }));
      expect(json.length).toBeLessThanOrEqual(BATCH_BYTES_MAX);
      expect(batch.length).toBeGreaterThan(0);
      sent += batch.length;
    }
    expect(BATCH_BYTES_MAX).toBeLessThan(peerLimitDefaults.frameBytesMax);
  });

  test("the largest value (8 MiB) goes alone and fits the receiver's frame limit", () => {
    const change: ChangeRecord = {
      seq: 1, epoch: 1, key: crypto.randomUUID(), value: "\u0000".repeat(8 * MiB), writer: null,
    };
    expect(countWithin([change, change], changeBytesAtMost)).toBe(1);
    const json = new TextEncoder().encode(JSON.stringify({ changes: [change] }));
    expect(json.length).toBeLessThan(peerLimitDefaults.frameBytesMax);
    expect(changeBytesAtMost(change)).toBeGreaterThanOrEqual(json.length - 20);
  });
});
