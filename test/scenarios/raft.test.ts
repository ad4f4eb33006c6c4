// Runs every Raft scenario script in test/testdata/raft/*.txt (after etcd's datadriven
// interaction tests, style.md B10.3). A script is a list of commands, each followed by "----"
// and its expected transcript, ended by a blank line. `UPDATE=1 bun test test/scenarios`
// rewrites the transcripts: read the diff before committing it.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeMessage, type Message, type NodeId } from "../../lib/raft/index.ts";
import { RaftEnv, describeEntry } from "./raft-env.ts";

const dir = join(import.meta.dir, "..", "testdata", "raft");
const isUpdating = process.env.UPDATE === "1";

interface Block {
  prefix: string[];
  command: string;
  expected: string;
}

function parse(text: string): { blocks: Block[]; trailer: string[] } {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  let prefix: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith("#") || line.trim() === "") {
      prefix.push(line);
      continue;
    }
    if (lines[i + 1] !== "----") throw new Error(`line ${i + 2}: expected ---- after "${line}"`);
    const output: string[] = [];
    i += 2;
    while (i < lines.length && (lines[i] as string) !== "") output.push(lines[i++] as string);
    blocks.push({ prefix, command: line, expected: output.join("\n") });
    prefix = [];
  }
  while (prefix.length > 0 && prefix[prefix.length - 1] === "") prefix.pop();
  return { blocks, trailer: prefix };
}

function ids(text: string | undefined): NodeId[] {
  if (text === undefined || text === "()") return [];
  return text.replace(/[()]/g, "").split(",").filter((s) => s !== "").map(Number);
}

function run(env: RaftEnv, command: string): string {
  const [name, ...rest] = command.split(/\s+/);
  const args = rest.filter((a) => !a.includes("="));
  const pairs = rest.filter((a) => a.includes("=")).map((a) => a.split("=", 2) as [string, string]);
  const options = new Map(pairs);
  const id = Number(args[0]);
  const extra: string[] = [];
  switch (name) {
    case "add-nodes": {
      const voters = options.has("voters") ? ids(options.get("voters")) : ids(options.get("ids"));
      for (const nodeId of ids(options.get("ids"))) {
        env.addNode(nodeId, voters, {
          preVote: options.get("pre-vote") === "true",
          checkQuorum: options.get("check-quorum") === "true",
          electionTicks: Number(options.get("election") ?? 10),
          heartbeatTicks: Number(options.get("heartbeat") ?? 1),
          rankStaggerTicks: Number(options.get("stagger") ?? 0),
          maxEntriesPerAppend: Number(options.get("max-entries") ?? 64),
          maxInflightAppends: Number(options.get("inflight") ?? 256),
        });
        env.processReady(nodeId);
      }
      break;
    }
    case "campaign":
      env.core(id).campaign();
      env.processReady(id);
      break;
    case "tick": {
      const targets = args[0] === "all" ? [...env.nodes.keys()] : [id];
      const count = Number(options.get("n") ?? 1);
      for (let i = 0; i < count; i++) {
        for (const target of targets) {
          if (env.node(target).core === null) continue;
          env.core(target).tick();
          env.processReady(target);
        }
      }
      break;
    }
    case "deliver": {
      const from = options.has("from") ? Number(options.get("from")) : null;
      const to = options.has("to") ? Number(options.get("to")) : null;
      const type = options.get("type") ?? null;
      const match = (m: Message): boolean =>
        (from === null || m.from === from) && (to === null || m.to === to) &&
        (type === null || m.type === type);
      const isDropping = args.includes("drop");
      env.deliver(match, () => isDropping);
      break;
    }
    case "stabilize":
      env.stabilize();
      break;
    case "propose": {
      const result = env.core(id).propose(args[1] ?? "");
      extra.push(`${id}: ${JSON.stringify(result)}`);
      env.processReady(id);
      break;
    }
    case "add-voter":
    case "remove-voter":
      env.proposeConfChange(id, { type: name, nodeId: Number(args[1]), context: "" });
      break;
    case "transfer-leader":
      env.core(id).transferLeader(Number(args[1]));
      env.processReady(id);
      break;
    case "read-index": {
      const result = env.core(id).readIndex(args[1] ?? "");
      extra.push(`${id}: ${JSON.stringify(result)}`);
      env.processReady(id);
      break;
    }
    case "lease":
      extra.push(`${id}: leaseRound=${env.core(id).leaseRound()}`);
      break;
    case "compact": {
      const node = env.node(id);
      env.core(id).compact(node.appliedIndex, node.state);
      env.processReady(id);
      break;
    }
    case "crash":
      env.crash(id);
      break;
    case "restart":
      env.restart(id);
      env.processReady(id);
      break;
    case "partition":
      env.partition(command.slice("partition".length).trim().split("|").map((g) =>
        g.trim().split(/\s+/).map(Number)));
      break;
    case "heal":
      env.heal();
      break;
    case "status":
      for (const target of args.length > 0 ? args.map(Number) : [...env.nodes.keys()]) {
        extra.push(env.status(target));
      }
      break;
    case "applied":
      for (const target of args.map(Number)) {
        const node = env.node(target);
        extra.push(`${target}: ${node.applied.map(describeEntry).join(", ")}`);
      }
      break;
    case "raft-log":
      for (const target of args.map(Number)) extra.push(env.raftLog(target));
      break;
    case "step-raw": {
      // A message as it comes off the wire: decoded (validated), then stepped if valid.
      const decoded = decodeMessage(command.slice(command.indexOf("{")));
      if (!decoded.ok) {
        extra.push(`decode refused: ${decoded.error}`);
        break;
      }
      const result = env.core(id).step(decoded.message);
      extra.push(`${id}: step ${JSON.stringify(result)}`);
      env.processReady(id);
      break;
    }
    default:
      throw new Error(`unknown command ${name}`);
  }
  const logged = env.flush();
  const lines = [...(logged === "ok" ? [] : [logged]), ...extra];
  return lines.length === 0 ? "ok" : lines.join("\n");
}

for (const file of readdirSync(dir).filter((f) => f.endsWith(".txt")).sort()) {
  test(`raft scenario ${file}`, () => {
    const path = join(dir, file);
    const { blocks, trailer } = parse(readFileSync(path, "utf8"));
    const env = new RaftEnv();
    const rewritten: string[] = [];
    for (const block of blocks) {
      const actual = run(env, block.command);
      rewritten.push(...block.prefix, block.command, "----", actual, "");
      if (!isUpdating) {
        expect(`${block.command}\n${actual}`).toBe(`${block.command}\n${block.expected}`);
      }
    }
    const text = [...rewritten, ...trailer].join("\n").replace(/\n+$/, "\n");
    if (isUpdating) writeFileSync(path, text);
  });
}
