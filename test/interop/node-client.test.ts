// Interop of real libzmq clients (warehouse-client-fixture.mjs under Node) with a real 3-node
// cluster (RF 2), written from protocol.md alone: DEALER and REQ requests with every op, the
// error codes a client can provoke, and heartbeats on a SUB. The fixture only reports frames;
// every expectation about the protocol lives here.
import { expect, test } from "bun:test";
import { WarehouseClient } from "../../lib/client/client.ts";
import { Cluster, waitForSynced } from "../harness/cluster.ts";
import { runToEnd } from "../harness/run.ts";

const FIXTURE = new URL("./warehouse-client-fixture.mjs", import.meta.url).pathname;
/** Bounds one fixture run: it gives up on a missing reply after 5 s itself. */
const FIXTURE_DEADLINE_MS = 15_000;

type Json = Record<string, unknown>;
interface FixtureRun {
  lines: Promise<Json[]>;
}

/** Runs the fixture to completion; runToEnd kills it at the deadline or when it is done. */
function startFixture(mode: string, endpoint: string, arg: string): FixtureRun {
  const lines = runToEnd(["node", FIXTURE, mode, endpoint, arg], { deadlineMs: FIXTURE_DEADLINE_MS })
    .then(({ code, stdout, stderr }) => {
      const parsed = stdout.split("\n").filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Json);
      if (code !== 0 || parsed.at(-1)?.["done"] !== true) {
        throw new Error(`fixture ${mode} failed (exit ${code}): ${stdout}${stderr}`);
      }
      return parsed.slice(0, -1);
    });
  return { lines };
}

/** The frames of each reply, as text, in request order. */
async function framesOf(run: FixtureRun): Promise<string[][]> {
  return (await run.lines).map((line) => line["frames"] as string[]);
}

/** Each reply frame parsed (the last frame: the body after any envelope). */
async function repliesOf(run: FixtureRun): Promise<Json[]> {
  return (await framesOf(run)).map((frames) => JSON.parse(frames.at(-1) ?? "null") as Json);
}

const requestsText = (requests: (Json | string)[]): string =>
  JSON.stringify(requests.map((r) => (typeof r === "string" ? r : JSON.stringify(r))));

const SPACED_VALUE = 'v2 with spaces {"json": true}';

/** SET, GET, update, DELETE and HEARTBEAT on `key`, with string and numeric ids. */
function crudRequests(key: string): Json[] {
  return [
    { id: "s1", op: "SET", key, value: "v1" },
    { id: 2, op: "GET", key },
    { id: "s3", op: "SET", key, value: SPACED_VALUE },
    { id: 4, op: "GET", key },
    { id: 5, op: "DELETE", key },
    { id: 6, op: "GET", key },
    { id: 7, op: "DELETE", key },
    { id: 8, op: "HEARTBEAT" },
  ];
}

function expectCrudReplies(replies: Json[], leader: { id: number; endpoint: string }): void {
  expect(replies).toHaveLength(8);
  // Every change gives the key a new, higher version; a read reports the version it saw.
  const versions = replies.slice(0, 7).map((r) => (r as Json)["version"]);
  const [v1, , v2, , v3, , v4] = versions as number[];
  expect(versions[1]).toBe(v1);
  expect(versions[3]).toBe(v2);
  expect((v1 as number) < (v2 as number) && (v2 as number) < (v3 as number)).toBe(true);
  expect((v3 as number) < (v4 as number)).toBe(true);
  expect(replies[0]).toEqual({ id: "s1", ok: true, status: "created", replicas: 2, version: v1 });
  expect(replies[1]).toEqual({ id: 2, ok: true, found: true, value: "v1", version: v1 });
  expect(replies[2]).toEqual({ id: "s3", ok: true, status: "updated", replicas: 2, version: v2 });
  expect(replies[3]).toEqual({ id: 4, ok: true, found: true, value: SPACED_VALUE, version: v2 });
  expect(replies[4]).toEqual({ id: 5, ok: true, status: "deleted", replicas: 2, version: v3 });
  expect(replies[5]).toEqual({ id: 6, ok: true, found: false });
  expect(replies[6]).toEqual({ id: 7, ok: true, status: "not_found", replicas: 2, version: v4 });
  const hb = replies[7] as Json;
  expect(hb["id"]).toBe(8);
  expect(hb["ok"]).toBe(true);
  expect(hb["node"]).toEqual({
    id: leader.id, endpoint: leader.endpoint, pub: expect.any(String), peer: expect.any(String),
  });
  expect(hb["leader"]).toEqual(leader);
  expect(hb["rf"]).toBe(2);
  expectMembers(hb["members"]);
}

function expectMembers(members: unknown): void {
  expect(Array.isArray(members)).toBe(true);
  const list = members as Json[];
  expect(list.map((m) => m["id"]).sort()).toEqual([1, 2, 3]);
  for (const m of list) {
    expect(m["endpoint"]).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(m["pub"]).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(m["alive"]).toBe(true);
  }
}

test("libzmq DEALER, REQ and SUB against a 3-node cluster follow protocol.md", async () => {
  await using cluster = new Cluster();
  const runs: FixtureRun[] = [];
  try {
    // Generous failure detection: this test is about the wire format, and a replica suspected
    // under a loaded machine would make a write report 1 replica instead of 2.
    await cluster.startMany(3, 2, ["--suspect-ms", "3000", "--request-timeout-ms", "3000"]);
    const client = await WarehouseClient.connect({
      endpoints: cluster.endpoints(), requestTimeoutMs: 1000, giveUpMs: 5000,
    });
    try {
      await waitForSynced((b) => client.request(b), { members: 3, rf: 2, leaderId: 1 });
    } finally {
      await client.close();
    }
    const leader = { id: 1, endpoint: cluster.node(1).endpoint };
    const follower = cluster.node(2);
    const upperKey = crypto.randomUUID().toUpperCase();

    const dealer = startFixture("dealer", leader.endpoint, requestsText([
      ...crudRequests(crypto.randomUUID()),
      { id: "u1", op: "SET", key: upperKey, value: "upper" },
      { id: "u2", op: "GET", key: upperKey.toLowerCase() },
      { id: "bad-key", op: "GET", key: "not-a-uuid" },
      { id: "nil", op: "SET", key: "00000000-0000-0000-0000-000000000000", value: "x" },
      "{this is not json",
      { id: "op", op: "FROB" },
    ]));
    const reqRequests = requestsText(crudRequests(crypto.randomUUID()));
    const req = startFixture("req", leader.endpoint, reqRequests);
    const envelope = startFixture("envelope", leader.endpoint, requestsText([
      { id: "e1", op: "SET", key: crypto.randomUUID(), value: "enveloped" },
      { id: "e2", op: "HEARTBEAT" },
    ]));
    const onFollower = startFixture("dealer", follower.endpoint, requestsText([
      { id: "f1", op: "SET", key: crypto.randomUUID(), value: "x" },
      { id: "f2", op: "GET", key: crypto.randomUUID() },
      { id: "f3", op: "DELETE", key: crypto.randomUUID() },
      { id: "f4", op: "HEARTBEAT" },
    ]));
    const subLeader = startFixture("sub", cluster.node(1).pub, "3");
    const subFollower = startFixture("sub", follower.pub, "3");
    runs.push(dealer, req, envelope, onFollower, subLeader, subFollower);

    // DEALER: every op, string and numeric ids echoed, then the errors a client can provoke.
    const dealerReplies = await repliesOf(dealer);
    expect(dealerReplies).toHaveLength(14);
    expectCrudReplies(dealerReplies.slice(0, 8), leader);
    const upperVersion = (dealerReplies[8] as Json)["version"];
    expect(dealerReplies[8]).toEqual({
      id: "u1", ok: true, status: "created", replicas: 2, version: expect.any(Number),
    });
    expect(dealerReplies[9]).toEqual({
      id: "u2", ok: true, found: true, value: "upper", version: upperVersion,
    });
    for (const [index, id] of [[10, "bad-key"], [11, "nil"]] as const) {
      expect(dealerReplies[index]).toEqual({
        id, ok: false, error: { code: "INVALID_KEY", message: expect.any(String) },
      });
    }
    expect(dealerReplies[12]).toEqual({
      id: null, ok: false, error: { code: "BAD_REQUEST", message: expect.any(String) },
    });
    expect(dealerReplies[13]).toEqual({
      id: "op", ok: false, error: { code: "BAD_REQUEST", message: expect.any(String) },
    });

    // REQ: libzmq only delivers a reply that carries its empty delimiter, so replies at all
    // show the envelope came back; the DEALER below sees it directly.
    expectCrudReplies(await repliesOf(req), leader);
    const envelopeFrames = await framesOf(envelope);
    expect(envelopeFrames).toHaveLength(2);
    for (const frames of envelopeFrames) {
      expect(frames).toHaveLength(2);
      expect(frames[0]).toBe("");
    }
    const [setEnveloped, hbEnveloped] = envelopeFrames.map((f) => JSON.parse(f[1] ?? "") as Json);
    expect(setEnveloped).toEqual({
      id: "e1", ok: true, status: "created", replicas: 2, version: expect.any(Number),
    });
    expect(hbEnveloped?.["id"]).toBe("e2");
    expect(hbEnveloped?.["ok"]).toBe(true);

    // A follower names the leader; it still answers HEARTBEAT itself.
    const followerReplies = await repliesOf(onFollower);
    expect(followerReplies).toHaveLength(4);
    for (const [index, id] of [[0, "f1"], [1, "f2"], [2, "f3"]] as const) {
      expect(followerReplies[index]).toEqual({
        id, ok: false, error: { code: "NOT_LEADER", message: expect.any(String), leader },
      });
    }
    const followerHb = followerReplies[3] as Json;
    expect(followerHb["ok"]).toBe(true);
    expect(followerHb["node"]).toEqual({
      id: 2, endpoint: follower.endpoint, pub: follower.pub, peer: expect.stringMatching(/^tcp:/),
    });
    expect(followerHb["leader"]).toEqual(leader);
    expect(followerHb["rf"]).toBe(2);
    expectMembers(followerHb["members"]);

    // SUB on "hb": two frames, the topic and the heartbeat object.
    const subscribers = [
      [subLeader, cluster.node(1), "leader"], [subFollower, follower, "follower"],
    ] as const;
    for (const [run, node, role] of subscribers) {
      const messages = await framesOf(run);
      expect(messages).toHaveLength(3);
      for (const frames of messages) {
        expect(frames).toHaveLength(2);
        expect(frames[0]).toBe("hb");
        const hb = JSON.parse(frames[1] ?? "null") as Json;
        expect(hb["node"]).toEqual({
          id: node.id, endpoint: node.endpoint, pub: node.pub, peer: expect.stringMatching(/^tcp:/),
        });
        expect(hb["role"]).toBe(role);
        expect(typeof hb["term"]).toBe("number");
        expect(hb["leader"]).toEqual(leader);
        expect(hb["rf"]).toBe(2);
        expect(hb["partitions"]).toBe(64);
        expectMembers(hb["members"]);
      }
    }
  } finally {
    // Every fixture is killed by runToEnd when it ends or misses its deadline.
    await Promise.allSettled(runs.map((run) => run.lines));
  }
}, 30_000);
