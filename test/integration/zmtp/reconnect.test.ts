// Connection lifecycle between our sockets across processes: connect before bind, and reconnect
// after the peer process is SIGKILLed and restarted on the same port (queued messages delivered,
// SUB subscriptions re-sent). The peer is test/integration/zmtp/echo-peer.ts run by Bun.
import { expect, test } from "bun:test";
import { Dealer, Subscriber } from "../../../lib/zmtp/index.ts";
import { recordEvents, text, texts, waitFor, within } from "../../harness/zmtp.ts";
import { useCleanups } from "../../harness/cleanup.ts";

const PEER = new URL("./echo-peer.ts", import.meta.url).pathname;
const BUN = process.execPath;

const { defer, track } = useCleanups();

interface PeerProcess {
  endpoint: string;
  pid: number;
  kill(): Promise<void>;
}

/** Starts echo-peer.ts and waits for its ready line; killed after the test whatever happens. */
async function startPeer(mode: "router" | "pub", port = 0): Promise<PeerProcess> {
  const proc = Bun.spawn([BUN, PEER, mode, String(port)], { stdout: "pipe", stderr: "inherit" });
  const kill = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await proc.exited;
  };
  defer(kill);
  const reader = proc.stdout.getReader();
  let line = "";
  const readLine = async (): Promise<string> => {
    const decoder = new TextDecoder();
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`echo-peer ${mode} exited before it was ready`);
      line += decoder.decode(value);
    }
    return line.slice(0, line.indexOf("\n"));
  };
  const ready = JSON.parse(await within(readLine(), 10_000, `echo-peer ${mode} ready`));
  reader.releaseLock();
  return { endpoint: String(ready.endpoint), pid: proc.pid, kill };
}

const port = (endpoint: string): number => Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));

test("reconnect after the peer process is SIGKILLed and restarted on the same port", async () => {
  const first = await startPeer("router");
  const dealer = track(new Dealer({ lingerMs: 0, routingId: "client-1" }));
  const events = recordEvents(dealer);
  dealer.connect(first.endpoint);
  await dealer.send(["before", "kill"]);
  expect(texts(await within(dealer.receive(), 5_000, "echo before the kill"))).toEqual([
    "before",
    "kill",
  ]);

  await first.kill();
  await waitFor(() => events.some((e) => e.type === "disconnected"), { what: "the disconnect" });
  // Sent while the peer is down: they wait in the connect-side queue.
  for (let i = 0; i < 5; i++) await dealer.send(["queued", String(i)]);

  const second = await startPeer("router", port(first.endpoint));
  expect(second.endpoint).toBe(first.endpoint);
  for (let i = 0; i < 5; i++) {
    expect(texts(await within(dealer.receive(), 5_000, `queued echo ${i}`))).toEqual([
      "queued",
      String(i),
    ]);
  }
  expect(events.filter((e) => e.type === "connected").length).toBe(2);
});

test("reconnectNow dials a peer that is back at once instead of waiting out the backoff", async () => {
  const gone = await startPeer("router");
  await gone.kill();
  // A backoff far longer than the deadlines below: only reconnectNow can connect in time.
  const dealer = track(
    new Dealer({ lingerMs: 0, reconnectIvlMs: 60_000, reconnectIvlMaxMs: 60_000 }),
  );
  const events = recordEvents(dealer);
  dealer.connect(gone.endpoint);
  await waitFor(() => events.some((e) => e.type === "connect-retry"), {
    what: "the first dial to fail and a retry to be scheduled",
  });
  const retry = events.find((e) => e.type === "connect-retry");
  expect(retry).toMatchObject({ endpoint: gone.endpoint });
  expect((retry as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(60_000);

  const back = await startPeer("router", port(gone.endpoint));
  await dealer.send(["after", "restart"]);
  dealer.reconnectNow(back.endpoint);
  expect(texts(await within(dealer.receive(), 5_000, "the echo after reconnectNow"))).toEqual([
    "after",
    "restart",
  ]);
  expect(events.filter((e) => e.type === "connected").length).toBe(1);
});

test("connect before bind: messages sent first are delivered once the peer appears", async () => {
  // A port that was just in use and is free now (the peer process is gone), never a fixed one.
  const gone = await startPeer("router");
  await gone.kill();
  const dealer = track(new Dealer({ lingerMs: 0 }));
  dealer.connect(gone.endpoint);
  await dealer.send(["early", "1"]);
  await dealer.send(["early", "2"]);

  await startPeer("router", port(gone.endpoint));
  expect(texts(await within(dealer.receive(), 5_000, "first echo"))).toEqual(["early", "1"]);
  expect(texts(await within(dealer.receive(), 5_000, "second echo"))).toEqual(["early", "2"]);
});

test("SUB re-sends its subscriptions to a restarted PUB process", async () => {
  const first = await startPeer("pub");
  const sub = track(new Subscriber({ lingerMs: 0 }));
  const events = recordEvents(sub);
  sub.subscribe("a");
  sub.connect(first.endpoint);
  expect(text((await within(sub.receive(), 5_000, "a from the first PUB"))[0])).toBe("a");

  await first.kill();
  await waitFor(() => events.some((e) => e.type === "disconnected"), { what: "the disconnect" });
  const second = await startPeer("pub", port(first.endpoint));
  // Messages the first process sent before the kill may still be queued: skip them. The new
  // process publishes "a" to us only if our SUBSCRIBE reached it on the new connection.
  const fromSecond: string[] = [];
  while (fromSecond.length < 3) {
    const [topic, , pid] = await within(sub.receive(), 5_000, "a from the restarted PUB");
    if (text(pid) === String(second.pid)) fromSecond.push(text(topic));
    else expect(text(pid)).toBe(String(first.pid));
  }
  expect(fromSecond).toEqual(["a", "a", "a"]);
});
