// The single UUID4 key check (lib/util/uuid4.ts) against the cases the three former regexes
// covered: case, version nibble, variant, nil/max, shape.
import { describe, expect, test } from "bun:test";
import { v1, v4, v7, MAX, NIL } from "uuid";
import { isCanonicalUuid4, isUuid4 } from "../../../lib/util/uuid4.ts";

describe("isUuid4", () => {
  const cases: [string, unknown, boolean, boolean][] = [
    ["a fresh v4", "9b2f1c3e-1a2b-4c3d-ae4f-a1b2c3d4e5f6", true, true],
    ["upper case v4", "9B2F1C3E-1A2B-4C3D-AE4F-A1B2C3D4E5F6", true, false],
    ["version 1", "9b2f1c3e-1a2b-1c3d-ae4f-a1b2c3d4e5f6", false, false],
    ["variant 0xc", "9b2f1c3e-1a2b-4c3d-ce4f-a1b2c3d4e5f6", false, false],
    ["nil", NIL, false, false],
    ["max", MAX, false, false],
    ["no dashes", "9b2f1c3e1a2b4c3dae4fa1b2c3d4e5f6", false, false],
    ["trailing space", "9b2f1c3e-1a2b-4c3d-ae4f-a1b2c3d4e5f6 ", false, false],
    ["a number", 42, false, false],
    ["empty", "", false, false],
  ];
  for (const [name, input, isAnyCase, isCanonical] of cases) {
    test(name, () => {
      expect(isUuid4(input)).toBe(isAnyCase);
      expect(isCanonicalUuid4(input)).toBe(isCanonical);
    });
  }

  test("generated keys: every v4 passes, v1 and v7 never do", () => {
    for (let i = 0; i < 200; i++) {
      expect(isCanonicalUuid4(v4())).toBe(true);
      expect(isUuid4(v1())).toBe(false);
      expect(isUuid4(v7())).toBe(false);
    }
  });
});
