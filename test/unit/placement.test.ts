// Pins placement to docs/protocol.md: golden vectors computed independently (python3 hashlib), so
// any change to the algorithm fails here, plus distribution, stability and cache behaviour.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  balancedReplicas,
  partitionOf,
  placeKey,
  placeReplicas,
  placementScore,
  replicaCacheEntriesMax,
  replicaCacheSize,
  replicasOf,
  replicasOfKey,
  topRanked,
} from "../../lib/placement.ts";

// [partition, node id, score] from python3:
// int.from_bytes(hashlib.sha256(f"{p}/{i}".encode("ascii")).digest()[:8], "big")
const goldenScores: readonly (readonly [number, number, bigint])[] = [
  [0, 1, 12193625726240080634n],
  [0, 2, 11368834138774950936n],
  [0, 3, 17059235139537335238n],
  [1, 1, 2683464844940401643n],
  [7, 42, 17350608156986290488n],
  [63, 3, 16012998827030403310n],
  [4095, 2147483647, 17564684084214103602n],
  [12, 1000, 2284156041030702481n],
];

// Replicas of partitions 0..15 for members [1, 2, 3] and rf 2 (python3, same formula).
const goldenRf2ThreeNodes = [
  [3, 1], [2, 1], [2, 3], [3, 2], [1, 3], [3, 1], [2, 1], [1, 3],
  [2, 1], [3, 2], [1, 3], [1, 2], [1, 3], [1, 3], [2, 3], [3, 1],
];
// Replicas of partitions 0..7 for members [1..5] and rf 3.
const goldenRf3FiveNodes = [
  [3, 5, 1], [4, 2, 5], [2, 3, 4], [5, 3, 2], [1, 3, 5], [4, 3, 1], [4, 2, 1], [1, 3, 4],
];
// Replicas of partitions 0..7 for members [3, 7, 11] and rf 1.
const goldenRf1 = [[3], [7], [7], [3], [7], [3], [11], [11]];

// [key, partition for P = 1, 64, 100, 4096]
const goldenPartitions: readonly (readonly [string, readonly number[]])[] = [
  ["00000000-0000-4000-8000-000000000000", [0, 0, 0, 0]],
  ["ffffffff-ffff-4fff-bfff-ffffffffffff", [0, 63, 95, 4095]],
  ["9b2f1c3e-1a2b-4c3d-8e4f-a1b2c3d4e5f6", [0, 62, 2, 3134]],
  ["12345678-9abc-4def-8123-456789abcdef", [0, 56, 96, 1656]],
];

function referenceScore(partition: number, id: number): bigint {
  const digest = createHash("sha256").update(`${partition}/${id}`, "ascii").digest();
  return digest.readBigUInt64BE(0);
}

function idsUpTo(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index + 1);
}

describe("partitionOf", () => {
  test("golden vectors", () => {
    for (const [key, expected] of goldenPartitions) {
      expect([1, 64, 100, 4096].map((partitions) => partitionOf(key, partitions))).toEqual([
        ...expected,
      ]);
    }
  });

  test("uses the full unsigned 32-bit prefix (no sign overflow)", () => {
    expect(partitionOf("80000000-0000-4000-8000-000000000000", 3)).toBe(0x80000000 % 3);
    expect(partitionOf("fffffffe-0000-4000-8000-000000000000", 4095)).toBe(0xfffffffe % 4095);
  });

  test("refuses a non-canonical key or a bad partition count (programmer errors)", () => {
    expect(() => partitionOf("FFFFFFFF-ffff-4fff-bfff-ffffffffffff", 64)).toThrow();
    expect(() => partitionOf("", 64)).toThrow();
    expect(() => partitionOf("00000000-0000-4000-8000-000000000000", 0)).toThrow();
    expect(() => partitionOf("00000000-0000-4000-8000-000000000000", 1.5)).toThrow();
  });
});

describe("placementScore", () => {
  test("golden vectors", () => {
    for (const [partition, id, score] of goldenScores) {
      expect(placementScore(partition, id)).toBe(score);
    }
  });

  test("matches node:crypto over a grid", () => {
    for (let partition = 0; partition < 130; partition += 3) {
      for (const id of [1, 2, 9, 10, 99, 100, 12345]) {
        expect(placementScore(partition, id)).toBe(referenceScore(partition, id));
      }
    }
  });

  test("is a 64-bit unsigned number", () => {
    for (let partition = 0; partition < 64; partition++) {
      const score = placementScore(partition, 1);
      expect(score >= 0n).toBe(true);
      expect(score < 1n << 64n).toBe(true);
    }
  });
});

describe("replicasOf", () => {
  test("golden vectors", () => {
    expect(goldenRf2ThreeNodes.map((_, p) => replicasOf(p, [1, 2, 3], 2))).toEqual(
      goldenRf2ThreeNodes,
    );
    expect(goldenRf3FiveNodes.map((_, p) => replicasOf(p, idsUpTo(5), 3))).toEqual(
      goldenRf3FiveNodes,
    );
    expect(goldenRf1.map((_, p) => replicasOf(p, [3, 7, 11], 1))).toEqual(goldenRf1);
  });

  test("orders replicas by score, highest first", () => {
    for (let partition = 0; partition < 64; partition++) {
      const replicas = replicasOf(partition, idsUpTo(6), 6);
      const scores = replicas.map((id) => placementScore(partition, id));
      for (let i = 1; i < scores.length; i++) {
        expect((scores[i - 1] ?? 0n) > (scores[i] ?? 0n)).toBe(true);
      }
    }
  });

  test("64 partitions over 3 nodes with rf 2: two distinct replicas each, all nodes used", () => {
    const load = new Map<number, number>();
    for (let partition = 0; partition < 64; partition++) {
      const replicas = replicasOf(partition, [1, 2, 3], 2);
      expect(replicas.length).toBe(2);
      expect(new Set(replicas).size).toBe(2);
      for (const id of replicas) {
        expect([1, 2, 3]).toContain(id);
        load.set(id, (load.get(id) ?? 0) + 1);
      }
    }
    // 128 replica slots over 3 nodes: about 43 each; a wildly skewed hash would fall outside.
    for (const id of [1, 2, 3]) {
      expect(load.get(id) ?? 0).toBeGreaterThan(25);
      expect(load.get(id) ?? 0).toBeLessThan(60);
    }
  });

  test("fewer members than rf gives every member", () => {
    expect(replicasOf(5, [2], 3)).toEqual([2]);
    expect(replicasOf(5, [], 3)).toEqual([]);
    const all = replicasOf(9, [4, 8], 5);
    expect([...all].sort((a, b) => a - b)).toEqual([4, 8]);
  });

  test("the order of the member list does not matter", () => {
    for (let partition = 0; partition < 64; partition++) {
      expect(replicasOf(partition, [5, 1, 4, 2, 3], 3)).toEqual(
        replicasOf(partition, [1, 2, 3, 4, 5], 3),
      );
    }
  });

  test("removing a member moves only the partitions it held (rendezvous property)", () => {
    const members = idsUpTo(5);
    for (const removed of members) {
      const remaining = members.filter((id) => id !== removed);
      for (let partition = 0; partition < 256; partition++) {
        const before = replicasOf(partition, members, 2);
        const after = replicasOf(partition, remaining, 2);
        if (!before.includes(removed)) {
          expect(after).toEqual(before);
        } else {
          // The survivors keep their place; exactly one newcomer fills the gap.
          const survivors = before.filter((id) => id !== removed);
          expect(after.filter((id) => survivors.includes(id))).toEqual(survivors);
          expect(after.length).toBe(2);
          expect(after).not.toContain(removed);
        }
      }
    }
  });

  test("adding a member only takes partitions, never shuffles the others", () => {
    for (let partition = 0; partition < 256; partition++) {
      const before = replicasOf(partition, [1, 2, 3], 2);
      const after = replicasOf(partition, [1, 2, 3, 4], 2);
      if (!after.includes(4)) expect(after).toEqual(before);
      else expect(after.filter((id) => id !== 4).every((id) => before.includes(id))).toBe(true);
    }
  });

  test("returns a fresh array each time, so a caller cannot corrupt the cache", () => {
    const first = replicasOf(3, [1, 2, 3], 2);
    const expected = first.slice();
    first.push(99);
    first.reverse();
    expect(replicasOf(3, [1, 2, 3], 2)).toEqual(expected);
    const second = replicasOf(3, [1, 2, 3], 2);
    second[0] = 77;
    expect(replicasOf(3, [1, 2, 3], 2)).toEqual(expected);
  });

  test("the cache stays bounded and stays correct after eviction", () => {
    for (let partition = 0; partition < replicaCacheEntriesMax + 500; partition++) {
      replicasOf(partition, [1, 2, 3], 2);
    }
    expect(replicaCacheSize()).toBeLessThanOrEqual(replicaCacheEntriesMax);
    expect(replicasOf(0, [1, 2, 3], 2)).toEqual(goldenRf2ThreeNodes[0] ?? []);
  });

  test("refuses bad rf and duplicate ids (programmer errors)", () => {
    expect(() => replicasOf(0, [1, 2], 0)).toThrow();
    expect(() => replicasOf(0, [1, 2], 1.5)).toThrow();
    expect(() => replicasOf(0, [1, 1, 2], 2)).toThrow();
    expect(() => replicasOf(0, [0, 1], 2)).toThrow();
  });
});

describe("topRanked", () => {
  test("equal scores go to the lower id", () => {
    const members = [
      { id: 9, score: 5n },
      { id: 2, score: 5n },
      { id: 4, score: 7n },
      { id: 1, score: 1n },
    ];
    expect(topRanked(members, 2)).toEqual([4, 2]);
    expect(topRanked(members, 10)).toEqual([4, 2, 9, 1]);
  });

  test("compares full 64-bit scores, not their float approximations", () => {
    const members = [
      { id: 1, score: (1n << 63n) + 1n },
      { id: 2, score: (1n << 63n) + 2n },
    ];
    expect(topRanked(members, 1)).toEqual([2]);
  });
});

describe("replicasOfKey", () => {
  test("combines partitionOf and replicasOf", () => {
    const key = "9b2f1c3e-1a2b-4c3d-8e4f-a1b2c3d4e5f6";
    expect(replicasOfKey(key, 64, [1, 2, 3], 2)).toEqual(replicasOf(62, [1, 2, 3], 2));
  });
});

// Balanced placement computed by an independent implementation of docs/protocol.md's text,
// test/testdata/balanced-placement.py (e.g. `python3 balanced-placement.py 64 '[1,2,3]' 2`).
const goldenBalanced64 = [
  [3, 1], [2, 1], [2, 1], [3, 2], [1, 3], [3, 1], [2, 1], [1, 3],
  [2, 1], [3, 2], [1, 3], [1, 2], [1, 3], [1, 3], [2, 3], [3, 1],
  [3, 1], [1, 3], [1, 2], [3, 1], [3, 1], [2, 3], [1, 3], [2, 3],
  [2, 1], [1, 3], [3, 1], [3, 2], [3, 2], [3, 2], [2, 1], [2, 3],
  [1, 2], [3, 1], [3, 1], [2, 1], [1, 2], [1, 3], [3, 2], [1, 2],
  [1, 2], [3, 2], [2, 1], [2, 3], [1, 3], [3, 1], [2, 3], [2, 3],
  [1, 2], [2, 1], [3, 1], [2, 3], [3, 2], [2, 3], [1, 2], [1, 2],
  [3, 2], [2, 3], [3, 2], [2, 1], [3, 2], [1, 2], [2, 1], [3, 1],
];
const goldenBalanced16Rf3 = [
  [3, 5, 1], [4, 2, 5], [2, 3, 4], [5, 3, 2],
  [1, 3, 5], [4, 3, 1], [4, 2, 1], [1, 3, 4],
  [2, 1, 5], [3, 4, 2], [5, 1, 3], [1, 5, 2],
  [5, 4, 1], [1, 3, 4], [2, 3, 5], [3, 5, 4],
];
const goldenBalanced7Rf1 = [[2], [40], [2], [9], [9], [40], [40]];

type Table = readonly (readonly number[])[];

function loads(table: Table, ids: readonly number[]): number[] {
  const held = new Map(ids.map((id) => [id, 0]));
  for (const replicas of table) for (const id of replicas) held.set(id, (held.get(id) ?? 0) + 1);
  return ids.map((id) => held.get(id) ?? 0);
}

function replicaMoves(before: Table, after: Table): number {
  let moved = 0;
  after.forEach((replicas, p) => {
    for (const id of replicas) if (!(before[p] ?? []).includes(id)) moved++;
  });
  return moved;
}

const shapes: [partitions: number, members: number, rf: number][] = [];
for (const partitions of [1, 2, 7, 16, 64, 100, 256]) {
  for (let members = 1; members <= 9; members++) {
    for (let rf = 1; rf <= 4; rf++) shapes.push([partitions, members, rf]);
  }
}
const idsOf = (members: number, spread: number) =>
  Array.from({ length: members }, (_, i) => 1 + i + spread * (i % 2));

describe("balancedReplicas", () => {
  test("golden vectors", () => {
    expect(balancedReplicas(64, [1, 2, 3], 2)).toEqual(goldenBalanced64);
    expect(balancedReplicas(16, [5, 3, 1, 4, 2], 3)).toEqual(goldenBalanced16Rf3);
    expect(balancedReplicas(7, [40, 2, 9], 1)).toEqual(goldenBalanced7Rf1);
  });

  test("the default cluster (ids 1-3, 64 partitions, rf 2) is even where rendezvous is not", () => {
    const ids = [1, 2, 3];
    expect(loads(balancedReplicas(64, ids, 2), ids)).toEqual([43, 42, 43]);
    const rendezvous = Array.from({ length: 64 }, (_, p) => replicasOf(p, ids, 2));
    expect(loads(rendezvous, ids)).toEqual([39, 37, 52]);
  });

  test("every partition gets min(rf, members) distinct members, best score first", () => {
    for (const [partitions, members, rf] of shapes) {
      for (const spread of [0, 10, 1000]) {
        const ids = idsOf(members, spread);
        const table = balancedReplicas(partitions, ids, rf);
        expect(table.length).toBe(partitions);
        table.forEach((replicas, p) => {
          expect(new Set(replicas).size).toBe(Math.min(rf, members));
          for (const id of replicas) expect(ids).toContain(id);
          const scores = replicas.map((id) => placementScore(p, id));
          for (let i = 1; i < scores.length; i++) {
            expect((scores[i - 1] as bigint) >= (scores[i] as bigint)).toBe(true);
          }
        });
      }
    }
  });

  test("no member holds more than rendezvous would give the busiest one", () => {
    for (const [partitions, members, rf] of shapes) {
      for (const spread of [0, 10, 1000]) {
        const ids = idsOf(members, spread);
        const rendezvous = Array.from({ length: partitions }, (_, p) => replicasOf(p, ids, rf));
        const busiest = Math.max(...loads(rendezvous, ids));
        expect(Math.max(...loads(balancedReplicas(partitions, ids, rf), ids)))
          .toBeLessThanOrEqual(busiest);
      }
    }
  });

  test("a member joining or leaving moves little more than its share", () => {
    for (const [partitions, members, rf] of [[64, 3, 2], [64, 4, 2], [64, 5, 3], [256, 3, 2],
      [256, 7, 3]] as const) {
      const ids = idsOf(members, 0);
      const before = balancedReplicas(partitions, ids, rf);
      const joined = balancedReplicas(partitions, [...ids, members + 1], rf);
      const share = Math.ceil((partitions * Math.min(rf, members + 1)) / (members + 1));
      expect(replicaMoves(before, joined)).toBeLessThanOrEqual(Math.ceil(share * 1.25));
      const left = balancedReplicas(partitions, ids.slice(1), rf);
      const held = loads(before, ids)[0] as number;
      expect(replicaMoves(before, left)).toBeLessThanOrEqual(Math.ceil(held * 1.25));
    }
  });

  test("the order of the member list does not matter; the table is frozen", () => {
    const table = balancedReplicas(64, [3, 1, 2], 2);
    expect(balancedReplicas(64, [2, 3, 1], 2)).toBe(table);
    expect(Object.isFrozen(table) && Object.isFrozen(table[0])).toBe(true);
  });
});

describe("placeReplicas and placeKey", () => {
  test("pick the cluster's rule", () => {
    const ids = [1, 2, 3];
    for (let p = 0; p < 64; p++) {
      expect(placeReplicas("rendezvous", p, 64, ids, 2)).toEqual(replicasOf(p, ids, 2));
      expect(placeReplicas("balanced", p, 64, ids, 2)).toEqual([...(goldenBalanced64[p] ?? [])]);
    }
    const key = "0000003e-0000-4000-8000-000000000000";
    expect(placeKey("balanced", key, 64, ids, 2)).toEqual([...(goldenBalanced64[62] ?? [])]);
    expect(placeKey("rendezvous", key, 64, ids, 2)).toEqual(replicasOf(62, ids, 2));
  });
});
