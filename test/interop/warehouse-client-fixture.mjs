// A real libzmq client of a Warehouse node (the `zeromq` package, libzmq 4.3.5), run under Node
// because the add-on aborts under Bun. It knows nothing of Warehouse: it sends the request texts
// it is given, one at a time, and prints what comes back; the test decides what is right.
//   node warehouse-client-fixture.mjs dealer   <endpoint> <JSON array of request texts>
//   node warehouse-client-fixture.mjs envelope <endpoint> <JSON array of request texts>
//   node warehouse-client-fixture.mjs req      <endpoint> <JSON array of request texts>
//   node warehouse-client-fixture.mjs sub      <pub endpoint> <message count>
// dealer sends each request as one frame; envelope sends it after an empty delimiter frame (as
// a REQ would, but from a DEALER, so the test sees the envelope come back); req uses a REQ.
// stdout, one JSON object per line: {"index": i, "frames": [utf8 text, ...]} per reply or
// heartbeat, then {"done": true}; {"error": text} and exit 1 when a reply does not come in time.
import * as zmq from "zeromq";

const REPLY_TIMEOUT_MS = 5_000;

const [mode = "", endpoint = "", arg = ""] = process.argv.slice(2);

function print(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

function fail(message) {
  print({ error: message });
  process.exit(1);
}

const texts = (frames) => frames.map((frame) => Buffer.from(frame).toString("utf8"));

function makeSocket() {
  const options = { linger: 0, receiveTimeout: REPLY_TIMEOUT_MS };
  switch (mode) {
    case "dealer":
    case "envelope":
      return new zmq.Dealer(options);
    case "req":
      return new zmq.Request(options);
    case "sub":
      return new zmq.Subscriber(options);
    default:
      return fail(`unknown mode ${JSON.stringify(mode)}`);
  }
}

async function receive(sock, what) {
  try {
    return await sock.receive();
  } catch (error) {
    return fail(`no ${what} within ${REPLY_TIMEOUT_MS} ms: ${String(error)}`);
  }
}

async function runRequests(sock) {
  const requests = JSON.parse(arg);
  for (let index = 0; index < requests.length; index++) {
    const body = requests[index];
    await sock.send(mode === "envelope" ? ["", body] : [body]);
    print({ index, frames: texts(await receive(sock, `reply to request ${index}`)) });
  }
}

async function runSubscriber(sock) {
  sock.subscribe("hb");
  const count = Number(arg);
  for (let index = 0; index < count; index++) {
    print({ index, frames: texts(await receive(sock, `heartbeat ${index}`)) });
  }
}

const sock = makeSocket();
sock.connect(endpoint);
if (mode === "sub") await runSubscriber(sock);
else await runRequests(sock);
sock.close();
print({ done: true });
