// bench:compare's pure parts: the hand-written protobuf it speaks to etcd over gRPC, its settings
// and the targets. (Running it against a real etcd is the benchmark itself.)
import { describe, expect, test } from "bun:test";
import { bytesField, grpcFrame, rangeFound } from "../../../bench/compare/etcd-grpc.ts";
import { targetFor, type CaseLine } from "../../../bench/compare/report.ts";
import { parseSettings } from "../../../bench/compare/settings.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("etcd gRPC codec", () => {
  test("a PutRequest is key (field 1) and value (field 2) behind the 5-byte gRPC prefix", () => {
    const frame = grpcFrame(bytesField(1, bytes("k")), bytesField(2, bytes("vv")));
    expect([...frame]).toEqual([0, 0, 0, 0, 7, 0x0a, 1, 0x6b, 0x12, 2, 0x76, 0x76]);
  });

  test("lengths of 128 bytes and more take a two-byte varint", () => {
    const field = bytesField(2, new Uint8Array(300));
    expect([...field.subarray(0, 3)]).toEqual([0x12, 0xac, 0x02]);
    expect(field.length).toBe(303);
  });

  test("a RangeResponse with kvs is found, one with only header and count is not", () => {
    const header = bytesField(1, new Uint8Array([0x08, 0x96, 0x01]));
    const kv = bytesField(2, new Uint8Array([0x0a, 1, 0x6b]));
    const count = new Uint8Array([0x20, 0x01]);
    expect(rangeFound(grpcFrame(header, kv, count))).toBe(true);
    expect(rangeFound(grpcFrame(header, new Uint8Array([0x20, 0x00])))).toBe(false);
    expect(rangeFound(grpcFrame())).toBe(false);
  });
});

describe("bench:compare settings", () => {
  test("--quick is small; flags win over COMPARE_* variables", () => {
    const quick = parseSettings(["--quick"], {});
    expect(quick).toMatchObject({ seconds: 1, rounds: 1, concurrencies: [1, 64],
      valueSizes: [256], failoverTrials: 1, etcdClient: "grpc" });
    const mixed = parseSettings(["--seconds", "2"], { COMPARE_SECONDS: "9", COMPARE_ROUNDS: "5" });
    expect(mixed.seconds).toBe(2);
    expect(mixed.rounds).toBe(5);
    expect(mixed.concurrencies).toEqual([1, 16, 64, 256]);
  });

  test("cases pick the operations and failover", () => {
    const s = parseSettings(["--cases", "get"], {});
    expect(s.ops).toEqual(["GET"]);
    expect(s.failoverTrials).toBe(0);
  });

  test("bad values are refused with the flag's name", () => {
    expect(() => parseSettings(["--cases", "scan"], {})).toThrow(/--cases/);
    expect(() => parseSettings(["--concurrency", "0,4"], {})).toThrow(/--concurrency/);
    expect(() => parseSettings(["--etcd-client", "rest"], {})).toThrow(/--etcd-client/);
    expect(() => parseSettings(["--bogus"], {})).toThrow();
  });
});

describe("the issue's targets", () => {
  const line = (op: "set" | "get", concurrency: number, opsPerSec: number, p50: number,
    p99: number): CaseLine => {
    const figures = { ops: 1, opsPerSec: 1, p50Ms: 1, p99Ms: 1, errors: 0, rounds: [1],
      cpuUsPerOp: { servers: 1, client: 1 } };
    return { case: op, concurrency, valueBytes: 256, etcd: figures, warehouse: figures,
      ratio: { opsPerSec, p50, p99, serverCpuPerOp: 1 } };
  };

  test("SET at 64 clients needs 3× the throughput and a quarter of the p99", () => {
    expect(targetFor(line("set", 64, 3, 1, 0.25))?.met).toBe(true);
    expect(targetFor(line("set", 64, 2.9, 1, 0.2))?.met).toBe(false);
    expect(targetFor(line("set", 64, 4, 1, 0.3))?.met).toBe(false);
  });

  test("GET at 64 clients needs 5×; SET at 1 client an equal or lower p50; failover 0.4×", () => {
    expect(targetFor(line("get", 64, 5, 1, 0.25))?.met).toBe(true);
    expect(targetFor(line("get", 64, 4.9, 1, 0.25))?.met).toBe(false);
    expect(targetFor(line("set", 1, 0.1, 1, 9))?.met).toBe(true);
    expect(targetFor(line("set", 1, 9, 1.01, 0.1))?.met).toBe(false);
    expect(targetFor(line("get", 16, 1, 1, 1))).toBeUndefined();
    const failover = { case: "failover" as const, etcd: { medianMs: 1000, trialsMs: [1000] },
      warehouse: { medianMs: 400, trialsMs: [400] }, ratio: 0.4 };
    expect(targetFor(failover)?.met).toBe(true);
    expect(targetFor({ ...failover, ratio: 0.41 })?.met).toBe(false);
  });
});
