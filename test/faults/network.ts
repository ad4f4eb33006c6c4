// Network partitions between nodes on one machine. The suite runs in its own network namespace
// (`unshare -n`, as root), so the rules below touch nothing outside it. Every node runs under
// its own uid; an nftables output rule ORs a per-node bit into each connection's conntrack mark
// whenever that node's socket sends on it, so after the first packet each way the mark names
// both ends. Cutting nodes a and b drops every packet whose mark holds both bits: every
// connection between them, whatever the ports or direction, while connections from the
// client (another uid) to any node carry one bit and pass.
import { $ } from "bun";

export const tableName = "warehouse_faults";

export class Network implements AsyncDisposable {
  private readonly bits = new Map<number, number>();
  private readonly cuts = new Set<string>();

  /** `uids`: node id -> uid. Brings loopback up and installs the marking rules. */
  static async create(uids: ReadonlyMap<number, number>): Promise<Network> {
    await $`ip link set lo up`.quiet();
    const network = new Network();
    const marks: string[] = [];
    let bit = 1;
    for (const [id, uid] of uids) {
      network.bits.set(id, bit);
      marks.push(`    meta skuid ${uid} ct mark set ct mark or ${bit}`);
      bit <<= 1;
    }
    const ruleset = [
      `table inet ${tableName} {`,
      "  chain output {",
      "    type filter hook output priority 0; policy accept;",
      ...marks,
      "    jump cuts",
      "  }",
      "  chain cuts {",
      "  }",
      "}",
    ].join("\n");
    await $`nft -f - < ${new Response(ruleset)}`.quiet();
    return network;
  }

  /** Cuts `isolated` off from each of `others`, both directions. */
  async cut(isolated: number, others: readonly number[]): Promise<void> {
    for (const other of others) {
      const both = this.bit(isolated) | this.bit(other);
      const name = `${Math.min(isolated, other)}-${Math.max(isolated, other)}`;
      if (this.cuts.has(name)) continue;
      this.cuts.add(name);
      await $`nft add rule inet ${tableName} cuts ct mark and ${both} == ${both} drop`.quiet();
    }
  }

  async heal(): Promise<void> {
    this.cuts.clear();
    await $`nft flush chain inet ${tableName} cuts`.quiet();
  }

  get isCut(): boolean {
    return this.cuts.size > 0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await $`nft delete table inet ${tableName}`.quiet().nothrow();
  }

  private bit(id: number): number {
    const bit = this.bits.get(id);
    if (bit === undefined) throw new Error(`node ${id} has no network mark`);
    return bit;
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Set in the child that runs inside the private namespace. */
export const insideNamespaceVariable = "WAREHOUSE_FAULTS_NETNS";

/**
 * Runs this same script again inside a new network namespace and returns its exit status.
 * unshare execs the script in place (no fork), so signals we pass on reach it directly and it
 * can clean up.
 */
export async function rerunInNamespace(argv: readonly string[]): Promise<number> {
  const child = Bun.spawn(["unshare", "-n", "--", ...argv], {
    stdio: ["inherit", "inherit", "inherit"],
    env: { ...process.env, [insideNamespaceVariable]: "1" },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    return await child.exited;
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}
