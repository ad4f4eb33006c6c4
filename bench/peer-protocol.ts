// Peer protocol benchmark (a script, not a test): `bun bench/peer-protocol.ts [seconds per run]`.
// Prints one JSON line per message shape on stdout: how many frames per second
// parsePeerMessage validates, and how many encodePeerMessage writes, for
//   1. a small Raft message (the envelope's cost alone; the Raft decoder here only checks ids),
//   2. a replicate of 100 changes with 100-byte values (a write batch),
//   3. a rows-page of 1000 rows with 100-byte values (a catch-up or scan page).
import "./help.ts";

import type { DataReply, DataRequest } from "../lib/cluster/data-messages.ts";
import {
  encodePeerMessage,
  parsePeerMessage,
  peerLimitDefaults,
  type PeerLimits,
  type PeerMessage,
  type RaftAddressed,
} from "../lib/cluster/peer-protocol.ts";

const secondsPerRun = Number(process.argv[2] ?? "2");
const partitions = 64;
const partition = 5;

interface BenchRaft extends RaftAddressed {
  readonly term: number;
}

const limits: PeerLimits<BenchRaft> = {
  ...peerLimitDefaults,
  partitions,
  valueBytesMax: 1_048_576,
  decodeRaft: (raw) => {
    const { from, to, term } = raw as { from: unknown; to: unknown; term: unknown };
    if (typeof from !== "number" || typeof to !== "number" || typeof term !== "number") {
      return { ok: false, error: "bad raft message" };
    }
    return { ok: true, message: { from, to, term } };
  },
};

/** The n-th key of `partition`: its first 8 hex digits are n * partitions + partition. */
function keyOf(n: number): string {
  const head = (n * partitions + partition).toString(16).padStart(8, "0");
  return `${head}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

const value = "v".repeat(100);

function replicate(): DataRequest {
  const changes = Array.from({ length: 100 }, (_, i) => ({
    seq: 1001 + i,
    epoch: 3,
    key: keyOf(i),
    value,
    writer: `client-1:${i}`,
  }));
  return { type: "replicate", rid: 1, partition, epoch: 3, prev: { epoch: 3, seq: 1000 }, changes };
}

function rowsPage(): DataReply {
  const rows = Array.from({ length: 1000 }, (_, i) => ({
    key: keyOf(i),
    partition,
    seq: i + 1,
    epoch: 2,
    value,
    writer: null,
  }));
  return { type: "rows-page", rid: 2, rows };
}

const shapes: [string, PeerMessage<BenchRaft>][] = [
  ["raft", { from: 1, to: 2, kind: "raft", body: { from: 1, to: 2, term: 7 } }],
  ["replicate-100x100B", { from: 1, to: 2, kind: "data-request", body: replicate() }],
  ["rows-page-1000x100B", { from: 2, to: 1, kind: "data-reply", body: rowsPage() }],
];

function rate(run: () => void): number {
  const started = performance.now();
  const deadline = started + secondsPerRun * 1000;
  let count = 0;
  while (performance.now() < deadline) {
    run();
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}

for (const [name, message] of shapes) {
  const frame = encodePeerMessage(message);
  const check = parsePeerMessage(frame, limits);
  if (!check.ok) throw new Error(`${name} does not parse: ${check.error}`);
  const parsesPerSecond = rate(() => parsePeerMessage(frame, limits));
  const encodesPerSecond = rate(() => encodePeerMessage(message));
  process.stdout.write(
    JSON.stringify({
      bench: "peer-protocol",
      message: name,
      frameBytes: frame.length,
      parsesPerSecond: Math.round(parsesPerSecond),
      parseMiBPerSecond: Number(((parsesPerSecond * frame.length) / 2 ** 20).toFixed(1)),
      encodesPerSecond: Math.round(encodesPerSecond),
    }) + "\n",
  );
}
