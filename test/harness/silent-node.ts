// A TCP listener that accepts connections and never answers: a node that is not there, on a
// port the test holds for its whole duration (no "free" port that another process might take).
export class SilentNode {
  connectionCount = 0;
  private readonly server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open: () => {
        this.connectionCount++;
      },
      data: () => {},
    },
  });

  get endpoint(): string {
    return `tcp://127.0.0.1:${this.server.port}`;
  }

  stop(): void {
    this.server.stop(true);
  }
}
