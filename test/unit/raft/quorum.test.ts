// Majority arithmetic (§5.2, §5.3) against a naive version on random inputs (after etcd's
// quorum quick test), and the bounded window of appends in flight.
import { expect, test } from "bun:test";
import { Inflights } from "../../../lib/raft/progress.ts";
import { majority, majorityValue, voteResult } from "../../../lib/raft/quorum.ts";
import { SeededRandom } from "../../../lib/util/random.ts";

test("majorityValue is the largest value held by a majority", () => {
  const random = new SeededRandom(7);
  for (let round = 0; round < 2000; round++) {
    const voters = Array.from({ length: 1 + random.nextInt(7) }, (_, i) => i + 1);
    const values = new Map(voters.map((id) => [id, random.nextInt(20)]));
    const valueOf = (id: number) => values.get(id) ?? 0;
    // Naive: the largest v such that at least a majority hold >= v.
    let naive = 0;
    for (let v = 0; v < 20; v++) {
      if (voters.filter((id) => valueOf(id) >= v).length >= majority(voters.length)) naive = v;
    }
    expect(majorityValue(voters, valueOf)).toBe(naive);
  }
  expect(majorityValue([], () => 5)).toBe(0);
});

test("voteResult: won with a majority of grants, lost once a majority is out of reach", () => {
  const votes = (entries: [number, boolean][]) => new Map(entries);
  expect(voteResult([1, 2, 3], votes([[1, true]]))).toBe("pending");
  expect(voteResult([1, 2, 3], votes([[1, true], [2, true]]))).toBe("won");
  expect(voteResult([1, 2, 3], votes([[1, true], [2, false], [3, false]]))).toBe("lost");
  expect(voteResult([1, 2, 3, 4], votes([[1, true], [2, true], [3, false]]))).toBe("pending");
  // Answers from outside the configuration do not count.
  expect(voteResult([1, 2, 3], votes([[1, true], [9, true]]))).toBe("pending");
});

test("Inflights: bounded by count, freed up to an acknowledged index, in ring order", () => {
  const inflights = new Inflights(3);
  for (const last of [5, 8, 12]) inflights.add(last);
  expect(inflights.isFull()).toBe(true);
  expect(() => inflights.add(13)).toThrow(/full/);
  inflights.freeLE(8);
  expect(inflights.count).toBe(1);
  inflights.add(15);
  inflights.add(20);
  inflights.freeLE(14);
  expect(inflights.count).toBe(2);
  inflights.freeLE(100);
  expect(inflights.count).toBe(0);
});
