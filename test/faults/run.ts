// `bun run test:faults [-- options]`: a 3-node cluster of real processes, clients recording a
// history while a nemesis kills, pauses and partitions nodes; then every key's history is
// checked for linearizability and lost acknowledged writes are counted. Run as root it lives in
// a private network namespace (partitions need it). docs/testing-faults.md explains the output.
// Exit status: 0 clean, 1 violations / lost writes / an inconclusive check, 2 setup failure.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  checkDefaults, checkKvHistory, formatFailure, lostWrites, type OpRecord,
} from "../../lib/lin/index.ts";
import { type FaultCounts, type FaultKind, faultNames, heal, runNemesis } from "./nemesis.ts";
import { insideNamespaceVariable, isRoot, Network, rerunInNamespace } from "./network.ts";
import { NodeProcs } from "./procs.ts";
import { seededRandom, seededUuid4 } from "./random.ts";
import { finalReads, HistoryRecorder, runClients } from "./workload.ts";

const usage = `Usage: bun run test:faults [-- options]

Options:
  --minutes <m>        how long the clients and the nemesis run (default 1)
  --seed <n>           seed of the nemesis schedule and the workload (default: random, printed)
  --clients <n>        concurrent clients (default 6)
  --keys <n>           keys in use at a time (default 8)
  --segment-s <s>      every this many seconds the clients move to fresh keys (default 20)
  --faults <list>      comma-separated: kill, pause, partition, leader, or none
                       (default kill,pause,partition,leader)
  --timeout-ms <ms>    deadline of one attempt (default 500)
  --statuses <mode>    check (default) or ignore the created/updated/deleted/not_found replies;
                       ignore checks only what reads return
  --out <dir>          history, node logs, violations and summary (default .tmp/faults/<time>)
  -h, --help           show this help`;

interface RunOptions {
  minutes: number;
  seed: number;
  clients: number;
  keys: number;
  segmentMs: number;
  kinds: FaultKind[];
  targetsLeader: "never" | "half" | "always";
  timeoutMs: number;
  checkWriteReplies: boolean;
  out: string;
}

function parseOptions(argv: string[]): RunOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string", default: "1" },
      seed: { type: "string" },
      clients: { type: "string", default: "6" },
      keys: { type: "string", default: "8" },
      "segment-s": { type: "string", default: "20" },
      faults: { type: "string", default: "kill,pause,partition,leader" },
      "timeout-ms": { type: "string", default: "500" },
      statuses: { type: "string", default: "check" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) {
    console.log(usage);
    process.exit(0);
  }
  const number = (name: string, text: string, min: number): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) {
      throw new Error(`--${name} must be a number >= ${min}`);
    }
    return value;
  };
  const names = values.faults === "none" ? [] : values.faults.split(",").map((s) => s.trim());
  for (const name of names) {
    if (!(faultNames as readonly string[]).includes(name)) {
      throw new Error(`unknown fault "${name}"`);
    }
  }
  let kinds = names.filter((n): n is FaultKind => n !== "leader");
  const hasLeader = names.includes("leader");
  if (hasLeader && kinds.length === 0) kinds = ["kill", "pause"];
  if (values.statuses !== "check" && values.statuses !== "ignore") {
    throw new Error("--statuses must be check or ignore");
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return {
    minutes: number("minutes", values.minutes, 0.05),
    seed: values.seed === undefined
      ? Math.floor(Math.random() * 2 ** 31) : number("seed", values.seed, 0),
    clients: number("clients", values.clients, 1),
    keys: number("keys", values.keys, 1),
    segmentMs: number("segment-s", values["segment-s"], 1) * 1000,
    kinds,
    targetsLeader: !hasLeader ? "never" : names.length === 1 ? "always" : "half",
    timeoutMs: number("timeout-ms", values["timeout-ms"], 10),
    checkWriteReplies: values.statuses === "check",
    out: resolve(values.out ?? join(".tmp", "faults", stamp)),
  };
}

const say = (text: string): void => void process.stderr.write(`${text}\n`);

/**
 * Model steps for a key whose check ran out of the default 2,000,000: a 30-minute run left one
 * such key in 720 (many overlapping writes of unknown outcome), and a run with an unchecked key
 * proves nothing about it. At about a microsecond a step, this is half a minute per such key.
 */
const RETRY_STEP_BUDGET = 40_000_000;

async function main(): Promise<number> {
  let options: RunOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    say(`error: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (isRoot() && process.env[insideNamespaceVariable] !== "1") {
    return rerunInNamespace([process.execPath, import.meta.path, ...process.argv.slice(2)]);
  }
  if (!isRoot() && options.kinds.includes("partition")) {
    say("error: partitions need root (a private network namespace and nftables); " +
      "run as root or pass --faults kill,pause,leader");
    return 2;
  }
  return runSuite(options);
}

async function runSuite(options: RunOptions): Promise<number> {
  mkdirSync(options.out, { recursive: true });
  const dataRoot = mkdtempSync(join(tmpdir(), "warehouse-faults-"));
  chmodSync(dataRoot, 0o755);
  // Separate streams, so the nemesis schedule does not depend on how many ops the clients ran.
  const streams = {
    nemesis: seededRandom(options.seed),
    workload: seededRandom(options.seed + 1),
    keys: seededRandom(options.seed + 2),
  };
  const nemesisLog = (event: Record<string, unknown>): void => {
    const line = JSON.stringify({ t: Math.round(performance.now()), ...event });
    writeFileSync(join(options.out, "nemesis.jsonl"), `${line}\n`, { flag: "a" });
    say(`nemesis: ${line}`);
  };
  const uidBase = isRoot() ? 20_000 : null;
  // Nodes under their own uids may not be able to read the repository (a checkout under a
  // private directory): they run a single executable built into the world-readable data root.
  const nodeCommand = uidBase === null ? undefined : [await buildNode(dataRoot)];
  // A node that exits on its own crashed (a bug: the run fails); one killed by a signal we did
  // not send was killed from outside the run. Either way it is restarted so the run goes on.
  const exits = { crashed: 0, signalled: 0 };
  const onUnexpectedExit = (id: number, code: number, signal: string | number | null): void => {
    if (signal === null) exits.crashed++;
    else exits.signalled++;
    nemesisLog({ event: "node exited unexpectedly", node: id, code, signal });
    void procs.restart(id).catch((error: Error) =>
      nemesisLog({ event: "restart failed", node: id, error: error.message }));
  };
  await using procs = new NodeProcs({
    count: 3, rf: 2, root: dataRoot, logDir: options.out, uidBase, extraArgs: [], nodeCommand,
    onUnexpectedExit,
  });
  const uids = new Map([1, 2, 3].map((id) => [id, (uidBase ?? 0) + id]));
  await using network = isRoot() ? await Network.create(uids) : null;
  const stop = onSignal(procs, network, dataRoot);
  try {
    say(`faults: seed ${options.seed}, ${options.minutes} min, output in ${options.out}`);
    try {
      await procs.startAll();
    } catch (error) {
      say(`error: ${(error as Error).message}`);
      return 2;
    }
    if (!(await procs.waitHealthy(30_000))) {
      say("error: the cluster did not become healthy within 30 s");
      return 2;
    }
    const recorder = new HistoryRecorder(join(options.out, "history.jsonl"));
    const result = await exercise(options, procs, network, recorder, streams, nemesisLog);
    return report(options, recorder.records, result.faults, result.unread, exits);
  } finally {
    stop();
    // The nodes go before their data does.
    await procs[Symbol.asyncDispose]();
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

async function exercise(
  options: RunOptions,
  procs: NodeProcs,
  network: Network | null,
  recorder: HistoryRecorder,
  streams: { nemesis: () => number; workload: () => number; keys: () => number },
  log: (event: Record<string, unknown>) => void,
): Promise<{ faults: FaultCounts; unread: string[] }> {
  const started = performance.now();
  const end = started + options.minutes * 60_000;
  const isDone = (): boolean => performance.now() >= end;
  const allKeys: string[] = [];
  const segments = new Map<number, string[]>();
  const keysNow = (): readonly string[] => {
    const segment = Math.floor((performance.now() - started) / options.segmentMs);
    let keys = segments.get(segment);
    if (keys === undefined) {
      keys = Array.from({ length: options.keys }, () => seededUuid4(streams.keys));
      allKeys.push(...keys);
      segments.set(segment, keys);
    }
    return keys;
  };
  const workload = {
    clients: options.clients, attemptTimeoutMs: options.timeoutMs, endpoints: procs.endpoints(),
    keys: keysNow, random: streams.workload, recorder,
  };
  const [, faults] = await Promise.all([
    runClients(workload, isDone),
    runNemesis(procs, network, {
      kinds: options.kinds, targetsLeader: options.targetsLeader, random: streams.nemesis,
      quietMs: [1_000, 3_000], faultMs: [1_000, 4_000], healDeadlineMs: 15_000, log,
    }, isDone),
  ]);
  // Everything healed, then one more read of every key ever used.
  for (const id of procs.ids()) {
    await heal(procs, network, procs.isRunning(id) ? "pause" : "kill", id);
  }
  await network?.heal();
  if (!(await procs.waitHealthy(30_000))) log({ event: "not healthy before the final reads" });
  const { unread } = await finalReads(workload, allKeys, 30_000);
  return { faults, unread };
}

function report(
  options: RunOptions,
  records: OpRecord[],
  faults: FaultCounts,
  unread: string[],
  exits: { crashed: number; signalled: number },
): number {
  const live = records.filter((r) => r.final !== true);
  const checkStarted = performance.now();
  const verdict = checkKvHistory(records, {
    ...checkDefaults, checkWriteReplies: options.checkWriteReplies,
    retryStepBudget: RETRY_STEP_BUDGET,
  });
  const checkSeconds = Number(((performance.now() - checkStarted) / 1000).toFixed(1));
  const lost = lostWrites(records);
  const nodeOf = new Map(records.map((r) => [r.id, r.node]));
  const explanations = verdict.keys.filter((k) => k.verdict === "violation")
    .map((k) => formatFailure(k.key, k, (id) => `node ${nodeOf.get(id) ?? "?"}`));
  const lostLines = lost.map((l) => `key ${l.key}: ${l.write.op}` +
    `${l.write.value === undefined ? "" : ` ${JSON.stringify(l.write.value)}`} (#${l.write.id}, ` +
    `acknowledged ${l.write.reply?.status} by node ${l.write.node}) lost: the final read ` +
    `(#${l.finalRead.id}) answered ${l.finalRead.reply?.found
      ? JSON.stringify(l.finalRead.reply.value) : "absent"}`);
  const details = [...explanations, ...lostLines].join("\n\n");
  writeFileSync(join(options.out, "violations.txt"), `${details}\n`);
  for (const text of explanations.slice(0, 3)) say(text);
  if (explanations.length > 3) say(`(${explanations.length - 3} more in violations.txt)`);
  for (const line of lostLines.slice(0, 5)) say(line);
  const summary = {
    minutes: options.minutes,
    seed: options.seed,
    ops: live.length,
    ok: live.filter((r) => r.outcome === "ok").length,
    unknown: live.filter((r) => r.outcome === "unknown").length,
    failed: live.filter((r) => r.outcome === "fail").length,
    faults,
    nodeExits: exits,
    keys: verdict.keys.length,
    unreadKeys: unread.length,
    violations: verdict.violations,
    violationsByKind: verdict.violationsByKind,
    inconclusive: verdict.inconclusive,
    lostWrites: lost.length,
    checkSeconds,
    out: options.out,
  };
  writeFileSync(join(options.out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(JSON.stringify(summary));
  const isClean = verdict.violations === 0 && lost.length === 0 && verdict.inconclusive === 0
    && exits.crashed === 0;
  return isClean ? 0 : 1;
}

/** Ctrl-C or SIGTERM: kill the nodes, drop the rules and the data, and exit 130. */
function onSignal(procs: NodeProcs, network: Network | null, dataRoot: string): () => void {
  const handler = (): void => {
    say("interrupted: stopping the nodes");
    void (async () => {
      await procs[Symbol.asyncDispose]();
      await network?.[Symbol.asyncDispose]();
      rmSync(dataRoot, { recursive: true, force: true });
      process.exit(130);
    })();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

process.exit(await main());

/** `bun build --compile` of node.ts into `dir`, readable and runnable by every uid. */
async function buildNode(dir: string): Promise<string> {
  const out = join(dir, "warehouse-node");
  const build = Bun.spawn([
    process.execPath, "build", "--compile", "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig", join(import.meta.dir, "..", "..", "node.ts"), "--outfile", out,
  ], { stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([build.exited, new Response(build.stderr).text()]);
  if (code !== 0) throw new Error(`could not build the node executable: ${stderr.trim()}`);
  chmodSync(out, 0o755);
  return out;
}
