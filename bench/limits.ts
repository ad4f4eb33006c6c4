// Memory under hostile load (a script, not a test): `npm run bench:limits [seconds per case]`.
// Starts one node (RF 1, default limits) and, per case, samples its RSS from /proc every 100 ms
// while hostile clients that never read run against it, and a well-behaved client GETs a small
// key in a loop (its slowest answer is printed). Cases:
//   get-flood   HOGS clients send GETs of a 1 MiB value of control characters (a 6 MiB reply)
//   ping-flood  one client sends PINGs as fast as it can, reconnecting whenever it is closed
//   sub-flood   one subscriber sends 200,000 distinct 200-byte SUBSCRIBEs
// Prints its settings, then one JSON line per case; rerun on a quiet machine for figures.
import "./help.ts";
import { WarehouseClient } from "../lib/client/client.ts";
import { Cluster } from "../test/harness/cluster.ts";
import { gets, MiB, RawPeer, RssSampler, rssBytes } from "../test/harness/hostile.ts";

const secondsPerCase = Number(process.argv[2] ?? "10");
const HOGS = Number(process.env["BENCH_HOGS"] ?? "2");


function mib(bytes: number): number {
  return Math.round(bytes / MiB);
}

/** Runs `hostile` for the case's time while a reading client GETs `key`; prints the figures. */
async function runCase(
  name: string,
  pid: number,
  client: WarehouseClient,
  key: string,
  hostile: () => void,
): Promise<void> {
  const before = rssBytes(pid);
  const sampler = new RssSampler(pid);
  const until = Date.now() + secondsPerCase * 1000;
  let slowestMs = 0;
  let gets = 0;
  while (Date.now() < until) {
    hostile();
    const started = performance.now();
    await client.get(key);
    slowestMs = Math.max(slowestMs, performance.now() - started);
    gets++;
  }
  const peak = sampler.stop();
  const after = rssBytes(pid);
  console.log(JSON.stringify({
    case: name, rssBeforeMiB: mib(before), rssPeakMiB: mib(peak), rssAfterMiB: mib(after),
    readerGets: gets, readerSlowestMs: Math.round(slowestMs),
  }));
}

await using cluster = new Cluster();
const node = await cluster.start({ id: 1, rf: 1, httpPort: "off" });
const client = await WarehouseClient.connect({
  endpoints: [node.endpoint], requestTimeoutMs: 5000, giveUpMs: 5000,
});
const pid = node.process.pid;
console.log(JSON.stringify({ settings: { secondsPerCase, hogs: HOGS, limits: "defaults" } }));
const bigKey = crypto.randomUUID();
const smallKey = crypto.randomUUID();
await client.set(bigKey, "\u0001".repeat(MiB));
await client.set(smallKey, "small");
const peers: RawPeer[] = [];

const hogs = await Promise.all(Array.from({ length: HOGS }, () => RawPeer.connect(node.port)));
peers.push(...hogs);
let id = 0;
await runCase("get-flood", pid, client, smallKey, () => {
  for (const hog of hogs) if (hog.unsentBytes < MiB) hog.send(gets(bigKey, 500, (id += 500)));
});

// The node closes a peer that pings faster than 100 a second: the flooder reconnects each time.
let pinger = await RawPeer.connect(node.port);
peers.push(pinger);
let pingerConnects = 1;
let isReconnecting = false;
const ping = Uint8Array.of(0x04, 0x07, 0x04, 0x50, 0x49, 0x4e, 0x47, 0, 0);
const batch = new Uint8Array(ping.length * 100_000);
for (let at = 0; at < batch.length; at += ping.length) batch.set(ping, at);
await runCase("ping-flood", pid, client, smallKey, () => {
  if (pinger.isClosed && !isReconnecting) {
    isReconnecting = true;
    void RawPeer.connect(node.port).then((next) => {
      pinger = next;
      peers.push(next);
      pingerConnects++;
      isReconnecting = false;
    }, () => (isReconnecting = false));
  }
  if (!pinger.isClosed && pinger.unsentBytes < MiB) pinger.send(batch);
});
console.log(JSON.stringify({ case: "ping-flood", pingerConnections: pingerConnects }));

const flooder = await RawPeer.connect(node.pubPort, { socketType: "SUB", reads: true });
peers.push(flooder);
let subscriptions = 0;
const prefix = new Uint8Array(200);
await runCase("sub-flood", pid, client, smallKey, () => {
  for (let i = 0; i < 1000 && subscriptions < 200_000 && flooder.unsentBytes < MiB; i++) {
    prefix.fill(0x61 + (subscriptions % 26));
    new DataView(prefix.buffer).setUint32(0, subscriptions++);
    flooder.sendCommand("SUBSCRIBE", prefix);
  }
});

for (const peer of peers) peer.close();
await client.close();
