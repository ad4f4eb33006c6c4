// The client's text formatters: every reply, view, scan page and notice, with exact expected
// output.
import { describe, expect, test } from "bun:test";
import type { ClusterView } from "../../../lib/client/client.ts";
import {
  errorJson,
  formatCluster,
  formatDelete,
  formatError,
  formatEvent,
  formatGet,
  formatHeartbeat,
  formatSet,
  formatWhere,
  formatCount,
  formatScan,
  placementOf,
  underReplicationWarning,
} from "../../../lib/client/repl.ts";
import { balancedReplicas, replicasOf } from "../../../lib/placement.ts";
import type { HeartbeatInfo } from "../../../lib/protocol.ts";
import { ConfigError, KvError } from "../../../lib/util/errors.ts";

const key = "9b2c1a4e-3f5d-4c2b-8a1e-7d6f5e4c3b2a";

const view: ClusterView = {
  leader: { id: 1, endpoint: "tcp://127.0.0.1:7001" },
  rf: 2,
  partitions: 64,
  placement: "rendezvous",
  term: 3,
  members: [
    { id: 2, endpoint: "tcp://127.0.0.1:7002", pub: "tcp://127.0.0.1:7102", alive: true,
      role: "follower" },
    { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101", alive: true,
      role: "leader" },
    { id: 3, endpoint: "tcp://127.0.0.1:7003", pub: "tcp://127.0.0.1:7103", alive: false },
  ],
};

describe("reply formatters", () => {
  test("formatSet", () => {
    expect(formatSet({ status: "created", replicas: 2 })).toBe("Created (2 replicas)");
    expect(formatSet({ status: "updated", replicas: 2 })).toBe("Updated (2 replicas)");
    expect(formatSet({ status: "created", replicas: 1 })).toBe("Created (1 replica)");
    expect(formatSet({ status: "updated", replicas: 3 })).toBe("Updated (3 replicas)");
  });

  test("formatGet", () => {
    expect(formatGet({ found: true, value: '{"a": 1}' })).toBe('{"a": 1}');
    expect(formatGet({ found: true, value: "" })).toBe("");
    expect(formatGet({ found: false })).toBe("(nil)");
  });

  test("formatDelete", () => {
    expect(formatDelete({ status: "deleted", replicas: 2 })).toBe("Deleted (2 replicas)");
    expect(formatDelete({ status: "deleted", replicas: 1 })).toBe("Deleted (1 replica)");
    expect(formatDelete({ status: "not_found", replicas: 2 })).toBe("(not found)");
  });

  test("formatScan: the cursor, then one key and value per line, quoted when needed", () => {
    const items = [
      { key, value: "plain" },
      { key: "0b5c3a4e-7f1d-4c2b-9e8a-1d2c3b4a5f6e", value: "two words" },
    ];
    expect(formatScan({ cursor: `3:${key}`, items })).toBe(
      [`cursor: 3:${key}`, `${key}  plain`, '0b5c3a4e-7f1d-4c2b-9e8a-1d2c3b4a5f6e  "two words"']
        .join("\n"),
    );
    expect(formatScan({ cursor: "0", items: [] })).toBe("cursor: 0 (scan complete)");
  });

  test("formatCount: the total, and per partition when verbose", () => {
    const reply = { count: 3, partitions: [2, 0, 1] };
    expect(formatCount(reply, false)).toBe("3 keys");
    expect(formatCount({ count: 1, partitions: [1] }, false)).toBe("1 key");
    expect(formatCount(reply, true)).toBe(
      ["3 keys", "  partition 0  2", "  partition 1  0", "  partition 2  1"].join("\n"),
    );
  });
});

describe("formatCluster", () => {
  test("members sorted by id, leader marked, roles, liveness and the summary line", () => {
    expect(formatCluster(view)).toBe(
      [
        "   id  endpoint              role      state",
        "*  1   tcp://127.0.0.1:7001  leader    alive",
        "   2   tcp://127.0.0.1:7002  follower  alive",
        "   3   tcp://127.0.0.1:7003  -         down",
        "leader: 1 (tcp://127.0.0.1:7001)  rf: 2  partitions: 64  term: 3",
      ].join("\n"),
    );
  });

  test("no leader and no members", () => {
    const empty: ClusterView = {
      leader: null, rf: 2, partitions: 64, placement: null, members: [], term: 0,
    };
    expect(formatCluster(empty)).toBe(
      ["(no members known)", "leader: none  rf: 2  partitions: 64  term: 0"].join("\n"),
    );
  });

  test("a leader without a reported role is shown as leader", () => {
    const text = formatCluster({
      ...view,
      members: [
        { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101", alive: true },
      ],
    });
    expect(text.split("\n")[1]).toBe("*  1   tcp://127.0.0.1:7001  leader  alive");
  });
});

describe("underReplicationWarning", () => {
  test("warns when fewer members are live than rf", () => {
    const lonely: ClusterView = {
      ...view,
      members: view.members.map((member) => ({ ...member, alive: member.id === 1 })),
    };
    expect(underReplicationWarning(lonely)).toBe(
      "WARNING: cluster size (1) is smaller than replication factor (2)",
    );
    // With every node silent, "cluster size (0)" would misstate the problem.
    expect(formatEvent({ type: "under-replicated", live: 0, rf: 2 })).toBe(
      "WARNING: no node of the cluster is answering heartbeats",
    );
  });

  test("silent when enough members are live, or before rf is known", () => {
    expect(underReplicationWarning(view)).toBeNull();
    expect(underReplicationWarning({ ...view, members: [], rf: 0 })).toBeNull();
  });
});

describe("formatHeartbeat", () => {
  test("who answered, every known instance and the replication factor", () => {
    const info: HeartbeatInfo = {
      node: { id: 2, endpoint: "tcp://127.0.0.1:7002", pub: "tcp://127.0.0.1:7102" },
      role: "follower",
      term: 7,
      leader: { id: 1, endpoint: "tcp://127.0.0.1:7001" },
      rf: 2,
      partitions: 64,
      placement: "balanced",
      members: [
        { id: 2, endpoint: "tcp://127.0.0.1:7002", pub: "tcp://127.0.0.1:7102", alive: true },
        { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101", alive: true },
        { id: 3, endpoint: "tcp://127.0.0.1:7003", pub: "tcp://127.0.0.1:7103", alive: false },
      ],
    };
    expect(formatHeartbeat(info)).toBe(
      [
        "Heartbeat from node 2 (tcp://127.0.0.1:7002): follower, term 7",
        "Known instances (3):",
        "  *  1  tcp://127.0.0.1:7001  pub tcp://127.0.0.1:7101  alive",
        "     2  tcp://127.0.0.1:7002  pub tcp://127.0.0.1:7102  alive",
        "     3  tcp://127.0.0.1:7003  pub tcp://127.0.0.1:7103  down",
        "Replication factor: 2  partitions: 64  leader: 1 (tcp://127.0.0.1:7001)",
      ].join("\n"),
    );
  });

  test("no leader", () => {
    const info: HeartbeatInfo = {
      node: { id: 1, endpoint: "tcp://127.0.0.1:7001", pub: "tcp://127.0.0.1:7101" },
      role: "candidate",
      term: 1,
      leader: null,
      rf: 1,
      partitions: 8,
      placement: "balanced",
      members: [],
    };
    expect(formatHeartbeat(info)).toBe(
      [
        "Heartbeat from node 1 (tcp://127.0.0.1:7001): candidate, term 1",
        "Known instances (0):",
        "Replication factor: 1  partitions: 8  leader: none",
      ].join("\n"),
    );
  });
});

describe("WHERE", () => {
  // Partition 3 of 64; with members 1..3 and rf 2 docs/protocol.md's placement gives [3, 2]
  // (golden vector in test/unit/placement.test.ts, computed with python3 hashlib).
  const keyInPartition3 = "00000003-0000-4000-8000-000000000000";

  test("placementOf computes partition and replicas from the view", () => {
    expect(placementOf(keyInPartition3, view)).toEqual({
      key: keyInPartition3,
      partition: 3,
      replicas: [
        { id: 3, endpoint: "tcp://127.0.0.1:7003", alive: false },
        { id: 2, endpoint: "tcp://127.0.0.1:7002", alive: true },
      ],
    });
  });

  test("formatWhere lists the partition and the replica nodes with endpoints", () => {
    expect(formatWhere(keyInPartition3, view)).toBe(
      [
        `Key ${keyInPartition3}: partition 3 of 64`,
        "Replicas (rf 2):",
        "  3  tcp://127.0.0.1:7003  down",
        "  2  tcp://127.0.0.1:7002  alive",
      ].join("\n"),
    );
  });

  test("a balanced cluster's replicas follow its rule, not rendezvous hashing", () => {
    const ids = [1, 2, 3];
    const table = balancedReplicas(64, ids, 2);
    // A partition whose balanced replicas differ from its rendezvous ones (node 3 gives some up).
    const moved = table.findIndex((replicas, p) =>
      replicas.join() !== replicasOf(p, ids, 2).join());
    expect(moved).toBeGreaterThanOrEqual(0);
    const keyInMoved = `${moved.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;
    const placement = placementOf(keyInMoved, { ...view, placement: "balanced" });
    expect(placement?.replicas.map((replica) => replica.id)).toEqual([...(table[moved] ?? [])]);
    expect(placementOf(keyInMoved, { ...view, placement: null })).toBeNull();
  });

  test("the partition is the first 8 hex digits mod the partition count", () => {
    const highKey = "ffffffff-0000-4000-8000-000000000000";
    const placement = placementOf(highKey, { ...view, partitions: 10 });
    expect(placement?.partition).toBe(0xffffffff % 10);
  });

  test("without members or before a heartbeat there is nothing to compute", () => {
    expect(formatWhere(key, { ...view, members: [] })).toBe(
      `Key ${key}: partition ${parseInt(key.slice(0, 8), 16) % 64} of 64\nReplicas: none known`,
    );
    expect(placementOf(key, { ...view, partitions: 0 })).toBeNull();
    expect(placementOf(key, { ...view, rf: 0 })).toBeNull();
    expect(formatWhere(key, { ...view, rf: 0 })).toBe(
      "Placement unknown: no cluster information yet",
    );
  });
});

describe("formatEvent", () => {
  test("leader changes, including losing the leader", () => {
    expect(
      formatEvent({
        type: "leader-changed",
        leader: { id: 2, endpoint: "tcp://127.0.0.1:7002" },
        term: 3,
      }),
    ).toBe("Leader changed: node 2 (tcp://127.0.0.1:7002), term 3");
    expect(formatEvent({ type: "leader-changed", leader: null, term: 4 })).toBe(
      "Leader lost: no leader, term 4",
    );
  });

  test("under-replication warning, exactly as the architecture words it", () => {
    expect(formatEvent({ type: "under-replicated", live: 1, rf: 2 })).toBe(
      "WARNING: cluster size (1) is smaller than replication factor (2)",
    );
  });

  test("member up and down", () => {
    expect(formatEvent({ type: "member-changed", id: 3, alive: false })).toBe("Node 3 is down");
    expect(formatEvent({ type: "member-changed", id: 3, alive: true })).toBe("Node 3 is up");
  });
});

describe("formatError and errorJson", () => {
  test("a KvError shows its code, never a stack", () => {
    const error = new KvError("UNAVAILABLE", "no leader known after 5000 ms");
    expect(formatError(error)).toBe("Error UNAVAILABLE: no leader known after 5000 ms");
    expect(formatError(new ConfigError("bad flag"))).toBe("Error CONFIG: bad flag");
    expect(formatError(new KvError("TIMEOUT", "x"))).not.toContain("    at ");
  });

  test("other errors and thrown values", () => {
    expect(formatError(new Error("boom"))).toBe("Error: boom");
    expect(formatError("plain")).toBe("Error: plain");
  });

  test("errorJson mirrors the wire error object", () => {
    expect(errorJson(new KvError("TIMEOUT", "outcome unknown"))).toEqual({
      ok: false,
      error: { code: "TIMEOUT", message: "outcome unknown" },
    });
    expect(errorJson(new Error("boom"))).toEqual({
      ok: false,
      error: { code: "ERROR", message: "boom" },
    });
  });
});
