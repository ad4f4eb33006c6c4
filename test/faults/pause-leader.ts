// `bun run test:faults:pause-leader`: the four steps of issue 7, against real node processes.
//   1. SET k v1 through the leader L (k placed on L and one other node, RF 2).
//   2. L is paused (SIGSTOP) for at least 2 s; once another node leads, SET k v2 through it.
//   3. L resumes (SIGCONT); for 3 s every GET k must answer v2.
//   4. L is killed (SIGKILL); GET k must answer v2.
// Exit status 0 when every step held, 1 with a message saying which did not and what came back.
import { placeKey, placementRuleOf } from "../../lib/placement.ts";
import { Cluster } from "../harness/cluster.ts";
import { seededRandom, seededUuid4 } from "./random.ts";
import { NodeLink, type NodeView, parseHeartbeat, type Reply } from "./wire.ts";

const attemptMs = 500;
const say = (text: string): void => void process.stderr.write(`${text}\n`);

interface Answer {
  readonly node: number;
  readonly reply: Reply;
  readonly atMs: number;
}

class Scenario {
  readonly links = new Map<number, NodeLink>();
  readonly started = performance.now();

  constructor(endpoints: ReadonlyMap<number, string>) {
    for (const [id, endpoint] of endpoints) this.links.set(id, new NodeLink(endpoint));
  }

  elapsed(): number {
    return Math.round(performance.now() - this.started);
  }

  async views(among: readonly number[]): Promise<NodeView[]> {
    const replies = await Promise.all(among.map((id) =>
      (this.links.get(id) as NodeLink).request({ op: "HEARTBEAT" }, 300)));
    return replies.flatMap((r) => (r.kind === "reply" ? [parseHeartbeat(r.reply)] : []))
      .filter((v): v is NodeView => v !== null);
  }

  /**
   * A node in `among` that calls itself leader and sees `alive` members alive; with every
   * member alive, also every partition in sync when its heartbeat says.
   */
  async waitLeader(among: readonly number[], alive: number, deadlineMs: number):
    Promise<number | null> {
    const deadline = performance.now() + deadlineMs;
    const isWhole = alive === this.links.size;
    while (performance.now() < deadline) {
      const leader = (await this.views(among)).find((v) => v.role === "leader"
        && v.aliveMembers >= alive
        && (!isWhole || v.partitionsShort === null || v.partitionsShort === 0));
      if (leader !== undefined) return leader.id;
      await Bun.sleep(50);
    }
    return null;
  }

  /**
   * Sends `body` to `node`, following NOT_LEADER hints among `among`, until a reply with ok
   * true or the deadline; returns the last answer (ok or not) or null if nothing answered.
   */
  async request(body: Reply, node: number, among: readonly number[], deadlineMs: number):
    Promise<Answer | null> {
    const deadline = performance.now() + deadlineMs;
    let target = node;
    let last: Answer | null = null;
    while (performance.now() < deadline) {
      const attempt = await (this.links.get(target) as NodeLink).request(body, attemptMs);
      if (attempt.kind === "reply") {
        last = { node: target, reply: attempt.reply, atMs: this.elapsed() };
        if (attempt.reply["ok"] === true) return last;
        const hint = leaderHint(attempt.reply);
        if (hint !== null && among.includes(hint)) {
          target = hint;
          continue;
        }
      }
      target = among[(among.indexOf(target) + 1) % among.length] as number;
      await Bun.sleep(20);
    }
    return last;
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}

function leaderHint(reply: Reply): number | null {
  const error = reply["error"] as { leader?: { id?: unknown } } | undefined;
  return typeof error?.leader?.id === "number" ? error.leader.id : null;
}

function shown(answer: Answer | null): string {
  if (answer === null) return "no answer";
  const reply = answer.reply;
  if (reply["ok"] !== true) {
    return `error ${JSON.stringify(reply["error"])} from node ${answer.node}`;
  }
  if ("found" in reply) {
    const value = reply["found"] === true ? JSON.stringify(reply["value"]) : "not found";
    return `${value} from node ${answer.node}`;
  }
  return `${String(reply["status"])} by node ${answer.node}`;
}

interface Setup {
  readonly cluster: Cluster;
  readonly scenario: Scenario;
  readonly ids: readonly number[];
  readonly leader: number;
  readonly key: string;
}

/** A key placed on the leader (and one other node, RF 2), drawn from a fixed seed. */
async function keyOnLeader(scenario: Scenario, ids: readonly number[], leader: number):
  Promise<string> {
  const heartbeat = await (scenario.links.get(leader) as NodeLink)
    .request({ op: "HEARTBEAT" }, 500);
  if (heartbeat.kind !== "reply") throw new Error(`no HEARTBEAT answer from node ${leader}`);
  const partitions = Number(heartbeat.reply["partitions"]);
  const rule = placementRuleOf(heartbeat.reply["placement"]);
  if (rule === null) throw new Error(`node ${leader} names an unknown placement rule`);
  const random = seededRandom(7);
  let key = seededUuid4(random);
  while (!placeKey(rule, key, partitions, ids, 2).includes(leader)) key = seededUuid4(random);
  say(`leader is node ${leader}; key ${key} lives on nodes ` +
    `${placeKey(rule, key, partitions, ids, 2).join(" and ")}`);
  return key;
}

/** Step 2: pause the leader, write v2 through its successor; resume after at least 2 s. */
async function writeWhilePaused(setup: Setup, problems: string[]): Promise<Answer | null> {
  const { cluster, scenario, ids, leader, key } = setup;
  const paused = performance.now();
  cluster.node(leader).process.kill("SIGSTOP");
  const others = ids.filter((id) => id !== leader);
  const successor = await scenario.waitLeader(others, 2, 15_000);
  if (successor === null) {
    problems.push(`step 2: with node ${leader} paused, no other node took the lead within 15 s`);
  }
  const second = successor === null ? null
    : await scenario.request({ op: "SET", key, value: "v2" }, successor, others, 5_000);
  say(`step 2: node ${leader} paused; SET k v2 -> ${shown(second)}`);
  if (successor !== null && second?.reply["ok"] !== true) {
    problems.push(`step 2: SET k v2 through new leader ${successor} failed: ${shown(second)}`);
  }
  await Bun.sleep(Math.max(0, 2_000 - (performance.now() - paused)));
  cluster.node(leader).process.kill("SIGCONT");
  return second;
}

/** Step 3: for 3 s after the resume, every read must answer `expected`. */
async function readAfterResume(setup: Setup, expected: string, second: Answer | null,
  problems: string[]): Promise<void> {
  const { scenario, ids, leader, key } = setup;
  await scenario.waitLeader(ids, ids.length, 15_000);
  const until = performance.now() + 3_000;
  const wrong: Answer[] = [];
  let reads = 0;
  while (performance.now() < until) {
    const got = await scenario.request({ op: "GET", key }, leader, ids, 2_000);
    if (got?.reply["ok"] !== true) continue;
    reads++;
    if (got.reply["value"] !== expected) wrong.push(got);
    await Bun.sleep(50);
  }
  say(`step 3: node ${leader} resumed; ${reads} reads, ${wrong.length} did not answer ${expected}`);
  const first = wrong[0];
  if (first !== undefined) {
    problems.push(`step 3: after node ${leader} resumed, ${wrong.length} of ${reads} reads of k ` +
      `answered something other than ${JSON.stringify(expected)}; the first, ${first.atMs} ms ` +
      `into the run, answered ${shown(first)}. SET k ${JSON.stringify(expected)} had been ` +
      `acknowledged (${shown(second)}) while node ${leader} was paused: the acknowledged ` +
      `update was not visible.`);
  }
  if (reads === 0) {
    problems.push(`step 3: no read of k succeeded within 3 s after node ${leader} resumed`);
  }
}

/** Step 4: with the old leader killed, the read must still answer `expected`. */
async function readAfterKill(setup: Setup, expected: string, problems: string[]): Promise<void> {
  const { cluster, scenario, ids, leader, key } = setup;
  const others = ids.filter((id) => id !== leader);
  await cluster.kill(leader);
  await scenario.waitLeader(others, 2, 15_000);
  const last = await scenario.request({ op: "GET", key }, others[0] as number, others, 10_000);
  say(`step 4: node ${leader} killed; GET k -> ${shown(last)}`);
  if (last?.reply["ok"] !== true || last.reply["value"] !== expected) {
    problems.push(`step 4: after node ${leader} was killed, GET k answered ${shown(last)}; ` +
      `expected ${JSON.stringify(expected)}`);
  }
}

async function run(): Promise<string[]> {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const ids = [1, 2, 3];
  const scenario = new Scenario(new Map(ids.map((id) => [id, cluster.node(id).endpoint])));
  try {
    const leader = await scenario.waitLeader(ids, 3, 30_000);
    if (leader === null) return ["setup: no leader with every partition in sync within 30 s"];
    const key = await keyOnLeader(scenario, ids, leader);
    const setup: Setup = { cluster, scenario, ids, leader, key };
    const first = await scenario.request({ op: "SET", key, value: "v1" }, leader, ids, 5_000);
    say(`step 1: SET k v1 -> ${shown(first)}`);
    if (first?.reply["ok"] !== true) {
      return [`step 1: SET k v1 through leader ${leader} failed: ${shown(first)}`];
    }
    const problems: string[] = [];
    const second = await writeWhilePaused(setup, problems);
    const expected = second?.reply["ok"] === true ? "v2" : "v1";
    await readAfterResume(setup, expected, second, problems);
    await readAfterKill(setup, expected, problems);
    return problems;
  } finally {
    await scenario.close();
  }
}

const problems = await run();
if (problems.length === 0) {
  console.log("PASS: the update acknowledged while the leader was paused stayed visible after " +
    "it resumed and after it was killed");
  process.exit(0);
}
console.log(`FAIL:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
process.exit(1);
