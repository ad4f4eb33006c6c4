// docs/protocol.md's placement rules, implemented a second time from the text alone in Python
// (test/testdata/balanced-placement.py), must give the same tables as lib/placement.ts over many
// shapes: a client in another language that follows the document finds the same replicas.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { balancedReplicas } from "../../lib/placement.ts";
import { runToEnd } from "../harness/run.ts";

const SCRIPT = join(import.meta.dir, "..", "testdata", "balanced-placement.py");

async function pythonTable(partitions: number, ids: number[], rf: number): Promise<number[][]> {
  const { code, stdout, stderr } =
    await runToEnd(["/usr/bin/python3", SCRIPT, `${partitions}`, JSON.stringify(ids), `${rf}`]);
  if (code !== 0) throw new Error(`balanced-placement.py exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as number[][];
}

test("balanced placement: the Python implementation of the document agrees", async () => {
  const shapes: [number, number[], number][] = [
    [1, [1], 1], [3, [1, 2, 3], 2], [64, [1, 2, 3], 2], [64, [1, 2, 3], 3], [64, [1, 2, 4, 7], 2],
    [100, [3, 9, 27, 81, 243], 3], [256, [1, 2, 3, 4, 5, 6, 7], 3], [64, [2, 11, 40], 4],
    [4096, [1, 2, 3], 2], [17, [5, 6, 7, 8, 9, 10, 11, 12, 13], 2],
  ];
  for (const [partitions, ids, rf] of shapes) {
    const expected = await pythonTable(partitions, ids, rf);
    const table = balancedReplicas(partitions, ids, rf).map((replicas) => [...replicas]);
    expect(table).toEqual(expected);
  }
}, 60_000);
