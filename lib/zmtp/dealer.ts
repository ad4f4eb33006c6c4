// DEALER (RFC 28): round-robin send over its peers, fair-queued receive. A send waits while
// every peer queue is full or there is no peer yet; it never drops.
import type { Connection } from "./connection.ts";
import { type FrameInput, type Message, type Pipe, SocketBase } from "./socket-base.ts";
import type { SocketType } from "./socket-types.ts";

export class Dealer extends SocketBase {
  protected readonly socketType: SocketType = "DEALER";
  private cursor = 0;

  async send(frames: readonly FrameInput[]): Promise<void> {
    this.assertOpen();
    const message = this.toMessage(frames);
    while (true) {
      const pipe = this.nextPipeWithRoom();
      if (pipe !== undefined) {
        pipe.push(message);
        return;
      }
      await this.waitForRoom();
      this.assertOpen();
    }
  }

  receive(): Promise<Message> {
    return this.receiveMessage();
  }

  [Symbol.asyncIterator](): AsyncGenerator<Message> {
    return this.iterate();
  }

  /**
   * Connecting-side pipes take their turn even before their connection is up (libzmq does the
   * same, docs/zmtp.md 5.3); bound-side pipes exist only while connected.
   */
  private nextPipeWithRoom(): Pipe | undefined {
    const pipes = [...this.pipes];
    for (let i = 0; i < pipes.length; i++) {
      const pipe = pipes[(this.cursor + i) % pipes.length] as Pipe;
      if (pipe.hasRoom) {
        this.cursor = (this.cursor + i + 1) % pipes.length;
        return pipe;
      }
    }
    return undefined;
  }

  protected override addPipe(pipe: Pipe): void {
    super.addPipe(pipe);
    this.onPipeRoom(pipe);
  }

  protected attach(_pipe: Pipe, _conn: Connection): boolean {
    return true;
  }

  protected detach(_pipe: Pipe): void {}

  protected onPeerMessage(pipe: Pipe, frames: Uint8Array[]): void {
    this.deliver(pipe, frames);
  }
}
