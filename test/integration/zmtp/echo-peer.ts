// A peer process for reconnect tests: binds one of our sockets on 127.0.0.1:<port> (0 = any) and
// prints {"ready":true,"endpoint":...} on stdout. Runs until killed; asserts nothing.
//   bun echo-peer.ts router <port>   ROUTER that echoes every message back to its sender
//   bun echo-peer.ts pub <port>      PUB publishing [topic, seq, pid] for topics a, b every 5 ms
import { Publisher, Router } from "../../../lib/zmtp/index.ts";

const [mode = "router", port = "0"] = process.argv.slice(2);
const endpoint = `tcp://127.0.0.1:${port}`;

if (mode === "router") {
  const router = new Router({ lingerMs: 0 });
  const bound = await router.bind(endpoint);
  console.log(JSON.stringify({ ready: true, endpoint: bound }));
  for await (const message of router) await router.send(message);
} else if (mode === "pub") {
  const pub = new Publisher({ lingerMs: 0 });
  const bound = await pub.bind(endpoint);
  console.log(JSON.stringify({ ready: true, endpoint: bound }));
  let seq = 0;
  setInterval(() => {
    seq++;
    void pub.send(["a", String(seq), String(process.pid)]);
    void pub.send(["b", String(seq), String(process.pid)]);
  }, 5);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
