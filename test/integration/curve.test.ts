// A CURVE cluster end to end: keys made by the real keygen commands, two nodes started with the
// cluster key and a client allow-list (the second joins over CURVE), then libzmq clients
// (zeromq.js) with the right keys get answers, while a NULL client and an unlisted key get
// nothing; SIGHUP admits a newly listed key; client.ts works with --server-key and
// --curve-key-file and cannot reach the cluster without them; a client key cannot make requests
// meant for members.
import { expect, test } from "bun:test";
import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WarehouseClient } from "../../lib/client/client.ts";
import { parseZ85Key, readSecretKeyFile } from "../../lib/curve-keys.ts";
import { loadCurveCrypto } from "../../lib/zmtp/index.ts";
import { Cluster, bunPath, repoRoot, waitFor, waitForSynced } from "../harness/cluster.ts";
import { runToEnd } from "../harness/run.ts";
import { LibzmqPeer } from "../interop/libzmq-peer.ts";

const crypto = await loadCurveCrypto();

async function keygen(program: string, base: string): Promise<void> {
  const result = await runToEnd([bunPath, join(repoRoot, program), "keygen", "--out", base]);
  expect(result.code).toBe(0);
  expect(result.stdout).toContain(`wrote the secret key to ${base}.key`);
}

const textOf = (path: string): string => readFileSync(path, "utf8").trim();

/** zeromq.js options of a CURVE client holding the pair at `base` (.key/.pub). */
function libzmqClientOf(base: string, clusterPub: string): Record<string, unknown> {
  return {
    curveServerKey: textOf(clusterPub),
    curvePublicKey: textOf(`${base}.pub`),
    curveSecretKey: textOf(`${base}.key`),
    events: true,
  };
}

async function heartbeatVia(peer: LibzmqPeer, id: string): Promise<Record<string, unknown>> {
  await peer.send([JSON.stringify({ id, op: "HEARTBEAT" })]);
  const frames = await peer.nextMessage(10_000);
  return JSON.parse(new TextDecoder().decode(frames.at(-1))) as Record<string, unknown>;
}

test("a CURVE cluster answers listed keys only, reloads the list on SIGHUP", async () => {
  await using cluster = new Cluster();
  const peers: LibzmqPeer[] = [];
  try {
    const dir = cluster.root;
    const clusterBase = join(dir, "cluster");
    await keygen("node.ts", clusterBase);
    for (const name of ["alice", "bob"]) await keygen("client.ts", join(dir, name));
    for (const suffix of [".key", ".pub"]) {
      expect(statSync(`${clusterBase}${suffix}`).mode & 0o777).toBe(0o600);
    }
    const pair = await readSecretKeyFile(`${clusterBase}.key`, crypto, "--curve-secret-key-file");
    expect(parseZ85Key(textOf(`${clusterBase}.pub`))).toEqual(pair.publicKey);

    const allowList = join(dir, "clients.txt");
    writeFileSync(allowList, `# listed clients\n${textOf(join(dir, "alice.pub"))}\n`);
    const curveArgs = [
      "--curve-secret-key-file", `${clusterBase}.key`, "--client-keys", allowList,
      "--suspect-ms", "3000",
    ];
    // Node 2 joins through node 1: the join and the peer links only work over CURVE.
    await cluster.startMany(2, 2, curveArgs);
    const client = await WarehouseClient.connect({
      endpoints: cluster.endpoints(),
      requestTimeoutMs: 1000,
      giveUpMs: 5000,
      curve: {
        crypto,
        ...(await readSecretKeyFile(join(dir, "alice.key"), crypto, "--curve-key-file")),
        serverKey: pair.publicKey,
      },
    });
    try {
      await waitForSynced((b) => client.request(b), { members: 2, rf: 2, leaderId: 1 });
    } finally {
      await client.close();
    }
    const endpoint = cluster.node(1).endpoint;
    const clusterPub = `${clusterBase}.pub`;

    const alice = await LibzmqPeer.start("dealer", libzmqClientOf(join(dir, "alice"), clusterPub));
    peers.push(alice);
    await alice.connect(endpoint);
    const reply = await heartbeatVia(alice, "a1");
    expect(reply["ok"]).toBe(true);
    expect((reply["members"] as unknown[]).length).toBe(2);

    const plain = await LibzmqPeer.start("dealer", { events: true });
    peers.push(plain);
    // No send: once refused, libzmq drops the connection for good and a send would wait.
    await plain.connect(endpoint);
    await waitFor(() => plain.socketEvents.includes("handshake:error:protocol"), {
      what: "the NULL client to be refused",
    });

    const bob = await LibzmqPeer.start("dealer", libzmqClientOf(join(dir, "bob"), clusterPub));
    peers.push(bob);
    await bob.connect(endpoint);
    await waitFor(() => bob.socketEvents.includes("handshake:error:auth"), {
      what: "the unlisted key to be refused",
    });
    expect(plain.queuedMessages).toBe(0);
    expect(bob.queuedMessages).toBe(0);

    // Listing bob and sending SIGHUP admits him on his next connection (libzmq gave up after
    // the ERROR, so a new libzmq socket connects).
    appendFileSync(allowList, `${textOf(join(dir, "bob.pub"))}\n`);
    const node1 = cluster.node(1);
    node1.process.kill("SIGHUP");
    await waitFor(() => node1.stderr().includes('"event":"client_keys_reloaded","count":2'), {
      what: "node 1 to reload the client keys",
    });
    const bobAgain = await LibzmqPeer.start("dealer", libzmqClientOf(join(dir, "bob"), clusterPub));
    peers.push(bobAgain);
    await bobAgain.connect(endpoint);
    expect((await heartbeatVia(bobAgain, "b2"))["ok"]).toBe(true);

    const key = "0b5c3a4e-7f1d-4c2b-9e8a-1d2c3b4a5f6e";
    const withKeys = await runToEnd([
      bunPath, join(repoRoot, "client.ts"), "--connect", endpoint, "--server-key", clusterPub,
      "--curve-key-file", join(dir, "alice.key"), "--exec", `SET ${key} hello; GET ${key}`,
    ]);
    expect(withKeys.stdout).toBe("Created (2 replicas)\nhello\n");
    expect(withKeys.code).toBe(0);
    // A client cannot make requests meant for members: those travel on the peer port only
    // (which admits the cluster key only); on the client port they are unknown ops.
    await alice.send([JSON.stringify({ id: "r1", op: "PEER_READ", key })]);
    const peerReply = JSON.parse(new TextDecoder().decode((await alice.nextMessage()).at(-1)));
    expect(peerReply).toMatchObject({ id: "r1", ok: false, error: { code: "BAD_REQUEST" } });
    expect(peerReply.error.message).toContain("unknown op");
    const withoutKeys = await runToEnd([
      bunPath, join(repoRoot, "client.ts"), "--connect", endpoint, "--give-up-ms", "1500",
      "--exec", `GET ${key}`,
    ]);
    expect(withoutKeys.code).toBe(2);
    expect(withoutKeys.stdout).toBe("");
    // The cluster's public key but a fresh, unlisted client key: refused, and told why.
    const unlisted = await runToEnd([
      bunPath, join(repoRoot, "client.ts"), "--connect", endpoint, "--server-key", clusterPub,
      "--give-up-ms", "1500", "--exec", `GET ${key}`,
    ]);
    expect(unlisted.code).toBe(2);
    expect(unlisted.stderr).toContain("(peer refused the CURVE handshake: 400)");
  } finally {
    await Promise.all(peers.map((p) => p[Symbol.asyncDispose]()));
  }
});
