// CI's fixed list of simulation seeds (style.md B10.4): every seed in 1..600 must pass every
// checker and converge after healing, in chunks of 50 seeds per test. `SEED=n bun test
// test/sim` replays one seed instead (with SIM_TRACE=1, step by step); `bun run sim --
// --seeds N --from S` runs any range (README: Raft core).
import { expect, test } from "bun:test";
import { defaultSimOptions, runSeed } from "./raft-sim.ts";

const replay = process.env.SEED;
const options = replay !== undefined && process.env.SIM_TRACE === "1"
  ? { ...defaultSimOptions, trace: (line: string) => process.stderr.write(`${line}\n`) }
  : defaultSimOptions;
const seeds = replay === undefined
  ? Array.from({ length: 600 }, (_, i) => i + 1)
  : [Number(replay)];
const chunkSize = 50;

for (let start = 0; start < seeds.length; start += chunkSize) {
  const chunk = seeds.slice(start, start + chunkSize);
  const name = chunk.length === 1 ? `seed ${chunk[0]}` : `seeds ${chunk[0]}..${chunk.at(-1)}`;
  test(`raft simulation, ${name}: every checker passes and the cluster converges`, () => {
    const failures: string[] = [];
    let elections = 0;
    let commits = 0;
    for (const seed of chunk) {
      const result = runSeed(seed, options);
      elections += result.elections;
      commits += result.commits;
      if (!result.ok) failures.push(`seed ${seed}: ${result.failure}`);
    }
    expect(failures).toEqual([]);
    // The runs did real work: leaders were elected and entries committed in every seed.
    expect(elections).toBeGreaterThanOrEqual(chunk.length);
    expect(commits).toBeGreaterThan(chunk.length * 10);
  });
}

test("a seed replays exactly: the same run twice gives the same counts", () => {
  for (const seed of [3, 77, 199]) expect(runSeed(seed)).toEqual(runSeed(seed));
});
