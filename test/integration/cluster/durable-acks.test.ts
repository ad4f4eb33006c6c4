// Every acknowledgement rests on disk. With strace on all three nodes while clients write,
// through a leader's SIGKILL and the election after it, and through its restart, its catch-up
// and its taking the lead back:
// - no node sends anything over TCP (a client's answer, a replica's ack, a vote, a heartbeat)
//   while a write to its WAL is not yet synced;
// - every acknowledged SET's value was in the WAL and synced on as many nodes as the answer
//   names as replicas before the answer reached the client.
// A process kill cannot show either (the OS keeps written pages); a power loss right after a
// send that broke them would lose what it announced.

import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { WarehouseClient } from "../../../lib/client/client.ts";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";
import { checkDurableSends, walSyncTimes } from "../../harness/durable-sends.ts";
import { traceSyscalls, type SyscallTrace } from "../../harness/syscall-trace.ts";

const traces: SyscallTrace[] = [];
afterEach(() => {
  for (const trace of traces.splice(0)) trace.stop();
});

interface Acknowledged {
  readonly value: string;
  readonly replicas: number;
  /** Wall clock seconds at which the answer was read, as strace -ttt counts them. */
  readonly at: number;
}

const VALUE = /durable-[0-9a-f-]{36}/g;

/** Seconds since the epoch, to the microsecond, on the clock strace stamps calls with. */
function wallSeconds(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

/** `writers` clients at once, each on keys of its own: SET, SET again, DELETE, `rounds` times. */
async function write(client: WarehouseClient, writers: number, rounds: number): Promise<Acknowledged[]> {
  const acknowledged: Acknowledged[] = [];
  const set = async (key: string, status: "created" | "updated") => {
    const value = `durable-${crypto.randomUUID()}`;
    const reply = await client.set(key, value);
    acknowledged.push({ value, replicas: reply.replicas, at: wallSeconds() });
    expect(reply.status).toBe(status);
  };
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < rounds; i++) {
        const key = crypto.randomUUID();
        await set(key, "created");
        await set(key, "updated");
        expect((await client.delete(key)).status).toBe("deleted");
      }
    }),
  );
  return acknowledged;
}

test("acknowledged writes were synced first, and no node sends with its WAL unsynced, through a kill and a catch-up", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(), requestTimeoutMs: 2000, giveUpMs: 30_000,
  });
  try {
    await waitForSynced((b) => client.request(b), { members: 3, rf: 2, leaderId: 1 });
    /** Each traced process: a node id can have two, before its kill and after its restart. */
    const traced: { id: number; trace: SyscallTrace }[] = [];
    const trace = async (id: number) => {
      const file = join(cluster.root, `strace-${id}-${traced.length}.txt`);
      const handle = await traceSyscalls(cluster.node(id).process.pid, file);
      traces.push(handle);
      traced.push({ id, trace: handle });
    };
    for (const id of [1, 2, 3]) await trace(id);
    const acknowledged = await write(client, 8, 5);
    const killed = await cluster.kill(1);
    // Nodes 2 and 3 elect a leader (votes are sends too) and serve the writes that follow.
    acknowledged.push(...await write(client, 8, 5));
    // Node 1 comes back on its data, catches up while writes go on, and leads again.
    await cluster.restart(1, killed);
    await trace(1);
    acknowledged.push(...await write(client, 8, 5));
    await waitForSynced((b) => client.request(b), { members: 3, rf: 2, leaderId: 1 });
    acknowledged.push(...await write(client, 8, 5));
    expect(acknowledged.length).toBe(4 * 8 * 5 * 2);
    for (const id of [1, 2, 3]) await cluster.kill(id);

    const syncedAt: { id: number; times: Map<string, number> }[] = [];
    for (const { id, trace } of traced) {
      await trace.ended;
      const text = trace.text();
      const report = checkDurableSends(text);
      // Each process wrote, synced and sent while traced: the checks are not vacuous.
      expect({ id, wrote: report.walWrites > 0, synced: report.walSyncs > 0, sent: report.sends > 0 })
        .toEqual({ id, wrote: true, synced: true, sent: true });
      expect({ id, violations: report.violations.slice(0, 3) }).toEqual({ id, violations: [] });
      syncedAt.push({ id, times: walSyncTimes(text, VALUE) });
    }
    const early = acknowledged.flatMap(({ value, replicas, at }) => {
      const onDisk = new Set(
        syncedAt.filter(({ times }) => (times.get(value) ?? Infinity) < at).map(({ id }) => id),
      );
      return onDisk.size >= replicas ? [] : [{ value, replicas, syncedBeforeAnswer: [...onDisk] }];
    });
    expect(early.slice(0, 3)).toEqual([]);
    // Both replicas answered for the writes before the kill, and again once node 1 was back.
    expect(acknowledged.slice(0, 8).every((a) => a.replicas === 2)).toBe(true);
    expect(acknowledged.slice(-8).every((a) => a.replicas === 2)).toBe(true);
  } finally {
    await client.close();
  }
}, 120_000);
