// Interop of our CURVE mechanism with libzmq 4.3.5's (zeromq.js under Node): a libzmq client
// with the right keys talks to our server, with a wrong server key, NULL, or a key the server
// does not admit it is refused; our client works against a libzmq CURVE server and is refused
// with a wrong key; PUB/SUB work over CURVE; one byte changed in transit ends the connection
// and nothing is delivered.
import { describe, expect, test } from "bun:test";
import { z85Encode } from "../../lib/util/z85.ts";
import {
  type CurveCrypto,
  Dealer,
  Publisher,
  Router,
  type SocketEvent,
  Subscriber,
  loadCurveCrypto,
} from "../../lib/zmtp/index.ts";
import { useCleanups } from "../harness/cleanup.ts";
import { TamperProxy } from "../harness/tamper-proxy.ts";
import {
  publishUntilReceived,
  recordEvents,
  text,
  texts,
  waitFor,
  within,
} from "../harness/zmtp.ts";
import { LibzmqPeer } from "./libzmq-peer.ts";

const { track, own, defer } = useCleanups();
const crypto: CurveCrypto = await loadCurveCrypto();

function keyPair() {
  const secretKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return { publicKey: crypto.publicKeyOf(secretKey), secretKey };
}

type KeyPair = ReturnType<typeof keyPair>;

/** zeromq.js options of a CURVE client holding `own` and trusting `serverKey`. */
function libzmqClient(own: KeyPair, serverKey: Uint8Array): Record<string, unknown> {
  return {
    curveServerKey: z85Encode(serverKey),
    curvePublicKey: z85Encode(own.publicKey),
    curveSecretKey: z85Encode(own.secretKey),
    events: true,
  };
}

function libzmqServer(own: KeyPair): Record<string, unknown> {
  return { curveServer: true, curveSecretKey: z85Encode(own.secretKey), events: true };
}

async function startPeer(...args: Parameters<typeof LibzmqPeer.start>): Promise<LibzmqPeer> {
  return own(await LibzmqPeer.start(...args));
}

async function curveRouter(server: KeyPair, authenticate?: (key: Uint8Array) => boolean) {
  const router = track(
    new Router({
      lingerMs: 0,
      curve: { crypto, ...server, ...(authenticate === undefined ? {} : { authenticate }) },
    }),
  );
  const events = recordEvents(router);
  const endpoint = await router.bind("tcp://127.0.0.1:0");
  return { router, events, endpoint };
}

function failures(events: SocketEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === "handshake-failed" || e.type === "protocol-error" ? [e.reason] : [],
  );
}

/** Resolves with the first message, or undefined while none arrived (checked, not awaited). */
function firstMessage(socket: {
  receive(): Promise<Uint8Array[]>;
}): () => Uint8Array[] | undefined {
  let message: Uint8Array[] | undefined;
  socket.receive().then(
    (m) => (message = m),
    () => undefined,
  );
  return () => message;
}

describe("libzmq CURVE client -> our CURVE ROUTER", () => {
  test("right keys: messages both ways; the ROUTER knows the client's key", async () => {
    const server = keyPair();
    const client = keyPair();
    const { router, endpoint } = await curveRouter(server);
    const dealer = await startPeer("dealer", libzmqClient(client, server.publicKey));
    await dealer.connect(endpoint);
    await dealer.send(["hello", "over", { fill: 3, size: 300 }]);

    const [id, ...body] = await within(router.receive(), 5_000, "the DEALER's message");
    expect(body.map((f) => f.length)).toEqual([5, 4, 300]);
    expect(text(body[0])).toBe("hello");
    expect(router.peerPublicKey(id as Uint8Array)).toEqual(client.publicKey);
    await router.send([id as Uint8Array, "re", ""]);
    expect(texts(await dealer.nextMessage())).toEqual(["re", ""]);
  });

  test("a client with the wrong server key is refused at HELLO", async () => {
    const server = keyPair();
    const { router, events, endpoint } = await curveRouter(server);
    const received = firstMessage(router);
    const dealer = await startPeer("dealer", libzmqClient(keyPair(), keyPair().publicKey));
    await dealer.connect(endpoint);
    await dealer.send(["let me in"]);
    await waitFor(() => failures(events).length > 0, { what: "the refused handshake" });
    expect(failures(events)[0]).toContain("CURVE HELLO failed authentication");
    expect(received()).toBeUndefined();
  });

  test("a NULL client is refused at the greeting", async () => {
    const { router, events, endpoint } = await curveRouter(keyPair());
    const received = firstMessage(router);
    const dealer = await startPeer("dealer", { events: true });
    // No send: once refused, libzmq drops the connection for good and a send would wait.
    await dealer.connect(endpoint);
    // libzmq sees our CURVE greeting and gives up first, so only its side reports the mismatch.
    await waitFor(() => dealer.socketEvents.includes("handshake:error:protocol"), {
      what: "libzmq to report the mechanism mismatch",
    });
    expect(dealer.socketEvents).not.toContain("handshake");
    expect(events.filter((e) => e.type === "accepted")).toEqual([]);
    expect(received()).toBeUndefined();
  });

  test("authenticate admits one key and refuses another with ERROR 400", async () => {
    const server = keyPair();
    const member = keyPair();
    const stranger = keyPair();
    const admitted = (key: Uint8Array) => Buffer.from(key).equals(Buffer.from(member.publicKey));
    const { router, events, endpoint } = await curveRouter(server, admitted);

    const refused = await startPeer("dealer", libzmqClient(stranger, server.publicKey));
    await refused.connect(endpoint);
    await waitFor(() => refused.socketEvents.includes("handshake:error:auth"), {
      what: "libzmq to report the refusal as an authentication failure",
    });
    expect(failures(events)[0]).toBe("CURVE client key is not authorised");

    const good = await startPeer("dealer", libzmqClient(member, server.publicKey));
    await good.connect(endpoint);
    await good.send(["from a member"]);
    const [id, body] = await within(router.receive(), 5_000, "the member's message");
    expect(text(body)).toBe("from a member");
    expect(router.peerPublicKey(id as Uint8Array)).toEqual(member.publicKey);
  });

  test("one byte changed in transit: connection closed, nothing delivered", async () => {
    const server = keyPair();
    const { router, events, endpoint } = await curveRouter(server);
    const port = Number(endpoint.split(":").at(-1));
    // Client bytes before its first MESSAGE: greeting 64, HELLO 2 + 200, INITIATE 9 + 257 +
    // 35 bytes of DEALER metadata. Offset 20 of the MESSAGE frame lies inside its MAC.
    const proxy = new TamperProxy(port, 64 + 202 + 301 + 20);
    defer(() => proxy.stop());
    const dealer = await startPeer("dealer", libzmqClient(keyPair(), server.publicKey));
    await dealer.connect(proxy.endpoint);
    await dealer.send(["tampered"]);
    await waitFor(() => failures(events).length > 0, { what: "the tampered MESSAGE to be caught" });
    expect(proxy.tampered).toBe(1);
    expect(failures(events)).toEqual(["CURVE MESSAGE failed authentication"]);
    // libzmq reconnects through the proxy, which now passes bytes untouched: the next message
    // is the first one ever delivered.
    await dealer.send(["clean"]);
    const [, body] = await within(router.receive(), 5_000, "the message after reconnecting");
    expect(text(body)).toBe("clean");
  });
});

describe("our CURVE DEALER -> libzmq CURVE ROUTER", () => {
  test("right keys: request and echoed reply", async () => {
    const server = keyPair();
    const libzmq = await startPeer("router", { ...libzmqServer(server), echo: true });
    const endpoint = await libzmq.bind();
    const dealer = track(
      new Dealer({ lingerMs: 0, curve: { crypto, ...keyPair(), serverKey: server.publicKey } }),
    );
    dealer.connect(endpoint);
    await dealer.send(["ping"]);
    await dealer.send(["multi", "", "x".repeat(1000)]);
    const first = await within(libzmq.nextMessage(), 5_000, "the first message at libzmq");
    expect(texts(first.slice(1))).toEqual(["ping"]);
    const second = await within(libzmq.nextMessage(), 5_000, "the second message at libzmq");
    expect(second.slice(1).map((f) => f.length)).toEqual([5, 0, 1000]);
    expect(texts(await within(dealer.receive(), 5_000, "the echo"))).toEqual(["ping"]);
    // libzmq reports its events on their own stream, so this line may trail the messages.
    await waitFor(() => libzmq.socketEvents.includes("handshake"), {
      what: "libzmq to report the completed handshake",
    });
  });

  test("a wrong server key: libzmq refuses the HELLO and nothing is delivered", async () => {
    const libzmq = await startPeer("router", libzmqServer(keyPair()));
    const endpoint = await libzmq.bind();
    const dealer = track(
      new Dealer({ lingerMs: 0, curve: { crypto, ...keyPair(), serverKey: keyPair().publicKey } }),
    );
    const events = recordEvents(dealer);
    dealer.connect(endpoint);
    await dealer.send(["should not arrive"]);
    await waitFor(() => libzmq.socketEvents.some((e) => e.startsWith("handshake:error")), {
      what: "libzmq to refuse our HELLO",
    });
    expect(libzmq.socketEvents).not.toContain("handshake");
    expect(events.some((e) => e.type === "connected")).toBe(false);
    expect(libzmq.queuedMessages).toBe(0);
  });
});

describe("PUB/SUB over CURVE with libzmq", () => {
  test("libzmq SUB with keys <- our CURVE PUB", async () => {
    const server = keyPair();
    const pub = track(new Publisher({ lingerMs: 0, curve: { crypto, ...server } }));
    const endpoint = await pub.bind("tcp://127.0.0.1:0");
    const sub = await startPeer("sub", libzmqClient(keyPair(), server.publicKey));
    await sub.subscribe("news");
    await sub.connect(endpoint);
    const first = sub.nextMessage(10_000);
    await publishUntilReceived(() => pub.send(["news", "probe"]), first, "the first publication");
    await pub.send(["other", "filtered out"]);
    await pub.send(["news", "last"]);
    let last = await sub.nextMessage();
    while (text(last[1]) === "probe") last = await sub.nextMessage();
    expect(texts(last)).toEqual(["news", "last"]);
  });

  test("our CURVE SUB <- libzmq CURVE PUB", async () => {
    const server = keyPair();
    const pub = await startPeer("pub", libzmqServer(server));
    const endpoint = await pub.bind();
    const sub = track(
      new Subscriber({ lingerMs: 0, curve: { crypto, ...keyPair(), serverKey: server.publicKey } }),
    );
    sub.subscribe("t");
    sub.connect(endpoint);
    const message = await publishUntilReceived(
      () => pub.send(["t", "boxed"]),
      sub.receive(),
      "a publication over CURVE",
    );
    expect(texts(message)).toEqual(["t", "boxed"]);
  });
});
