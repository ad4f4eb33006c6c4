// Readiness rules, the advertised-address choice and the events ring.
import { expect, test } from "bun:test";
import { chooseAdvertise, isLocalAddress } from "../../../lib/ops/host-addresses.ts";
import { EventLog, type NodeStatus, lagOf, readinessOf } from "../../../lib/ops/status.ts";

const leaderInfo = { id: 1, endpoint: "tcp://127.0.0.1:7001" };
const base: NodeStatus = {
  id: 2, version: "0", endpoint: "tcp://127.0.0.1:7002", pub: "tcp://127.0.0.1:7102",
  http: null, role: "follower", term: 3, leader: leaderInfo, caughtUp: true, rf: 2,
  partitionCount: 4, members: [], partitions: [], laggingPartitions: 0,
};

test("ready only with a known leader and every placed partition in sync", () => {
  expect(readinessOf(base)).toEqual({ ready: true });
  expect(readinessOf(null)).toEqual({
    ready: false, reason: "starting: not yet a member of a cluster",
  });
  expect(readinessOf({ ...base, leader: null })).toEqual({
    ready: false, reason: "no leader known yet",
  });
  expect(readinessOf({ ...base, caughtUp: false, role: "joining" })).toEqual({
    ready: false, reason: "catching up: joining the cluster, copying its partitions",
  });
  expect(readinessOf({ ...base, laggingPartitions: 3 })).toEqual({
    ready: false, reason: "catching up: 3 partitions not yet in sync on this node",
  });
});

test("lag: the leader's head minus the node's position, over the partitions placed on it", () => {
  const leader: NodeStatus = { ...base, id: 1, role: "leader", partitions: [
    { partition: 0, replicas: [1, 2], insync: [1, 2], position: { term: 1, seq: 9 }, head: 9 },
    { partition: 1, replicas: [1, 3], insync: [1, 3], position: { term: 1, seq: 4 }, head: 4 },
    { partition: 2, replicas: [2, 3], insync: [3], position: null, head: 7 },
  ] };
  const node2: NodeStatus = { ...base, partitions: [
    { partition: 0, replicas: [1, 2], insync: [1, 2], position: { term: 1, seq: 6 }, head: null },
    // Not placed here: a leftover copy does not count.
    { partition: 1, replicas: [1, 3], insync: [1, 3], position: { term: 1, seq: 1 }, head: null },
    { partition: 2, replicas: [2, 3], insync: [3], position: null, head: null },
  ] };
  expect(lagOf(node2, leader)).toBe(3 + 7);
  expect(lagOf(leader, leader)).toBe(0);
  expect(lagOf(node2, null)).toBeNull();
  expect(lagOf(node2, { ...leader, role: "follower" })).toBeNull();
});

const interfaces = [
  { address: "127.0.0.1", isInternal: true, family: "IPv4" as const },
  { address: "fe80::1", isInternal: false, family: "IPv6" as const },
  { address: "2001:db8::5", isInternal: false, family: "IPv6" as const },
  { address: "10.1.2.3", isInternal: false, family: "IPv4" as const },
];

test("the advertised address: given, else the bind host, else the first dialable one", () => {
  expect(chooseAdvertise("0.0.0.0", "db1.example", interfaces))
    .toEqual({ ok: true, advertise: "db1.example" });
  expect(chooseAdvertise("10.1.2.3", null, interfaces))
    .toEqual({ ok: true, advertise: "10.1.2.3" });
  expect(chooseAdvertise("0.0.0.0", null, interfaces)).toEqual({ ok: true, advertise: "10.1.2.3" });
  // Link-local IPv6 needs a zone to dial, so :: picks the global address.
  expect(chooseAdvertise("::", null, interfaces)).toEqual({ ok: true, advertise: "2001:db8::5" });
  expect(chooseAdvertise("0.0.0.0", null, interfaces.slice(0, 1))).toEqual({
    ok: false,
    error: "--host 0.0.0.0 binds every interface, but this machine has no address other nodes " +
      "can dial (only loopback); give --advertise <address>",
  });
});

test("local addresses: the machine's own, and all of 127/8", () => {
  expect(isLocalAddress("10.1.2.3", interfaces)).toBe(true);
  expect(isLocalAddress("127.0.0.2", interfaces)).toBe(true);
  expect(isLocalAddress("2001:DB8::5", interfaces)).toBe(true);
  expect(isLocalAddress("10.1.2.4", interfaces)).toBe(false);
});

test("the events ring keeps the newest, newest first", () => {
  const log = new EventLog(2);
  log.add({ ts: 1, kind: "member_up", text: "a" });
  log.add({ ts: 2, kind: "member_down", text: "b" });
  log.add({ ts: 3, kind: "leader_changed", text: "c" });
  expect(log.recent().map((e) => e.text)).toEqual(["c", "b"]);
});
