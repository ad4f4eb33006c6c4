// client.ts as a process, without a cluster: --help, flag errors, and the behaviour that must not
// need a connection (an invalid key is reported and nothing is sent), plus exit code 2 when the
// cluster cannot be reached. A silent TCP listener stands in for a node and counts connections.
import { afterEach, describe, expect, test } from "bun:test";
import { type RunResult, runToEnd } from "../../harness/run.ts";
import { SilentNode } from "../../harness/silent-node.ts";

const clientPath = new URL("../../../client.ts", import.meta.url).pathname;
const validKey = "9b2c1a4e-3f5d-4c2b-8a1e-7d6f5e4c3b2a";

function runClient(args: readonly string[], stdin = ""): Promise<RunResult> {
  return runToEnd([process.execPath, clientPath, ...args], { stdin });
}

let listener: SilentNode | null = null;
afterEach(() => {
  listener?.stop();
  listener = null;
});

function silentNode(): SilentNode {
  listener = new SilentNode();
  return listener;
}

const fast = ["--timeout-ms", "100", "--give-up-ms", "300"];

describe("client.ts", () => {
  test("--help prints the usage and exits 0", async () => {
    const result = await runClient(["--help"]);
    expect(result.stdout).toStartWith("Usage: bun client.ts [options] [command [arguments]]\n");
    expect(result.stdout).toContain("--exec <commands>");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  test("--version prints the version of package.json", async () => {
    const pkg = (await Bun.file(new URL("../../../package.json", import.meta.url)).json()) as {
      version: string;
    };
    const result = await runClient(["--version"]);
    expect(result).toEqual({ code: 0, stdout: `warehouse ${pkg.version}\n`, stderr: "" });
  });

  test("an unknown flag is a usage error: exit 64, one message and one hint", async () => {
    const result = await runClient(["--bogus"]);
    expect(result.stderr).toBe(
      'Error: unknown flag --bogus\nRun "bun client.ts --help" for the options.\n',
    );
    expect(result.stdout).toBe("");
    expect(result.code).toBe(64);
  });

  test("a command given as arguments with a bad key is a usage error, exit 64", async () => {
    const node = silentNode();
    const result = await runClient(["--connect", node.endpoint, ...fast, "get", "not-a-uuid"]);
    expect(result).toEqual({ code: 64, stdout: "", stderr: "Error: key is not a valid UUID4\n" });
    expect(node.connectionCount).toBe(0);
  });

  test("an unterminated quote in --exec is a usage error, exit 64", async () => {
    const result = await runClient(["--exec", `SET ${validKey} "open`]);
    expect(result.code).toBe(64);
    expect(result.stderr).toStartWith("Error: --exec: unterminated double quote\n");
  });

  test("--exec with an invalid key reports it on stderr without connecting, exit 1", async () => {
    const node = silentNode();
    const args = ["--connect", node.endpoint, ...fast, "--exec", "SET not-a-uuid x"];
    const result = await runClient(args);
    expect(result.stderr).toBe("Error: key is not a valid UUID4\n");
    expect(result.stdout).toBe("");
    expect(result.code).toBe(1);
    expect(node.connectionCount).toBe(0);
  });

  test("--exec HELP needs no cluster and exits 0", async () => {
    const node = silentNode();
    const result = await runClient(["--connect", node.endpoint, "--exec", "HELP"]);
    expect(result.stdout).toContain("SET <uuid4> <value>");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(node.connectionCount).toBe(0);
  });

  test("piped stdin: every line runs, errors are printed, exit 1 when one failed", async () => {
    const node = silentNode();
    const result = await runClient(["--connect", node.endpoint, ...fast], "GET nope\nhelp\nFOO\n");
    expect(result.stdout).toStartWith("Commands (case-insensitive");
    expect(result.stderr).toBe(
      'Error: key is not a valid UUID4\nError: unknown command "FOO" (type HELP)\n',
    );
    expect(result.code).toBe(1);
    expect(node.connectionCount).toBe(0);
  });

  test("--json prints a local error as a JSON object", async () => {
    const result = await runClient(["--json", "--exec", "GET nope"]);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      error: { code: "INVALID_KEY", message: "key is not a valid UUID4" },
    });
    expect(result.code).toBe(1);
  });

  test("an unreachable cluster: exit 2 and an UNAVAILABLE error on stderr", async () => {
    const node = silentNode();
    const args = ["--connect", node.endpoint, ...fast, "--exec", `GET ${validKey}`];
    const result = await runClient(args);
    expect(result.stderr).toStartWith("Error UNAVAILABLE: ");
    expect(result.stdout).toBe("");
    expect(result.code).toBe(2);
    expect(node.connectionCount).toBeGreaterThan(0);
  });
});
