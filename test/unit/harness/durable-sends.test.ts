// The strace readers behind test/integration/cluster/durable-acks.test.ts, on hand-written
// traces: a send made while a WAL write is unsynced is flagged, and only then; a value counts as
// on disk only once a WAL sync that began after its write has returned.

import { describe, expect, test } from "bun:test";
import { checkDurableSends, walSyncTimes } from "../../harness/durable-sends.ts";

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

/** A string as strace -xx prints it. */
const hex = (text: string) => [...text].map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("");
const walHex = `7<${hex("/data/2/warehouse.sqlite-wal")}>`;
const page = (...values: string[]) => `"${hex(`\u0000\r${values.join("\u0001")}\u0000`)}"`;

describe("walSyncTimes", () => {
  const value = /durable-[0-9]+/g;

  test("a value is on disk when a WAL sync that began after its write returns", () => {
    const synced = walSyncTimes(trace(
      `100 1000.000100 pwrite64(${walHex}, ${page("durable-1", "durable-2")}, 4096, 0) = 4096 <0.000020>`,
      `100 1000.000200 fsync(${walHex}) = 0 <0.000300>`,
      `100 1000.000600 pwrite64(${walHex}, ${page("durable-3")}, 4096, 4096) = 4096 <0.000020>`,
    ), value);
    expect([...synced.keys()].sort()).toEqual(["durable-1", "durable-2"]);
    expect(synced.get("durable-1")).toBeCloseTo(1000.0005, 6);
  });

  test("a write made while a sync runs waits for the next; a failed sync covers nothing", () => {
    const synced = walSyncTimes(trace(
      `200 1000.000100 fdatasync(${walHex} <unfinished ...>`,
      `100 1000.000150 pwrite64(${walHex}, ${page("durable-1")}, 4096, 0) = 4096 <0.000020>`,
      `200 1000.000400 <... fdatasync resumed>) = 0 <0.000300>`,
      `200 1000.000500 fdatasync(${walHex}) = -1 EIO (Input/output error) <0.000100>`,
      `200 1000.000700 fdatasync(${walHex}) = 0 <0.000200>`,
    ), value);
    expect(synced.get("durable-1")).toBeCloseTo(1000.0009, 6);
  });

  test("a split write's data is read from its entry line; the first sync after it counts", () => {
    const synced = walSyncTimes(trace(
      `100 1000.000100 pwrite64(${walHex}, ${page("durable-7")}, 4096, 0 <unfinished ...>`,
      `200 1000.000120 fsync(${walHex} <unfinished ...>`,
      `100 1000.000150 <... pwrite64 resumed>) = 4096 <0.000050>`,
      `200 1000.000300 <... fsync resumed>) = 0 <0.000180>`,
      `100 1000.000400 fsync(${walHex}) = 0 <0.000100>`,
      `100 1000.000600 fsync(${walHex}) = 0 <0.000100>`,
    ), value);
    // The sync that began at .000120 began before the write returned: it does not count.
    expect(synced.get("durable-7")).toBeCloseTo(1000.0005, 6);
  });
});
