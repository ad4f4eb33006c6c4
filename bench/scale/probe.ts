// What the scale benchmark reads from the running cluster and the machine: resident memory of a
// node process, bytes of its data directory, and whether every partition is fully in sync.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { WarehouseClient } from "../../lib/client/client.ts";
import { placeReplicas, placementRuleOf } from "../../lib/placement.ts";

/** Resident set size of a process in bytes (Linux /proc), or NaN once it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match === null ? NaN : Number(match[1]) * 1024;
  } catch {
    return NaN;
  }
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times, is 100 on every common platform. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user and system) a process has used, in ms, or NaN once it is gone. It moves
 * much less than elapsed time when other processes compete for the cores. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is the first; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Bytes of every file under `dir` by size, and the part in sqlite's write-ahead log. */
export function diskBytes(dir: string): { total: number; wal: number } {
  let total = 0;
  let wal = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = diskBytes(path);
      total += inner.total;
      wal += inner.wal;
    } else if (entry.isFile()) {
      const size = statSync(path).size;
      total += size;
      if (entry.name.endsWith("-wal")) wal += size;
    }
  }
  return { total, wal };
}

/**
 * Whether the raw HEARTBEAT reply comes from a leader with `members` live members whose every
 * partition's in-sync set is exactly the replicas placement names, less the nodes in `absent`:
 * the node the benchmark restarted is in every set it belongs to, and no copy is still being
 * handed over.
 */
export function isFullyInSync(
  reply: Record<string, unknown>,
  members: number,
  rf: number,
  absent: readonly number[] = [],
): boolean {
  if (reply["role"] !== "leader") return false;
  const list = reply["members"] as { id: number; alive: boolean }[] | undefined;
  const insync = reply["insync"] as number[][] | undefined;
  if (list === undefined || insync === undefined) return false;
  if (list.filter((m) => m.alive).length !== members) return false;
  const ids = list.map((m) => m.id);
  const rule = placementRuleOf(reply["placement"]);
  if (rule === null) return false;
  return insync.every((held, p) => [...held].sort().join() === placeReplicas(rule, p,
    insync.length, ids, rf).filter((id) => !absent.includes(id)).sort().join());
}

/** How many partitions list `id` in their in-sync set, in a raw HEARTBEAT reply. */
export function partitionsHolding(reply: Record<string, unknown>, id: number): number {
  const insync = reply["insync"] as number[][] | undefined;
  return insync === undefined ? 0 : insync.filter((held) => held.includes(id)).length;
}

/** How many partitions placement gives `id`, from a raw HEARTBEAT reply's members. */
export function partitionsPlacedOn(reply: Record<string, unknown>, id: number, rf: number): number {
  const insync = reply["insync"] as number[][] | undefined;
  const list = reply["members"] as { id: number }[] | undefined;
  if (insync === undefined || list === undefined) return 0;
  const ids = list.map((m) => m.id);
  const rule = placementRuleOf(reply["placement"]);
  if (rule === null) return 0;
  return insync.filter((_, p) => placeReplicas(rule, p, insync.length, ids, rf).includes(id))
    .length;
}

/** Polls the leader's heartbeat every `intervalMs` until the cluster is fully in sync; ms taken
 * from `since` (a performance.now() reading), or throws at `timeoutMs`. `onPoll` sees every
 * reply from a leader with the ms since `since`. */
export async function timeToInSync(
  client: WarehouseClient,
  members: number,
  rf: number,
  since: number,
  timeoutMs: number,
  onPoll: (reply: Record<string, unknown>, ms: number) => void = () => undefined,
  intervalMs = 20,
): Promise<number> {
  const deadline = since + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const reply = await client.request({ op: "HEARTBEAT" },
        { signal: AbortSignal.timeout(1000) });
      if (reply["role"] === "leader") onPoll(reply, performance.now() - since);
      if (isFullyInSync(reply, members, rf)) return performance.now() - since;
    } catch {
      // a node busy catching up may miss a heartbeat request; the next poll asks again
    }
    await Bun.sleep(intervalMs);
  }
  throw new Error(`not fully in sync ${Math.round(timeoutMs / 1000)} s after the restart`);
}
