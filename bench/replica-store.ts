// `bun bench/replica-store.ts [batches] [preload]`: what one SET costs the data plane's sqlite
// store, in figures a busy machine does not disturb much: sqlite pages written per change (WAL
// frames, counted at checkpoints) and CPU µs per change (commit calls only). Batches of 64
// changes on random UUID4 keys over 64 partitions, 256-byte values, each change naming a writer
// as clients do (four of them); the file holds `preload` rows first so the b-trees have a
// realistic depth. REPLICA_BENCH_BATCH sets the changes per commit (a replica under
// bench:cluster at 64 clients commits about 15). `pagesByTree` splits the pages per change by
// the b-tree (table or index) and page kind they belong to (sqlite's dbstat).
import "./help.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../lib/store/database.ts";
import type { ReplicaWrite } from "../lib/store/replica-types.ts";
import { SqliteReplicaStore } from "../lib/store/sqlite-replica-store.ts";

const batches = Number(process.argv[2] ?? 300);
const preload = Number(process.argv[3] ?? 50_000);
const PARTITIONS = 64;
const BATCH = Number(process.env["REPLICA_BENCH_BATCH"] ?? 64);
const value = "v".repeat(256);
/** Four clients, as bench:cluster's loops share four connections. */
const writerPrefixes = Array.from({ length: 4 }, () => `${crypto.randomUUID()}/`);

const dir = mkdtempSync(join(tmpdir(), "warehouse-replica-bench-"));
try {
  const path = join(dir, "warehouse.sqlite");
  const db = openDatabase(path, { busyTimeoutMs: 0 });
  // Checkpoints only where this script counts the WAL's frames.
  db.run("PRAGMA wal_autocheckpoint = 0");
  const store = new SqliteReplicaStore(path, db);
  const seqs = new Array<number>(PARTITIONS).fill(0);
  let writes = 0;
  const batch = (): ReplicaWrite[] => {
    const byPartition = new Map<number, { seq: number; epoch: number; key: string;
      value: string; writer: string }[]>();
    for (let i = 0; i < BATCH; i++) {
      const p = Math.floor(Math.random() * PARTITIONS);
      const list = byPartition.get(p) ?? [];
      byPartition.set(p, list);
      seqs[p] = (seqs[p] as number) + 1;
      list.push({ seq: seqs[p] as number, epoch: 1, key: crypto.randomUUID(), value,
        writer: `${writerPrefixes[writes % 4]}${writes++}` });
    }
    return [...byPartition].map(([partition, changes]) => ({ type: "append", partition, changes }));
  };
  const byTree = new Map<string, number>();
  /** Counts the WAL's frames by the b-tree their page belongs to (read before checkpointing). */
  const countTrees = (): void => {
    const wal = readFileSync(`${path}-wal`);
    if (wal.length < 32) return;
    const pageBytes = wal.readUInt32BE(8);
    const owners = new Map<number, string>();
    const pages = db.query<{ name: string; pageno: number; pagetype: string }, []>(
      "SELECT name, pageno, pagetype FROM dbstat").all();
    // Schema 6 keeps a change log table per partition: counted together as changes_<p>.
    const tree = (name: string) => name.replace(/^changes_[0-9]+$/, "changes_<p>");
    for (const page of pages) owners.set(page.pageno, `${tree(page.name)} ${page.pagetype}`);
    for (let at = 32; at + 24 + pageBytes <= wal.length; at += 24 + pageBytes) {
      const owner = owners.get(wal.readUInt32BE(at)) ?? "other";
      byTree.set(owner, (byTree.get(owner) ?? 0) + 1);
    }
  };
  const checkpoint = (): number => {
    // PASSIVE reports the WAL's frames (and copies them); TRUNCATE then empties the file.
    const row = db.query<{ log: number }, []>("PRAGMA wal_checkpoint(PASSIVE)").get();
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    return row?.log ?? 0;
  };
  for (let i = 0; i < preload / BATCH; i++) store.commit(batch());
  checkpoint();
  let frames = 0;
  let cpuUs = 0;
  const started = performance.now();
  for (let i = 1; i <= batches; i++) {
    const writesNow = batch();
    const before = process.cpuUsage();
    store.commit(writesNow);
    const used = process.cpuUsage(before);
    cpuUs += used.user + used.system;
    if (i % 50 === 0 || i === batches) {
      countTrees();
      frames += checkpoint();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const changes = batches * BATCH;
  console.log(JSON.stringify({
    case: "replica-store append",
    preloadRows: preload,
    changes,
    batch: BATCH,
    pagesPerChange: Number((frames / changes).toFixed(2)),
    cpuUsPerChange: Number((cpuUs / changes).toFixed(1)),
    changesPerSec: Math.round(changes / seconds),
    pagesByTree: Object.fromEntries([...byTree].sort((a, b) => b[1] - a[1])
      .filter(([, count]) => count / changes >= 0.01)
      .map(([tree, count]) => [tree, Number((count / changes).toFixed(2))])),
  }));
  store.close();
  db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
