// WATCH against real nodes: libzmq subscribers (zeromq.js under Node, python3-zmq) receive every
// change of a key in order from the leader's publish socket; a client watching through a leader
// kill -9 gets every version exactly once (feed plus WATCH since); WATCH of a key never written;
// COMPACTED once the change log no longer reaches back far enough; a TTL expiry in the feed.
import { expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { WarehouseClient } from "../../../lib/client/client.ts";
import { partitionOf } from "../../../lib/placement.ts";
import type { WatchChange } from "../../../lib/protocol.ts";
import { Cluster, waitFor } from "../../harness/cluster.ts";
import { forEachLine } from "../../harness/wait.ts";
import { LibzmqPeer } from "../../interop/libzmq-peer.ts";
import { connectClient, scenarioTimeoutMs, startSyncedCluster } from "./workload.ts";

const PY_FIXTURE = new URL("../../interop/pyzmq-watch-fixture.py", import.meta.url).pathname;

interface PyLine {
  event: "ready" | "message";
  topic?: string;
  body?: string;
}

/** python3-zmq SUB on `pub`, subscribed to `topics`; its report lines, and the process. */
function startPySub(pub: string, topics: string[]): { lines: PyLine[]; proc: Subprocess } {
  const proc = Bun.spawn(["/usr/bin/python3", PY_FIXTURE, pub, ...topics], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  const lines: PyLine[] = [];
  void forEachLine(proc.stdout, (line) => lines.push(JSON.parse(line) as PyLine));
  return { lines, proc };
}

/** A key of the same partition as `key` (of `partitions`), other than it. */
function neighbourOf(key: string, partitions: number): string {
  for (;;) {
    const other = crypto.randomUUID();
    if (partitionOf(other, partitions) === partitionOf(key, partitions)) return other;
  }
}

const text = (frame: Uint8Array | undefined) => new TextDecoder().decode(frame);

test("libzmq SUBs (zeromq.js, python3-zmq) receive every change of a key, in order", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const partitions = (await client.heartbeat()).partitions;
  const key = crypto.randomUUID();
  const other = neighbourOf(key, partitions);
  const leaderPub = cluster.node(1).pub;
  const partitionTopic = `p/${partitionOf(key, partitions)}/`;

  const py = startPySub(leaderPub, [`w/${key}`]);
  const js = await LibzmqPeer.start("sub");
  try {
    await js.subscribe(partitionTopic);
    await js.subscribe("hb");
    await js.connect(leaderPub);
    // The first heartbeat proves the topics (sent before "hb") are in force at the leader.
    while (text((await js.nextMessage(5000))[0]) !== "hb");
    await waitFor(() => py.lines.some((l) => l.event === "ready"), { what: "python SUB ready" });

    const expected: WatchChange[] = [];
    await client.set(other, "not this key");
    for (let i = 0; i < 40; i++) {
      const r = await client.request({ op: "SET", key, value: `v${i}` });
      expected.push({ key, op: "SET", value: `v${i}`, version: r["version"] as number });
    }
    const deleted = await client.request({ op: "DELETE", key });
    expected.push({ key, op: "DELETE", version: deleted["version"] as number });
    // A delete of a missing key changes nothing, so nothing is published for it.
    await client.request({ op: "DELETE", key });
    await client.set(other, "the end");

    const pyChanges = () => py.lines.filter((l) => l.event === "message");
    await waitFor(() => pyChanges().length >= expected.length, { what: "41 changes at python" });
    expect(pyChanges().every((l) => l.topic === `w/${key}`)).toBe(true);
    expect(pyChanges().map((l) => JSON.parse(l.body as string))).toEqual(expected);

    // The partition topic brings the neighbour's changes too, around this key's, in order.
    const seen: WatchChange[] = [];
    while (seen.filter((c) => c.key === other).length < 2) {
      const frames = await js.nextMessage(5000);
      if (text(frames[0]) === "hb") continue;
      expect(text(frames[0])).toStartWith(partitionTopic);
      seen.push(JSON.parse(text(frames[1])) as WatchChange);
    }
    expect(seen.filter((c) => c.key === key)).toEqual(expected);
    expect(seen.map((c) => c.version)).toEqual(seen.map((c) => c.version).sort((a, b) => a - b));
    await Bun.sleep(0);
    expect(pyChanges().length).toBe(expected.length);
  } finally {
    py.proc.kill("SIGKILL");
    js.kill();
    await py.proc.exited;
  }
}, scenarioTimeoutMs);

test("a watcher through a leader kill -9 gets every version exactly once", async () => {
  await using env = await startSyncedCluster();
  const { cluster, client } = env;
  const key = crypto.randomUUID();
  const received: WatchChange[] = [];
  const stop = new AbortController();
  const watching = (async () => {
    for await (const change of client.watch(key, { since: 0, signal: stop.signal })) {
      received.push(change);
    }
  })();

  const acked: number[] = [];
  let isWriting = true;
  const writing = (async () => {
    for (let i = 0; isWriting; i++) {
      try {
        acked.push((await client.request({ op: "SET", key, value: `v${i}` }))["version"] as number);
      } catch {
        // Outcome unknown (it may have happened): the log below decides what must be seen.
      }
    }
  })();
  await waitFor(() => acked.length >= 30, { what: "30 writes before the kill" });
  await cluster.kill(1);
  const atKill = acked.length;
  await waitFor(() => acked.length >= atKill + 30, { what: "30 writes at the new leader" });
  isWriting = false;
  await writing;

  // The change log is the truth: the watcher must have exactly its versions, in order.
  const log = await client.request({ op: "WATCH", key, since: 0 });
  const truth = log["changes"] as WatchChange[];
  expect(log["more"]).toBe(false);
  const last = truth[truth.length - 1]?.version;
  await waitFor(() => received[received.length - 1]?.version === last, {
    what: `the watcher at version ${last}`,
  });
  stop.abort();
  await watching;
  expect(received).toEqual(truth);
  expect(acked.every((v) => received.some((c) => c.version === v))).toBe(true);
  expect((await client.heartbeat()).leader?.id).toBe(2);
}, scenarioTimeoutMs);

test("WATCH of a key never written: no changes, then its first change", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(1, 1);
  await using handle = await connectClient(cluster);
  const { client } = handle;
  const key = crypto.randomUUID();
  const since = await client.request({ op: "WATCH", key, since: 0 });
  expect(since).toMatchObject({ ok: true, changes: [], more: false });
  const now = await client.request({ op: "WATCH", key });
  expect(now).toMatchObject({ ok: true, changes: [], version: since["version"] as number });

  // Watching from the version WATCH gave, the first change cannot be missed, whenever the
  // feed's subscription takes effect: what it misses, WATCH since fills.
  const stop = new AbortController();
  const from = now["version"] as number;
  const iterator = client.watch(key, { since: from, signal: stop.signal });
  const first = iterator.next();
  const set = await client.request({ op: "SET", key, value: "first" });
  expect(await first).toEqual({
    done: false,
    value: { key, op: "SET", value: "first", version: set["version"] as number },
  });
  stop.abort();
  await iterator.return(undefined);
}, scenarioTimeoutMs);

test("WATCH since a version the change log no longer holds answers COMPACTED", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(1, 1);
  const client = await WarehouseClient.connect({
    endpoints: cluster.endpoints(),
    requestTimeoutMs: 5000,
    giveUpMs: 20_000,
  });
  try {
    const partitions = (await client.heartbeat()).partitions;
    const key = crypto.randomUUID();
    const first = await client.request({ op: "SET", key, value: "first" });
    const second = await client.request({ op: "SET", key, value: "second" });
    // Past the log's 10,000 changes (and its trimming slack) in this key's partition.
    const others = Array.from({ length: 64 }, () => neighbourOf(key, partitions));
    let written = 0;
    await Promise.all(others.map(async (other) => {
      while (written < 11_100) {
        written++;
        await client.request({ op: "SET", key: other, value: "x" });
      }
    }));
    const gone = await client.request({ op: "WATCH", key, since: first["version"] as number });
    expect(gone).toMatchObject({ ok: false, error: { code: "COMPACTED" } });
    const oldest = (gone["error"] as { oldest: number }).oldest;
    expect(oldest).toBeGreaterThan(second["version"] as number);
    // Since the key's last version, nothing can be missing: its row says it did not change.
    const since = second["version"] as number;
    const unchanged = await client.request({ op: "WATCH", key, since });
    expect(unchanged).toMatchObject({ ok: true, changes: [] });
    await client.set(key, "third");
    const fromOldest = await client.request({ op: "WATCH", key, since: oldest - 1 });
    expect(fromOldest["changes"]).toEqual([
      expect.objectContaining({ op: "SET", value: "third" }),
    ]);
  } finally {
    await client.close();
  }
}, 120_000);

test("a key's expiry reaches its watchers as a DELETE with a version of its own", async () => {
  await using cluster = new Cluster();
  await cluster.startMany(1, 1);
  await using handle = await connectClient(cluster);
  const { client } = handle;
  const key = crypto.randomUUID();
  const stop = new AbortController();
  const start = (await client.request({ op: "WATCH", key }))["version"] as number;
  const iterator = client.watch(key, { since: start, signal: stop.signal });
  try {
    const set = await client.request({ op: "SET", key, value: "lease", ttlMs: 300 });
    const version = set["version"] as number;
    expect(await iterator.next()).toEqual({
      done: false,
      value: { key, op: "SET", value: "lease", version },
    });
    const expired = await iterator.next();
    expect(expired.done).toBe(false);
    expect(expired.value).toMatchObject({ key, op: "DELETE" });
    expect((expired.value as WatchChange).version).toBeGreaterThan(version);
    expect(await client.request({ op: "GET", key })).toMatchObject({ ok: true, found: false });
  } finally {
    stop.abort();
    await iterator.return(undefined);
  }
}, scenarioTimeoutMs);
