// A man in the middle for CURVE tests: a TCP proxy on port 0 that forwards both directions
// and, on the first connection only, flips one bit of the byte at a given offset of the
// client-to-server stream. Later connections pass untouched.
import type { Socket, TCPSocketListener } from "bun";

interface Link {
  upstream: Socket<Link> | null;
  downstream: Socket<Link>;
  /** Client bytes that arrived before the upstream connection was open. */
  early: Uint8Array[];
  seen: number;
  tampers: boolean;
}

export class TamperProxy {
  readonly endpoint: string;
  /** How many client bytes were changed so far (0 or 1). */
  tampered = 0;
  private readonly listener: TCPSocketListener<Link | undefined>;
  private connections = 0;

  constructor(targetPort: number, offset: number) {
    this.listener = Bun.listen<Link | undefined>({
      hostname: "127.0.0.1",
      port: 0,
      data: undefined,
      socket: {
        open: (downstream) => {
          const link: Link = {
            upstream: null,
            downstream: downstream as unknown as Socket<Link>,
            early: [],
            seen: 0,
            tampers: this.connections++ === 0,
          };
          downstream.data = link;
          void Bun.connect<Link>({
            hostname: "127.0.0.1",
            port: targetPort,
            data: link,
            socket: {
              open: (upstream) => {
                link.upstream = upstream;
                for (const chunk of link.early) upstream.write(chunk);
                link.early = [];
              },
              data: (_upstream, chunk) => void link.downstream.write(chunk),
              close: () => void link.downstream.end(),
              error: () => void link.downstream.end(),
            },
          }).catch(() => downstream.end());
        },
        data: (downstream, chunk) => {
          const link = downstream.data;
          if (link === undefined) return;
          const bytes = new Uint8Array(chunk);
          if (link.tampers && offset >= link.seen && offset < link.seen + bytes.length) {
            bytes[offset - link.seen] = (bytes[offset - link.seen] as number) ^ 0x01;
            this.tampered++;
          }
          link.seen += bytes.length;
          if (link.upstream === null) link.early.push(bytes);
          else link.upstream.write(bytes);
        },
        close: (downstream) => void downstream.data?.upstream?.end(),
        error: (downstream) => void downstream.data?.upstream?.end(),
      },
    });
    this.endpoint = `tcp://127.0.0.1:${this.listener.port}`;
  }

  stop(): void {
    this.listener.stop(true);
  }
}
