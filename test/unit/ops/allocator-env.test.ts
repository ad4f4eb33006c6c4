import { expect, test } from "bun:test";
import { restartCommand } from "../../../lib/ops/allocator-env.ts";

test("a script under bun restarts with the runtime's flags, the script and its arguments", () => {
  expect(
    restartCommand("/opt/bun", ["/opt/bun", "/srv/node.ts", "--id", "1"], ["--smol"]),
  ).toEqual(["/opt/bun", "--smol", "/srv/node.ts", "--id", "1"]);
  expect(restartCommand("/opt/bun", ["/opt/bun", "/srv/node.ts"], [])).toEqual([
    "/opt/bun", "/srv/node.ts",
  ]);
});

test("a compiled executable restarts as itself with its arguments alone", () => {
  // Bun reports a compiled program's entry point inside its embedded file system.
  expect(
    restartCommand("/usr/local/bin/warehouse-node",
      ["bun", "/$bunfs/root/warehouse-node", "--id", "2", "--rf", "3"], []),
  ).toEqual(["/usr/local/bin/warehouse-node", "--id", "2", "--rf", "3"]);
});
