// `bun bench/curve-crypto.ts`: the CURVE crypto backends side by side, libsodium (WebAssembly,
// libsodium-wrappers) and @noble/curves + @noble/ciphers (pure JavaScript), through our own
// CURVE code (lib/zmtp/curve.ts) so the figures include what a connection really does:
// - full handshakes per second (client and server state machines, HELLO to READY, in-process);
// - MESSAGE box and open per second for one 64 B and one 4 KiB frame (CurveCodec).
// Rates are per second of this process's CPU time, not of wall time, so that other processes
// competing for the cores do not distort the comparison (the loops are single-threaded).
// One JSON line per case on stdout. A script, not a test: it measures, it asserts nothing.
import "./help.ts";
import { encodeMetadata, parseCommand } from "../lib/zmtp/codec.ts";
import {
  CurveClientHandshake,
  type CurveCodec,
  CurveServerHandshake,
  type CurveStep,
} from "../lib/zmtp/curve.ts";
import { type CurveCrypto, loadCurveCrypto } from "../lib/zmtp/curve-crypto.ts";

const DURATION_MS = Number(process.env.BENCH_MS ?? 1500);
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const metadata = encodeMetadata("DEALER", new Uint8Array(0));

function commandOf(frame: Uint8Array): { name: string; data: Uint8Array } {
  const body = frame.subarray((frame[0] as number) & 0x02 ? 9 : 2);
  const command = parseCommand(body);
  if (command instanceof Error) throw command;
  return command;
}

function sent(step: CurveStep): Uint8Array {
  if (step.kind === "error") throw step.error;
  return step.send[0] as Uint8Array;
}

/** One whole handshake; returns both codecs. */
function handshake(c: CurveCrypto, server: Keys, client: Keys): [CurveCodec, CurveCodec] {
  const clientSide = new CurveClientHandshake({
    crypto: c, random, ...client, serverKey: server.publicKey, metadata,
  });
  const serverSide = new CurveServerHandshake({ crypto: c, random, ...server, metadata });
  const feed = (side: CurveClientHandshake | CurveServerHandshake, frame: Uint8Array) => {
    const { name, data } = commandOf(frame);
    return side.onCommand(name, data);
  };
  const welcome = sent(feed(serverSide, sent(clientSide.start())));
  const initiate = sent(feed(clientSide, welcome));
  const readyStep = feed(serverSide, initiate);
  const doneStep = feed(clientSide, sent(readyStep));
  if (readyStep.kind !== "done" || doneStep.kind !== "done") throw new Error("no handshake");
  return [doneStep.peer.codec, readyStep.peer.codec];
}

interface Keys {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

function keys(c: CurveCrypto): Keys {
  const secretKey = random(32);
  return { publicKey: c.publicKeyOf(secretKey), secretKey };
}

/** CPU milliseconds this process has used. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs `op` repeatedly for DURATION_MS of CPU time; returns operations per CPU second. */
function rate(op: () => void): number {
  for (let i = 0; i < 20; i++) op();
  let count = 0;
  const t0 = cpuMs();
  let elapsed = 0;
  while (elapsed < DURATION_MS) {
    for (let i = 0; i < 10; i++) op();
    count += 10;
    elapsed = cpuMs() - t0;
  }
  return Math.round((count * 1000) / elapsed);
}

function messageRates(c: CurveCrypto, size: number): { boxPerSec: number; openPerSec: number } {
  const [clientCodec, serverCodec] = handshake(c, keys(c), keys(c));
  const body = new Uint8Array(size).fill(7);
  const out = new Uint8Array(clientCodec.frameBytes(size));
  const boxPerSec = rate(() => clientCodec.writeFrame(body, 0, out, 0));
  // Open needs fresh nonces: box a batch ahead (untimed), then open them in order.
  const frames: Uint8Array[] = [];
  const fill = () => {
    frames.length = 0;
    for (let i = 0; i < 4096; i++) frames.push(commandOf(clientCodec.encodeFrame(body, 0)).data);
  };
  fill();
  let next = 0;
  let openMs = 0;
  let opened = 0;
  while (openMs < DURATION_MS) {
    const t0 = cpuMs();
    for (; next < frames.length; next++) {
      if (serverCodec.open(frames[next] as Uint8Array) instanceof Error) throw new Error("open");
    }
    openMs += cpuMs() - t0;
    opened += frames.length;
    fill();
    next = 0;
  }
  return { boxPerSec, openPerSec: Math.round((opened * 1000) / openMs) };
}

const backends = [
  await loadCurveCrypto("libsodium-native"),
  await loadCurveCrypto("libsodium"),
  await loadCurveCrypto("noble"),
];
for (const c of backends) {
  const server = keys(c);
  const client = keys(c);
  const line: Record<string, unknown> = {
    backend: c.name,
    handshakesPerSec: rate(() => handshake(c, server, client)),
  };
  for (const size of [64, 4096]) {
    const { boxPerSec, openPerSec } = messageRates(c, size);
    line[`box${size}PerSec`] = boxPerSec;
    line[`open${size}PerSec`] = openPerSec;
    line[`box${size}MBps`] = Math.round((boxPerSec * size) / 1e6);
  }
  console.log(JSON.stringify(line));
}
