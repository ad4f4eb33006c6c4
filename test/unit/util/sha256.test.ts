// Checks the pure SHA-256 against node:crypto (the reference) and the FIPS 180-4 examples.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { sha256 } from "../../../lib/util/sha256.ts";

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function reference(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

// A small seeded generator (xorshift32) so a failure can be replayed exactly.
function seededBytes(seed: number): (length: number) => Uint8Array {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = next() & 0xff;
    return out;
  };
}

describe("sha256", () => {
  test("known answers from FIPS 180-4", () => {
    const encoder = new TextEncoder();
    expect(hex(sha256(new Uint8Array(0)))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(hex(sha256(encoder.encode("abc")))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    expect(
      hex(sha256(encoder.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    ).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  test("returns 32 bytes and leaves the input untouched", () => {
    const input = seededBytes(7)(100);
    const copy = input.slice();
    const digest = sha256(input);
    expect(digest.length).toBe(32);
    expect(input).toEqual(copy);
  });

  test("every length from 0 to 200 bytes (covers the 55/56/64 padding edges)", () => {
    const random = seededBytes(42);
    for (let length = 0; length <= 200; length++) {
      const input = random(length);
      expect(hex(sha256(input))).toBe(reference(input));
    }
  });

  test("padding boundaries with constant bytes", () => {
    for (const length of [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129]) {
      for (const fill of [0x00, 0x80, 0xff]) {
        const input = new Uint8Array(length).fill(fill);
        expect(hex(sha256(input))).toBe(reference(input));
      }
    }
  });

  test("1000 random inputs of random length", () => {
    const random = seededBytes(20240601);
    for (let i = 0; i < 1000; i++) {
      const lengthByte = random(2);
      const length = (((lengthByte[0] ?? 0) << 8) | (lengthByte[1] ?? 0)) % 1500;
      const input = random(length);
      expect(hex(sha256(input))).toBe(reference(input));
    }
  });

  test("a subarray view hashes only its own bytes", () => {
    const backing = seededBytes(3)(300);
    for (const [start, end] of [[1, 57], [3, 131], [64, 64], [17, 300]] as const) {
      const view = backing.subarray(start, end);
      expect(hex(sha256(view))).toBe(reference(view));
    }
  });

  test("a large input (1 MiB)", () => {
    const input = seededBytes(99)(1 << 20);
    expect(hex(sha256(input))).toBe(reference(input));
  });
});
