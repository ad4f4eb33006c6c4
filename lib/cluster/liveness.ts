// Which members this node has heard a heartbeat from lately: the "alive" of the heartbeat
// object and of NODES. Pure, counted in ticks. Informational only: leadership and in-sync sets
// are Raft's business, never decided from this.

export class Liveness {
  private readonly suspectTicks: number;
  private readonly lastHeardTick = new Map<number, number>();
  private tickCount = 0;

  constructor(suspectTicks: number) {
    this.suspectTicks = suspectTicks;
  }

  tick(): void {
    this.tickCount++;
  }

  heard(id: number): void {
    this.lastHeardTick.set(id, this.tickCount);
  }

  isAlive(id: number): boolean {
    const heard = this.lastHeardTick.get(id);
    return heard !== undefined && this.tickCount - heard <= this.suspectTicks;
  }

  forget(id: number): void {
    this.lastHeardTick.delete(id);
  }
}
