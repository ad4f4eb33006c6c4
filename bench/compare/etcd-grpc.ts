// etcd's v3 KV over gRPC without a gRPC library: one HTTP/2 session (node:http2), requests framed
// as gRPC messages, PutRequest and RangeRequest hand-encoded in protobuf (two bytes fields).
// On this machine it gives etcd 1.5–3× the throughput of its JSON gateway, so it is the default.
import http2 from "node:http2";

const encoder = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  let rest = n;
  while (rest > 127) {
    out.push((rest & 127) | 128);
    rest >>>= 7;
  }
  out.push(rest);
  return out;
}

/** A length-delimited protobuf field (wire type 2) with field number `field`. */
export function bytesField(field: number, bytes: Uint8Array): Uint8Array {
  const head = [(field << 3) | 2, ...varint(bytes.length)];
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head, 0);
  out.set(bytes, head.length);
  return out;
}

/** A gRPC message: uncompressed flag, 4-byte big-endian length, the protobuf bytes. */
export function grpcFrame(...fields: Uint8Array[]): Uint8Array {
  const length = fields.reduce((sum, f) => sum + f.length, 0);
  const out = new Uint8Array(5 + length);
  new DataView(out.buffer).setUint32(1, length);
  let at = 5;
  for (const f of fields) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/** Whether a RangeResponse (after the 5-byte gRPC prefix) carries field 2, `kvs`. */
export function rangeFound(reply: Uint8Array): boolean {
  let at = 5;
  while (at < reply.length) {
    const tag = reply[at++] as number;
    const field = tag >> 3;
    const wire = tag & 7;
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = reply[at++] as number;
      value += (b & 127) * 2 ** shift;
      shift += 7;
      if (b < 128) break;
    }
    if (field === 2 && wire === 2) return true;
    if (wire === 2) at += value;
    else if (wire !== 0) throw new Error(`RangeResponse: unexpected wire type ${wire}`);
  }
  return false;
}

/** Per-request deadline; also sent to etcd as grpc-timeout so it gives up at the same time. */
const REQUEST_TIMEOUT_MS = 10_000;

export class EtcdGrpcClient {
  private session: http2.ClientHttp2Session;

  constructor(readonly url: string) {
    this.session = http2.connect(url);
    // A member killed under us: requests fail on their own; the session must not throw.
    this.session.on("error", () => undefined);
  }

  private call(path: string, body: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session.request({
          ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers",
          "grpc-timeout": `${REQUEST_TIMEOUT_MS}m`,
        });
      } catch (error) {
        reject(error as Error);
        return;
      }
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = "";
      const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL),
        REQUEST_TIMEOUT_MS);
      stream.on("response", (headers) => {
        // A failure before any message comes as a trailers-only response in the headers.
        if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
      });
      stream.on("trailers", (trailers) => {
        status = String(trailers["grpc-status"]);
        message = String(trailers["grpc-message"] ?? "");
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.on("close", () => {
        clearTimeout(timer);
        if (status === "0") resolve(Buffer.concat(chunks));
        else reject(new Error(`etcd ${path}: grpc-status ${status ?? "none"} ${message}`));
      });
      stream.end(body);
    });
  }

  async put(key: string, value: string): Promise<void> {
    await this.call("/etcdserverpb.KV/Put",
      grpcFrame(bytesField(1, encoder.encode(key)), bytesField(2, encoder.encode(value))));
  }

  /** A linearizable read (RangeRequest's `serializable` left false). */
  async get(key: string): Promise<boolean> {
    return rangeFound(await this.call("/etcdserverpb.KV/Range",
      grpcFrame(bytesField(1, encoder.encode(key)))));
  }

  close(): void {
    this.session.destroy();
  }
}
