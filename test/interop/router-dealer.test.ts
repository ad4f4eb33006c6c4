// Interop: our ROUTER and DEALER against real libzmq 4.3.5 DEALER, ROUTER and REQ sockets
// (zeromq.js under Node), in both bind/connect directions, with multipart, empty, >255-byte and
// 1 MiB frames, peer-set routing ids and ROUTER_MANDATORY.
import { describe, expect, test } from "bun:test";
import { Dealer, Router } from "../../lib/zmtp/index.ts";
import { filled, text, texts, within } from "../harness/zmtp.ts";
import { LibzmqPeer } from "./libzmq-peer.ts";
import { useCleanups } from "../harness/cleanup.ts";

const { track, own } = useCleanups();

async function startPeer(...args: Parameters<typeof LibzmqPeer.start>): Promise<LibzmqPeer> {
  return own(await LibzmqPeer.start(...args));
}

const lingerless = { lingerMs: 0 };
const b64 = (s: string): string => Buffer.from(s).toString("base64");

describe("libzmq DEALER -> our ROUTER", () => {
  test("generated 5-byte routing id, multipart both ways, reply routed back", async () => {
    const router = track(new Router(lingerless));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const dealer = await startPeer("dealer");
    await dealer.connect(endpoint);
    await dealer.send(["hello", "multi", "part"]);

    const [id, ...body] = await within(router.receive(), 5_000, "the DEALER's message");
    expect(body.map((f) => text(f))).toEqual(["hello", "multi", "part"]);
    expect(id?.length).toBe(5);
    expect(id?.[0]).toBe(0);

    await router.send([id as Uint8Array, "re", "ply"]);
    expect(texts(await dealer.nextMessage())).toEqual(["re", "ply"]);
  });

  test("a routing id set on the libzmq DEALER is used as is and echoed", async () => {
    const router = track(new Router(lingerless));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const dealer = await startPeer("dealer", { routingId: "abc" });
    await dealer.connect(endpoint);
    await dealer.send(["ping"]);

    const message = await within(router.receive(), 5_000, "the DEALER's message");
    expect(texts(message)).toEqual(["abc", "ping"]);
    await router.send(["abc", "pong"]);
    expect(texts(await dealer.nextMessage())).toEqual(["pong"]);
    expect(router.peerIds.map((id) => text(id))).toEqual(["abc"]);
  });

  test("empty frames, 255/256-byte frames and a 1 MiB frame survive both directions", async () => {
    const router = track(new Router(lingerless));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const dealer = await startPeer("dealer", { routingId: "big" });
    await dealer.connect(endpoint);
    const mib = 1024 * 1024;
    const frames = ["", { fill: 7, size: 255 }, { fill: 8, size: 256 }, "", { fill: 9, size: mib }];
    await dealer.send(frames);

    const message = await within(router.receive(), 10_000, "the large message");
    expect(message.map((f) => f.length)).toEqual([3, 0, 255, 256, 0, mib]);
    expect(message[2]?.every((b) => b === 7)).toBe(true);
    expect(message[3]?.every((b) => b === 8)).toBe(true);
    expect(message[5]?.every((b) => b === 9)).toBe(true);

    const big = filled(mib, 3);
    await router.send(["big", new Uint8Array(0), filled(255), filled(256), big, ""]);
    const back = await dealer.nextMessage(10_000);
    expect(back.map((f) => f.length)).toEqual([0, 255, 256, mib, 0]);
    expect(back[1]).toEqual(filled(255));
    expect(back[2]).toEqual(filled(256));
    expect(Buffer.compare(back[3] as Uint8Array, big)).toBe(0);
  });
});

describe("our DEALER -> libzmq ROUTER", () => {
  test("libzmq ROUTER bound: sees our routing id and its echo comes back", async () => {
    const router = await startPeer("router", { echo: true });
    const endpoint = await router.bind();
    const dealer = track(new Dealer({ ...lingerless, routingId: "ours-1" }));
    dealer.connect(endpoint);
    await dealer.send(["one", "", "three"]);

    expect(texts(await router.nextMessage())).toEqual(["ours-1", "one", "", "three"]);
    expect(texts(await within(dealer.receive(), 5_000, "the echo"))).toEqual(["one", "", "three"]);
  });

  test("without a routing id libzmq generates one (5 bytes, leading zero)", async () => {
    const router = await startPeer("router", { echo: true });
    const endpoint = await router.bind();
    const dealer = track(new Dealer(lingerless));
    dealer.connect(endpoint);
    await dealer.send(["anon"]);
    const [id, body] = await router.nextMessage();
    expect(id?.length).toBe(5);
    expect(id?.[0]).toBe(0);
    expect(text(body)).toBe("anon");
    expect(texts(await within(dealer.receive(), 5_000, "the echo"))).toEqual(["anon"]);
  });

  test("swapped: our DEALER binds, libzmq ROUTER connects", async () => {
    const dealer = track(new Dealer({ ...lingerless, routingId: "bound-dealer" }));
    const endpoint = await dealer.bind("tcp://127.0.0.1:0");
    const router = await startPeer("router", { echo: true });
    await router.connect(endpoint);
    // A bound DEALER has no peer until libzmq connects: send waits for it.
    await within(dealer.send(["first", "x".repeat(300)]), 5_000, "a peer for the bound DEALER");

    const seen = await router.nextMessage();
    expect(texts(seen)).toEqual(["bound-dealer", "first", "x".repeat(300)]);
    const echo = await within(dealer.receive(), 5_000, "the echo");
    expect(texts(echo)).toEqual(["first", "x".repeat(300)]);
  });

  test("libzmq ROUTER_MANDATORY: reaches our DEALER, refuses an unknown id", async () => {
    const router = await startPeer("router", { mandatory: true });
    const endpoint = await router.bind();
    const dealer = track(new Dealer({ ...lingerless, routingId: "mand" }));
    dealer.connect(endpoint);
    // EHOSTUNREACH until our handshake has registered "mand" at libzmq; the fixture retries.
    const sent = await router.call("sendRetry", { frames: [b64("mand"), b64("direct")] });
    expect(sent.ok).toBe(true);
    expect(texts(await within(dealer.receive(), 5_000, "the mandatory send"))).toEqual(["direct"]);

    // With a peer present, an unknown id fails at once. (With no peer at all, libzmq's mandatory
    // ROUTER reports no POLLOUT, so zeromq.js waits instead of failing.)
    const nobody = await router.tryCall("send", { frames: [b64("nobody"), b64("hi")] });
    expect(nobody.ok).toBe(false);
    expect(nobody.code).toBe("EHOSTUNREACH");
  });
});

describe("libzmq REQ -> our ROUTER", () => {
  test("envelope [id, empty delimiter, body] arrives; the echoed reply reaches REQ", async () => {
    const router = track(new Router(lingerless));
    const endpoint = await router.bind("tcp://127.0.0.1:0");
    const req = await startPeer("req", { routingId: "req-1" });
    await req.connect(endpoint);

    const replyPromise = req.request(["question"]);
    const message = await within(router.receive(), 5_000, "the request");
    expect(message.map((f) => text(f))).toEqual(["req-1", "", "question"]);
    await router.send([...message.slice(0, 2), "answer"]);
    expect(texts(await replyPromise)).toEqual(["answer"]);

    // A second round trip proves REQ's state machine accepted our reply as a whole.
    const second = req.request(["again", "two frames"]);
    const [id, delimiter, ...body] = await within(router.receive(), 5_000, "the second request");
    expect(delimiter?.length).toBe(0);
    expect(body.map((f) => text(f))).toEqual(["again", "two frames"]);
    await router.send([id as Uint8Array, new Uint8Array(0), "second answer"]);
    expect(texts(await second)).toEqual(["second answer"]);
  });
});
