// bench:compare's settings: flags first, then COMPARE_* environment variables, then defaults
// (a full run of about 8 minutes) or, with --quick, a run of about half a minute.
import { parseArgs } from "node:util";

export type Op = "SET" | "GET";

export interface Settings {
  quick: boolean;
  seconds: number;
  rounds: number;
  ops: Op[];
  concurrencies: number[];
  valueSizes: number[];
  failoverTrials: number;
  /** Warehouse's replication factor; 2 matches etcd's majority of 3 (two fsync'd copies). */
  rf: number;
  /** Keys written up front for the GET cases, per value size. */
  getKeys: number;
  warmupSeconds: number;
  etcdClient: "grpc" | "http";
}

export const USAGE = `usage: bun bench/compare.ts [--quick] [--seconds S] [--rounds R]
  [--cases set,get,failover] [--concurrency 1,16,64,256] [--values 256,16384] [--trials N] [--rf N]
  [--etcd-client grpc|http]
environment: COMPARE_SECONDS, COMPARE_ROUNDS, COMPARE_CASES, COMPARE_CONCURRENCY,
  COMPARE_VALUES, COMPARE_TRIALS, COMPARE_RF, COMPARE_ETCD_CLIENT (flags win)`;

const FULL = {
  seconds: 4, rounds: 3, cases: "set,get,failover", concurrency: "1,16,64,256",
  values: "256,16384", trials: 5, rf: 2, getKeys: 1000, warmupSeconds: 1,
};
const QUICK = {
  seconds: 1, rounds: 1, cases: "set,get,failover", concurrency: "1,64",
  values: "256", trials: 1, rf: 2, getKeys: 200, warmupSeconds: 0.3,
};

function numbers(text: string, what: string): number[] {
  const list = text.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${what}: expected positive integers separated by commas, got "${text}"`);
  }
  return list;
}

function positive(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${what}: expected a positive number`);
  return n;
}

export function parseSettings(argv: string[], env: Record<string, string | undefined>): Settings {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean" }, seconds: { type: "string" }, rounds: { type: "string" },
      cases: { type: "string" }, concurrency: { type: "string" }, values: { type: "string" },
      trials: { type: "string" }, rf: { type: "string" }, "etcd-client": { type: "string" },
    },
    strict: true,
  });
  const base = flags.quick === true ? QUICK : FULL;
  const pick = (flag: string | undefined, name: string, fallback: string | number): string =>
    flag ?? env[`COMPARE_${name}`] ?? String(fallback);
  const cases = pick(flags.cases, "CASES", base.cases).toLowerCase().split(",")
    .map((s) => s.trim());
  const unknown = cases.filter((c) => !["set", "get", "failover"].includes(c));
  if (unknown.length > 0) throw new Error(`--cases: unknown case ${unknown.join(", ")}`);
  const trials = Number(pick(flags.trials, "TRIALS", base.trials));
  if (!Number.isInteger(trials) || trials < 0) {
    throw new Error("--trials: expected an integer ≥ 0");
  }
  const rf = Number(pick(flags.rf, "RF", base.rf));
  if (rf !== 2 && rf !== 3) throw new Error("--rf: 2 or 3");
  const etcdClient = pick(flags["etcd-client"], "ETCD_CLIENT", "grpc");
  if (etcdClient !== "grpc" && etcdClient !== "http") {
    throw new Error("--etcd-client: grpc or http");
  }
  return {
    quick: flags.quick === true,
    seconds: positive(pick(flags.seconds, "SECONDS", base.seconds), "--seconds"),
    rounds: numbers(pick(flags.rounds, "ROUNDS", base.rounds), "--rounds")[0] as number,
    ops: (["SET", "GET"] as const).filter((op) => cases.includes(op.toLowerCase())),
    concurrencies: numbers(pick(flags.concurrency, "CONCURRENCY", base.concurrency),
      "--concurrency"),
    valueSizes: numbers(pick(flags.values, "VALUES", base.values), "--values"),
    failoverTrials: cases.includes("failover") ? trials : 0,
    rf,
    getKeys: base.getKeys,
    warmupSeconds: base.warmupSeconds,
    etcdClient,
  };
}
