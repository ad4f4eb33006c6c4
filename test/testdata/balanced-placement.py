#!/usr/bin/env python3
# Balanced placement as docs/protocol.md ("Placement") states it, written from that text alone
# so that test/interop/placement-python.test.ts can compare lib/placement.ts with a second
# implementation (test/unit/placement.test.ts's golden tables come from it too).
# Usage: balanced-placement.py PARTITIONS MEMBER_IDS_JSON RF  -> JSON: each partition's replicas.
import hashlib
import json
import math
import sys


def score(partition, member):
    digest = hashlib.sha256(f"{partition}/{member}".encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big")


def by_rank(partition):
    # Highest score first; equal scores to the lower id.
    return lambda member: (-score(partition, member), member)


def balanced(partitions, members, rf):
    k = min(rf, len(members))
    quota = math.ceil(partitions * k / len(members))
    pairs = sorted(
        ((score(p, m), p, m) for p in range(partitions) for m in members),
        key=lambda pair: (-pair[0], pair[1], pair[2]),
    )
    held = {m: 0 for m in members}
    chosen = [[] for _ in range(partitions)]
    for _, p, m in pairs:
        if len(chosen[p]) < k and held[m] < quota:
            chosen[p].append(m)
            held[m] += 1
    table = []
    for p, replicas in enumerate(chosen):
        others = sorted((m for m in members if m not in replicas), key=by_rank(p))
        table.append(sorted(replicas + others[: k - len(replicas)], key=by_rank(p)))
    return table


if __name__ == "__main__":
    partitions, members, rf = int(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(balanced(partitions, members, rf), separators=(",", ":")))
