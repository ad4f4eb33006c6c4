// Storage benchmark (a script, not a test): `bun bench/store.ts [seconds per run]`.
// Prints one JSON line per measurement on stdout:
//   1. single-row applyBatch transactions/s on a temp file with synchronous=FULL;
//   2. GroupCommitter rows/s with 64 concurrent writers, for both schedulings, with writes
//      arriving as promise continuations and as separate loopback TCP requests (how a node
//      really receives them).
import "./help.ts";

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  GroupCommitter,
  KvStore,
  type BatchApplier,
  type CommitScheduling,
  type StoredRow,
} from "../lib/store/index.ts";

const secondsPerRun = Number(process.argv[2] ?? "2");
const writerCount = 64;
const partitionCount = 64;

function rowFor(n: number): StoredRow {
  const head = (n >>> 0).toString(16).padStart(8, "0");
  const tail = n.toString(16).padStart(12, "0");
  return {
    key: `${head}-0000-4000-8000-${tail}`,
    partition: n % partitionCount,
    term: 1,
    seq: n + 1,
    value: `value-${n}`,
  };
}

function withTempStore<T>(run: (store: KvStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "warehouse-bench-store-"));
  const store = KvStore.open(join(dir, "node.sqlite"));
  return run(store).finally(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

function print(fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(fields) + "\n");
}

async function benchSingleRow(store: KvStore): Promise<void> {
  const deadline = performance.now() + secondsPerRun * 1000;
  const started = performance.now();
  let count = 0;
  while (performance.now() < deadline) {
    store.applyBatch([rowFor(count)]);
    count++;
  }
  const seconds = (performance.now() - started) / 1000;
  print({
    bench: "store.applyBatch.singleRow",
    synchronous: "FULL",
    transactions: count,
    seconds: round(seconds),
    transactionsPerSec: Math.round(count / seconds),
  });
}

class CountingApplier implements BatchApplier {
  batchCount = 0;
  constructor(private readonly store: KvStore) {}
  applyBatch(rows: readonly StoredRow[]): boolean[] {
    this.batchCount++;
    return this.store.applyBatch(rows);
  }
}

// Writers await each acknowledgement, then submit again: arrivals are promise continuations.
async function promiseArrivals(committer: GroupCommitter, deadline: number): Promise<number> {
  let next = 0;
  const writer = async (): Promise<void> => {
    while (performance.now() < deadline) await committer.submit(rowFor(next++));
  };
  await Promise.all(Array.from({ length: writerCount }, writer));
  return next;
}

// Each writer is a TCP client that sends one byte per write and waits for the one-byte ack, so
// every write reaches the committer from its own socket callback, as on a real node.
async function socketArrivals(committer: GroupCommitter, deadline: number): Promise<number> {
  let next = 0;
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, chunk) {
        for (let i = 0; i < chunk.length; i++) {
          committer.submit(rowFor(next++)).then(
            () => socket.write("a"),
            () => socket.end(),
          );
        }
      },
    },
  });
  try {
    const writers = Array.from({ length: writerCount }, async () => {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const client = await Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        socket: {
          data(socket) {
            if (performance.now() < deadline) socket.write("w");
            else resolve();
          },
          error: (_socket, error) => reject(error),
          close: () => resolve(),
        },
      });
      client.write("w");
      await promise;
      client.end();
    });
    await Promise.all(writers);
  } finally {
    server.stop(true);
  }
  return next;
}

type Arrival = "promise" | "socket";

async function benchGroupCommit(arrival: Arrival, scheduling: CommitScheduling): Promise<void> {
  await withTempStore(async (store) => {
    const applier = new CountingApplier(store);
    const committer = new GroupCommitter(applier, { scheduling });
    const started = performance.now();
    const deadline = started + secondsPerRun * 1000;
    const submitted = arrival === "promise"
      ? await promiseArrivals(committer, deadline)
      : await socketArrivals(committer, deadline);
    committer.close();
    const seconds = (performance.now() - started) / 1000;
    const rows = committer.stats().rowCount;
    print({
      bench: "store.groupCommit",
      arrival,
      scheduling,
      writers: writerCount,
      rows,
      submitted,
      seconds: round(seconds),
      rowsPerSec: Math.round(rows / seconds),
      transactions: applier.batchCount,
      rowsPerTransaction: round(rows / Math.max(1, applier.batchCount)),
    });
  });
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

await withTempStore(async (store) => benchSingleRow(store));
for (const arrival of ["promise", "socket"] as const) {
  for (const scheduling of ["immediate", "microtask"] as const) {
    await benchGroupCommit(arrival, scheduling);
  }
}
