// Tables for tcp endpoint parsing, shared by flags (config) and heartbeats (protocol).
import { describe, expect, test } from "bun:test";
import {
  formatTcpEndpoint,
  isValidHost,
  parsePort,
  parseTcpEndpoint,
} from "../../../lib/util/endpoint.ts";

describe("parseTcpEndpoint", () => {
  const valid: readonly (readonly [string, string, number])[] = [
    ["tcp://127.0.0.1:7001", "127.0.0.1", 7001],
    ["tcp://localhost:1", "localhost", 1],
    ["tcp://db-1.example.com:65535", "db-1.example.com", 65535],
    ["tcp://[::1]:7001", "::1", 7001],
    ["tcp://[fe80::1:2]:80", "fe80::1:2", 80],
    ["tcp://0.0.0.0:7001", "0.0.0.0", 7001],
  ];
  for (const [text, host, port] of valid) {
    test(`accepts ${text}`, () => {
      expect(parseTcpEndpoint(text)).toEqual({ host, port });
      expect(formatTcpEndpoint(host, port)).toBe(text);
    });
  }

  const invalid = [
    "", "127.0.0.1:7001", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://:7001",
    "tcp://127.0.0.1:0", "tcp://127.0.0.1:65536", "tcp://127.0.0.1:-1", "tcp://127.0.0.1:7e3",
    "tcp://127.0.0.1:0x10", "tcp://127.0.0.1: 7001", "tcp://127.0.0.1:7001/", "udp://h:1",
    "TCP://h:1", "tcp://*:7001", "tcp://::1:7001", "tcp://[::1:7001", "tcp://[]:7001",
    "tcp://999.1.1.1:7001", "tcp://-bad.host:7001", "tcp://bad_host:7001", "tcp://a b:1",
    " tcp://h:1", "tcp://h:1 ", "tcp://h:123456", `tcp://${"a".repeat(64)}:1`,
  ];
  for (const text of invalid) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      expect(parseTcpEndpoint(text)).toBeNull();
    });
  }

  test("port 0 only when allowed", () => {
    expect(parseTcpEndpoint("tcp://h:0", { isPortZeroAllowed: true })).toEqual({
      host: "h",
      port: 0,
    });
    expect(parseTcpEndpoint("tcp://h:0")).toBeNull();
  });
});

describe("isValidHost and parsePort", () => {
  test("hosts", () => {
    expect(isValidHost("127.0.0.1")).toBe(true);
    expect(isValidHost("my-host")).toBe(true);
    expect(isValidHost("::1")).toBe(true);
    expect(isValidHost("")).toBe(false);
    expect(isValidHost("256.0.0.1")).toBe(false);
    expect(isValidHost("1.2.3")).toBe(false);
    expect(isValidHost("a..b")).toBe(false);
    expect(isValidHost("host-")).toBe(false);
    expect(isValidHost(`${"a.".repeat(127)}a`)).toBe(false);
  });

  test("ports", () => {
    expect(parsePort("0")).toBe(0);
    expect(parsePort("65535")).toBe(65535);
    expect(parsePort("007")).toBe(7);
    expect(parsePort("65536")).toBeNull();
    expect(parsePort("")).toBeNull();
    expect(parsePort("+1")).toBeNull();
    expect(parsePort("1.0")).toBeNull();
    expect(parsePort("123456")).toBeNull();
  });
});
