import { describe, expect, test } from "bun:test";
import type { DataReply, DataRequest } from "../../../lib/cluster/data-messages.ts";
import { PeerTimings } from "../../../lib/cluster/peer-timings.ts";

const fence = (rid: number): DataRequest => ({ type: "fence", rid, partition: 3, epoch: 2 });
const dropped = (rid: number): DataReply => ({ type: "dropped", rid });

describe("PeerTimings", () => {
  test("a reply ends the round trip of the request with its rid, once", () => {
    const timings = new PeerTimings();
    timings.sent(2, fence(7), 1000);
    expect(timings.answered(2, dropped(7), 1012.5)).toEqual({
      peer: 2, op: "fence", outcome: "ok", seconds: 0.0125,
    });
    expect(timings.answered(2, dropped(7), 1020)).toBeNull();
    expect(timings.size).toBe(0);
  });

  test("a refusal is timed with its reason as the outcome", () => {
    const timings = new PeerTimings();
    timings.sent(3, fence(1), 0);
    const refused: DataReply = {
      type: "refused", rid: 1, reason: "stale-epoch", fenced: 4, last: { epoch: 4, seq: 9 },
    };
    expect(timings.answered(3, refused, 2)?.outcome).toBe("stale-epoch");
  });

  test("a reply from another node than the one asked times nothing", () => {
    const timings = new PeerTimings();
    timings.sent(2, fence(5), 0);
    expect(timings.answered(3, dropped(5), 1)).toBeNull();
    expect(timings.answered(2, dropped(5), 1)?.peer).toBe(2);
  });

  test("requests unanswered for 10 s are taken as lost; the rest are counted per peer", () => {
    const timings = new PeerTimings();
    timings.sent(2, fence(1), 0);
    timings.sent(3, fence(2), 5_000);
    timings.sent(2, fence(3), 9_000);
    expect(timings.pendingByPeer()).toEqual(new Map([[2, 2], [3, 1]]));
    timings.sent(3, fence(4), 10_000);
    expect(timings.pendingByPeer()).toEqual(new Map([[2, 1], [3, 2]]));
    expect(timings.answered(2, dropped(1), 10_001)).toBeNull();
  });

  test("unanswered requests are bounded: the oldest are forgotten", () => {
    const timings = new PeerTimings();
    for (let rid = 1; rid <= 5000; rid++) timings.sent(2, fence(rid), rid);
    expect(timings.size).toBe(4096);
    expect(timings.answered(2, dropped(1), 6000)).toBeNull();
    expect(timings.answered(2, dropped(5000), 6000)?.seconds).toBe(1);
  });
});
