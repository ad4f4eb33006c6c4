// Every acknowledgement rests on disk: with strace on all three nodes while clients write, and
// through a leader's SIGKILL and the election after it, no node sends anything over TCP (a
// client's answer, a replica's ack, a vote, a heartbeat) while a write to its WAL is not yet
// synced. A process kill cannot show this (the OS keeps written pages); a power loss right after
// such a send would lose what it announced.

import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { WarehouseClient } from "../../../lib/client/client.ts";
import { Cluster, waitForSynced } from "../../harness/cluster.ts";
import { checkDurableSends } from "../../harness/durable-sends.ts";
import { traceSyscalls, type SyscallTrace } from "../../harness/syscall-trace.ts";

const traces: SyscallTrace[] = [];
afterEach(() => {
  for (const trace of traces.splice(0)) trace.stop();
});

/** `writers` clients at once, each `ops` changes of keys of its own: SET, SET again, DELETE. */
async function write(client: WarehouseClient, writers: number, ops: number): Promise<number> {
  let acknowledged = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = 0; i < ops; i += 3) {
        const key = crypto.randomUUID();
        expect((await client.set(key, `a${i}`)).status).toBe("created");
        expect((await client.set(key, `b${i}`)).status).toBe("updated");
        expect((await client.delete(key)).status).toBe("deleted");
        acknowledged += 3;
      }
    }),
  );
  return acknowledged;
}

test("no node sends while its WAL holds writes not yet synced, through a leader's kill", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(3, 2);
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(), requestTimeoutMs: 2000, giveUpMs: 30_000,
  });
  try {
    await waitForSynced((b) => client.request(b), { members: 3, rf: 2, leaderId: 1 });
    const traced = new Map<number, SyscallTrace>();
    for (const id of [1, 2, 3]) {
      const trace = await traceSyscalls(
        cluster.node(id).process.pid, join(cluster.root, `strace-${id}.txt`));
      traces.push(trace);
      traced.set(id, trace);
    }
    let acknowledged = await write(client, 8, 15);
    await cluster.kill(1);
    // Nodes 2 and 3 elect a leader (votes are sends too) and serve the writes that follow.
    acknowledged += await write(client, 8, 15);
    expect(acknowledged).toBe(2 * 8 * 15);
    for (const id of [2, 3]) await cluster.kill(id);
    for (const id of [1, 2, 3]) {
      const trace = traced.get(id) as SyscallTrace;
      await trace.ended;
      const report = checkDurableSends(trace.text());
      // Each node wrote, synced and sent while traced: the check below is not vacuous.
      expect({ id, wrote: report.walWrites > 0, synced: report.walSyncs > 0, sent: report.sends > 0 })
        .toEqual({ id, wrote: true, synced: true, sent: true });
      expect({ id, violations: report.violations.slice(0, 3) }).toEqual({ id, violations: [] });
    }
  } finally {
    await client.close();
  }
}, 120_000);
