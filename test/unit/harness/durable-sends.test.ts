// The strace checker behind test/integration/cluster/durable-acks.test.ts, on hand-written
// traces: it must flag a send made while a WAL write is unsynced, and only then.

import { describe, expect, test } from "bun:test";
import { checkDurableSends } from "../../harness/durable-sends.ts";

const wal = "7</data/1/warehouse.sqlite-wal>";
const db = "12</data/1/warehouse.sqlite>";
const tcp = "18<TCP:[127.0.0.1:7001->127.0.0.1:38960]>";
const trace = (...lines: string[]) => lines.join("\n");

describe("checkDurableSends", () => {
  test("write, sync, then send: no violation, and the counts", () => {
    const report = checkDurableSends(trace(
      `100 1796453049.211180 pwrite64(${wal}, ""..., 24, 8272) = 24`,
      `100 1796453049.211297 pwrite64(${wal}, ""..., 4096, 8296) = 4096`,
      `100 1796453049.211542 fsync(${wal}) = 0`,
      `100 1796453049.214008 sendto(${tcp}, ""..., 74, MSG_DONTWAIT|MSG_NOSIGNAL, NULL, 0) = 74`,
    ));
    expect(report).toEqual({ walWrites: 2, walSyncs: 1, sends: 1, violations: [] });
  });

  test("a send between a WAL write and its sync is a violation", () => {
    const report = checkDurableSends(trace(
      `100 pwrite64(${wal}, ""..., 4096, 8296) = 4096`,
      `100 sendto(${tcp}, ""..., 74, 0, NULL, 0) = 74`,
      `100 fsync(${wal}) = 0`,
    ));
    expect(report.violations.length).toBe(1);
    expect(report.violations[0]).toContain("1 WAL write(s) not synced");
  });

  test("a sync that began before a write does not cover it, even if it returns after", () => {
    const report = checkDurableSends(trace(
      `200 fdatasync(${wal} <unfinished ...>`,
      `100 pwrite64(${wal}, ""..., 4096, 0) = 4096`,
      `200 <... fdatasync resumed>) = 0`,
      `100 writev(${tcp}, [...], 2) = 80`,
    ));
    expect(report.violations.length).toBe(1);
  });

  test("a sync on another thread that began after the write covers it", () => {
    const report = checkDurableSends(trace(
      `100 pwrite64(${wal}, ""..., 4096, 0) = 4096`,
      `200 fsync(${wal} <unfinished ...>`,
      `100 pwrite64(${db}, ""..., 4096, 0) = 4096`,
      `200 <... fsync resumed>) = 0`,
      `100 sendto(${tcp}, ""..., 74, 0, NULL, 0) = 74`,
    ));
    expect(report).toEqual({ walWrites: 1, walSyncs: 1, sends: 1, violations: [] });
  });

  test("a failed sync covers nothing; writes elsewhere and failed writes dirty nothing", () => {
    const failed = checkDurableSends(trace(
      `100 pwrite64(${wal}, ""..., 4096, 0) = 4096`,
      `100 fsync(${wal}) = -1 EIO (Input/output error)`,
      `100 sendto(${tcp}, ""..., 74, 0, NULL, 0) = 74`,
    ));
    expect(failed.violations.length).toBe(1);
    const elsewhere = checkDurableSends(trace(
      `100 pwrite64(${db}, ""..., 4096, 0) = 4096`,
      `100 write(1<pipe:[5555]>, ""..., 120) = 120`,
      `100 pwrite64(${wal}, ""..., 4096, 0) = -1 ENOSPC (No space left on device)`,
      `100 sendto(${tcp}, ""..., 74, 0, NULL, 0) = 74`,
    ));
    expect(elsewhere).toEqual({ walWrites: 0, walSyncs: 0, sends: 1, violations: [] });
  });
});
