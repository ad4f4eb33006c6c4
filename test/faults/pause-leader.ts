// `bun run test:faults:pause-leader`: the four steps of issue 7, against real node processes.
//   1. SET k v1 through the leader L (k placed on L and one other node, RF 2).
//   2. L is paused (SIGSTOP) for at least 2 s; once another node leads, SET k v2 through it.
//   3. L resumes (SIGCONT); for 3 s every GET k must answer v2.
//   4. L is killed (SIGKILL); GET k must answer v2.
// Exit status 0 when every step held, 1 with a message saying which did not and what came back.
import { replicasOfKey } from "../../lib/placement.ts";
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
  async waitLeader(among: readonly number[], alive: number, deadlineMs: number): Promise<number | null> {
    const deadline = performance.now() + deadlineMs;
    const isWhole = alive === this.links.size;
    while (performance.now() < deadline) {
      const leader = (await this.views(among)).find((v) => v.role === "leader" && v.aliveMembers >= alive
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
        const hint = ((attempt.reply["error"] as Reply | undefined)?.["leader"] as { id?: unknown } | undefined)?.id;
        if (typeof hint === "number" && among.includes(hint)) {
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

function shown(answer: Answer | null): string {
  if (answer === null) return "no answer";
  const reply = answer.reply;
  if (reply["ok"] !== true) return `error ${JSON.stringify(reply["error"])} from node ${answer.node}`;
  if ("found" in reply) {
    return `${reply["found"] === true ? JSON.stringify(reply["value"]) : "not found"} from node ${answer.node}`;
  }
  return `${String(reply["status"])} from node ${answer.node}`;
}

async function run(): Promise<string[]> {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const ids = [1, 2, 3];
  const scenario = new Scenario(new Map(ids.map((id) => [id, cluster.node(id).endpoint])));
  const problems: string[] = [];
  try {
    const leader = await scenario.waitLeader(ids, 3, 30_000);
    if (leader === null) return ["setup: no leader with every partition in sync within 30 s"];
    const view = (await scenario.views([leader]))[0];
    const partitions = Number(((await (scenario.links.get(leader) as NodeLink)
      .request({ op: "HEARTBEAT" }, 500)) as { reply?: Reply }).reply?.["partitions"] ?? 64);
    const random = seededRandom(7);
    let key = seededUuid4(random);
    while (!replicasOfKey(key, partitions, ids, 2).includes(leader)) key = seededUuid4(random);
    say(`leader is node ${leader} (term ${view?.term}); key ${key} lives on nodes ` +
      `${replicasOfKey(key, partitions, ids, 2).join(" and ")}`);

    // Step 1.
    const first = await scenario.request({ op: "SET", key, value: "v1" }, leader, ids, 5_000);
    say(`step 1: SET k v1 -> ${shown(first)}`);
    if (first?.reply["ok"] !== true) return [`step 1: SET k v1 through leader ${leader} failed: ${shown(first)}`];

    // Step 2.
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
    const isSecondAcked = second?.reply["ok"] === true;
    if (successor !== null && !isSecondAcked) {
      problems.push(`step 2: SET k v2 through new leader ${successor} failed: ${shown(second)}`);
    }
    await Bun.sleep(Math.max(0, 2_000 - (performance.now() - paused)));
    cluster.node(leader).process.kill("SIGCONT");
    const expected = isSecondAcked ? "v2" : "v1";

    // Step 3.
    await scenario.waitLeader(ids, 3, 15_000);
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
    if (wrong.length > 0) {
      const w = wrong[0] as Answer;
      problems.push(`step 3: after node ${leader} resumed, ${wrong.length} of ${reads} reads of k ` +
        `answered something other than ${JSON.stringify(expected)}; the first, ${w.atMs} ms into the ` +
        `run, answered ${shown(w)}. SET k ${JSON.stringify(expected)} had been acknowledged ` +
        `(${shown(second)}) while node ${leader} was paused: the acknowledged update was not ` +
        `visible.`);
    }
    if (reads === 0) problems.push(`step 3: no read of k succeeded within 3 s after node ${leader} resumed`);

    // Step 4.
    await cluster.kill(leader);
    await scenario.waitLeader(others, 2, 15_000);
    const last = await scenario.request({ op: "GET", key }, others[0] as number, others, 10_000);
    say(`step 4: node ${leader} killed; GET k -> ${shown(last)}`);
    if (last?.reply["ok"] !== true || last.reply["value"] !== expected) {
      problems.push(`step 4: after node ${leader} was killed, GET k answered ${shown(last)}; ` +
        `expected ${JSON.stringify(expected)}`);
    }
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
