// CURVE interop with libzmq 4.3.4 through Debian's python3-zmq (/usr/bin/python3): a pyzmq
// DEALER with the right keys reaches our ROUTER and gets its echo, one with a wrong key or
// NULL is refused, and our DEALER completes against a pyzmq CURVE ROUTER.
import { describe, expect, test } from "bun:test";
import { z85Encode } from "../../lib/util/z85.ts";
import {
  Dealer,
  Router,
  type SocketEvent,
  loadCurveCrypto,
} from "../../lib/zmtp/index.ts";
import { useCleanups } from "../harness/cleanup.ts";
import { recordEvents, text, texts, waitFor, within } from "../harness/zmtp.ts";
import { PyzmqPeer, type PyzmqReport } from "./pyzmq-peer.ts";

const { track, own } = useCleanups();
const crypto = await loadCurveCrypto();

function keyPair() {
  const secretKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return { publicKey: crypto.publicKeyOf(secretKey), secretKey };
}

const z85 = (key: Uint8Array): string => z85Encode(key) as string;

function clientOptions(own: ReturnType<typeof keyPair>, serverKey: Uint8Array, send: string[]) {
  return {
    serverKey: z85(serverKey),
    publicKey: z85(own.publicKey),
    secretKey: z85(own.secretKey),
    send,
  };
}

async function echoRouter(authenticate?: (key: Uint8Array) => boolean) {
  const server = keyPair();
  const router = track(
    new Router({
      lingerMs: 0,
      curve: { crypto, ...server, ...(authenticate === undefined ? {} : { authenticate }) },
    }),
  );
  const events = recordEvents(router);
  const endpoint = await router.bind("tcp://127.0.0.1:0");
  const received: Uint8Array[][] = [];
  void (async () => {
    for await (const message of router) {
      received.push(message);
      await router.send(message);
    }
  })();
  return { server, router, events, endpoint, received };
}

const failed = (events: SocketEvent[]) =>
  events.flatMap((e) => (e.type === "handshake-failed" ? [e.reason] : []));

const isMessage = (r: PyzmqReport): r is Extract<PyzmqReport, { event: "message" }> =>
  r.event === "message";

describe("pyzmq (libzmq 4.3.4) CURVE client -> our ROUTER", () => {
  test("right keys: echoed, and the ROUTER saw the client's key", async () => {
    const client = keyPair();
    let seenKey: Uint8Array | undefined;
    const { server, endpoint, received } = await echoRouter((key) => {
      seenKey = key;
      return true;
    });
    const options = clientOptions(client, server.publicKey, ["a", "b"]);
    const peer = own(PyzmqPeer.client(endpoint, options));
    const reply = await peer.next("the echo at pyzmq", isMessage);
    expect(reply.frames.map((f) => Buffer.from(f, "base64").toString())).toEqual(["a", "b"]);
    expect(texts((received[0] as Uint8Array[]).slice(1))).toEqual(["a", "b"]);
    expect(seenKey).toEqual(client.publicKey);
    // The monitor socket reports on its own, so this may trail the messages.
    await waitFor(() => peer.monitorEvents().includes("HANDSHAKE_SUCCEEDED"), {
      what: "pyzmq to report the completed handshake",
    });
  });

  test("wrong server key: refused, nothing delivered either way", async () => {
    const { events, endpoint, received } = await echoRouter();
    const peer = own(
      PyzmqPeer.client(endpoint, clientOptions(keyPair(), keyPair().publicKey, ["sneak"])),
    );
    await waitFor(() => failed(events).length > 0, { what: "our ROUTER to refuse the HELLO" });
    expect(failed(events)[0]).toContain("CURVE HELLO failed authentication");
    expect(received).toEqual([]);
    expect(peer.messages()).toEqual([]);
  });

  test("a key the server does not admit: ERROR, reported by libzmq as auth failure", async () => {
    const { server, endpoint, received } = await echoRouter(() => false);
    const peer = own(PyzmqPeer.client(endpoint, clientOptions(keyPair(), server.publicKey, ["x"])));
    await waitFor(() => peer.monitorEvents().includes("HANDSHAKE_FAILED_AUTH"), {
      what: "pyzmq to report the refusal",
    });
    expect(received).toEqual([]);
  });

  test("NULL client: refused", async () => {
    const { endpoint, received } = await echoRouter();
    const peer = own(PyzmqPeer.client(endpoint, { send: ["plain"] }));
    await waitFor(() => peer.monitorEvents().includes("HANDSHAKE_FAILED_PROTOCOL"), {
      what: "pyzmq to report the mechanism mismatch",
    });
    expect(received).toEqual([]);
  });
});

describe("our CURVE DEALER -> pyzmq CURVE ROUTER", () => {
  test("request and echo", async () => {
    const server = keyPair();
    const peer = own(PyzmqPeer.server({ secretKey: z85(server.secretKey) }));
    const isBound = (r: PyzmqReport): r is Extract<PyzmqReport, { event: "bound" }> =>
      r.event === "bound";
    const bound = await peer.next("pyzmq to bind", isBound);
    const dealer = track(
      new Dealer({ lingerMs: 0, curve: { crypto, ...keyPair(), serverKey: server.publicKey } }),
    );
    dealer.connect(bound.endpoint);
    await dealer.send(["hello", "pyzmq"]);
    expect(texts(await within(dealer.receive(), 5_000, "the echo"))).toEqual(["hello", "pyzmq"]);
    // The fixture reports what it received on its stdout, which may arrive after the echo.
    await waitFor(() => peer.messages().length > 0, { what: "pyzmq to report the message" });
    const [, first] = peer.messages()[0] as Uint8Array[];
    expect(text(first)).toBe("hello");
  });
});
