// A real libzmq client (the `zeromq` package, libzmq 4.3.5, under Node) sends a request over a
// node's message limit: it gets BAD_REQUEST naming the limit on the same connection, through a
// DEALER and through a REQ (whose envelope must come back intact), and its next request works.
import { expect, test } from "bun:test";
import { Cluster, waitFor } from "../harness/cluster.ts";
import { runToEnd } from "../harness/run.ts";

const FIXTURE = new URL("./warehouse-client-fixture.mjs", import.meta.url).pathname;
const FIXTURE_DEADLINE_MS = 15_000;
const VALUE_BYTES_MAX = 1024;
/** The request limit for --max-value 1024: 6 bytes per value byte (JSON escapes) + 64 KiB. */
const LIMIT = VALUE_BYTES_MAX * 6 + 65536;

type Json = Record<string, unknown>;

async function replies(mode: string, endpoint: string, requests: Json[]): Promise<Json[]> {
  const arg = JSON.stringify(requests.map((r) => JSON.stringify(r)));
  const { code, stdout, stderr } = await runToEnd(["node", FIXTURE, mode, endpoint, arg], {
    deadlineMs: FIXTURE_DEADLINE_MS,
  });
  const lines = stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Json);
  if (code !== 0 || lines.at(-1)?.["done"] !== true) {
    throw new Error(`fixture ${mode} failed (exit ${code}): ${stdout}${stderr}`);
  }
  return lines.slice(0, -1).map((line) => {
    const frames = line["frames"] as string[];
    return JSON.parse(frames.at(-1) ?? "null") as Json;
  });
}

test("libzmq DEALER and REQ: an oversized request gets BAD_REQUEST, then a normal one works",
  async () => {
    await using cluster = new Cluster();
    const node = await cluster.start({
      id: 1, rf: 1, httpPort: "off", extraArgs: ["--max-value", String(VALUE_BYTES_MAX)],
    });
    const key = crypto.randomUUID();
    // 100,000 bytes: over the limit, yet within what one command-line argument may hold.
    const huge = { id: 1, op: "SET", key, value: "y".repeat(100_000) };
    const size = new TextEncoder().encode(JSON.stringify(huge)).length;
    expect(size).toBeGreaterThan(LIMIT);
    const expected = {
      id: 1, ok: false, error: {
        code: "BAD_REQUEST",
        message: `request of ${size} bytes is over the limit of ${LIMIT} bytes (values up to ` +
          `${VALUE_BYTES_MAX} bytes fit)`,
      },
    };
    for (const mode of ["dealer", "req"]) {
      // The node may still be taking the lead: SET retried until it is created.
      let answers: Json[] = [];
      await waitFor(async () => {
        answers = await replies(mode, node.endpoint, [
          huge, { id: 2, op: "SET", key, value: mode }, { id: 3, op: "GET", key },
        ]);
        return answers[1]?.["ok"] === true;
      }, { what: `a ${mode} SET to succeed after the oversized request`, timeoutMs: 30_000 });
      expect(answers[0]).toEqual(expected);
      expect(answers[2]).toMatchObject({ id: 3, ok: true, found: true, value: mode });
    }
  }, 60_000);
