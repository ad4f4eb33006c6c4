// A real libzmq peer (the `zeromq` package, libzmq 4.3.5) for the interop tests, run under Node
// because the add-on aborts under Bun. It owns one socket, driven over stdin/stdout JSON lines:
//   argv: <dealer|router|req|pub|sub|xpub|xsub> [zeromq constructor options JSON, plus "echo"
//         and "events" (report the socket's handshake events as {"event":"socket-event",...})]
//   stdin:  {"id":1,"op":"bind","endpoint":"tcp://127.0.0.1:0"}  ->  {"id":1,"ok":true,...}
//   stdout: {"event":"message","frames":[base64,...]} for every message received.
// Frames travel as base64 strings, or as {"fill":byte,"size":n} on input to avoid huge lines.
// It must not decide anything for the test: it only does what it is told and reports it.
import * as zmq from "zeromq";
import { createInterface } from "node:readline";

const [type = "", optionsJson = "{}"] = process.argv.slice(2);
const { echo = false, events = false, ...socketOptions } = JSON.parse(optionsJson);

const constructors = {
  dealer: zmq.Dealer,
  router: zmq.Router,
  req: zmq.Request,
  pub: zmq.Publisher,
  sub: zmq.Subscriber,
  xpub: zmq.XPublisher,
  xsub: zmq.XSubscriber,
};
const Ctor = constructors[type];
if (Ctor === undefined) {
  process.stderr.write(`unknown socket type ${type}\n`);
  process.exit(2);
}
const sock = new Ctor({ linger: 0, ...socketOptions });

function print(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

function decodeFrame(spec) {
  if (typeof spec === "string") return Buffer.from(spec, "base64");
  return Buffer.alloc(spec.size, spec.fill);
}

const encodeFrames = (frames) => frames.map((f) => Buffer.from(f).toString("base64"));

async function receiveLoop() {
  try {
    for await (const frames of sock) {
      print({ event: "message", frames: encodeFrames(frames) });
      if (echo) await sock.send(frames);
    }
  } catch (error) {
    if (!sock.closed) print({ event: "receive-error", error: String(error) });
  }
}

/** ROUTER_MANDATORY: EHOSTUNREACH until the peer's handshake is done; retry until deadline. */
async function sendRetry(frames, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let failures = 0;
  for (;;) {
    try {
      await sock.send(frames);
      return { failures };
    } catch (error) {
      if (error.code !== "EHOSTUNREACH" || Date.now() > deadline) throw error;
      failures++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const handlers = {
  bind: async (c) => {
    await sock.bind(c.endpoint);
    return { endpoint: sock.lastEndpoint };
  },
  connect: async (c) => {
    sock.connect(c.endpoint);
    return {};
  },
  disconnect: async (c) => {
    sock.disconnect(c.endpoint);
    return {};
  },
  send: async (c) => {
    await sock.send(c.frames.map(decodeFrame));
    return {};
  },
  sendRetry: async (c) => sendRetry(c.frames.map(decodeFrame), c.timeoutMs ?? 5000),
  /** Sends `count` copies, each with its index appended as a last frame. */
  sendMany: async (c) => {
    const frames = c.frames.map(decodeFrame);
    for (let i = 0; i < c.count; i++) await sock.send([...frames, String(i)]);
    return {};
  },
  request: async (c) => {
    await sock.send(c.frames.map(decodeFrame));
    const reply = await sock.receive();
    return { reply: encodeFrames(reply) };
  },
  subscribe: async (c) => {
    sock.subscribe(Buffer.from(c.topic, "base64"));
    return {};
  },
  unsubscribe: async (c) => {
    sock.unsubscribe(Buffer.from(c.topic, "base64"));
    return {};
  },
  close: async () => {
    sock.close();
    setImmediate(() => process.exit(0));
    return {};
  },
};

// Commands run one at a time, in order, so "send A then send B" means that on the wire too.
let chain = Promise.resolve();
createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "") return;
  const command = JSON.parse(line);
  chain = chain.then(async () => {
    const handler = handlers[command.op];
    try {
      if (handler === undefined) throw new Error(`unknown op ${command.op}`);
      print({ id: command.id, ok: true, ...(await handler(command)) });
    } catch (error) {
      print({ id: command.id, ok: false, code: error.code ?? null, error: String(error) });
    }
  });
});
process.stdin.on("end", () => process.exit(0));

async function eventLoop() {
  for await (const event of sock.events) {
    if (event.type.startsWith("handshake")) {
      print({ event: "socket-event", type: event.type, error: event.error?.message ?? null });
    }
  }
}

if (type !== "pub" && type !== "req") void receiveLoop();
if (events) void eventLoop();
print({ event: "started", type, libzmq: zmq.version });
