// A private network for multi-host tests: one network namespace per "host", each joined by a
// veth link to a bridge that lives in a namespace of its own, with addresses from 198.18.0.0/15
// (the range set aside for network tests, RFC 2544). Nothing is added to the namespace the tests
// run in. Needs root and iproute2. `await using` deletes the namespaces (and so the links).
import { runToEnd } from "./run.ts";

export interface TestHost {
  /** Namespace name. */
  readonly ns: string;
  readonly address: string;
  /** Prefix that runs a command inside this host's namespace. */
  readonly exec: string[];
}

export class TestNetwork implements AsyncDisposable {
  private constructor(
    readonly hosts: readonly TestHost[],
    /** Runs a command in the bridge's namespace: a "host" with no address but loopback. */
    readonly bridgeExec: string[],
    private readonly namespaces: readonly string[],
  ) {}

  /** `count` hosts on one bridge; host i (from 1) has address 198.18.<subnet>.(10 + i). */
  static async create(count: number, subnet: number): Promise<TestNetwork> {
    // Names unique to this process, short enough for interface names (15 bytes at most).
    const tag = `wh${process.pid % 100000}`;
    const bridgeNs = `${tag}br`;
    const hosts = Array.from({ length: count }, (_, i) => {
      const ns = `${tag}h${i + 1}`;
      return { ns, address: `198.18.${subnet}.${11 + i}`, exec: ["ip", "netns", "exec", ns] };
    });
    const bridgeExec = ["ip", "netns", "exec", bridgeNs];
    const network = new TestNetwork(hosts, bridgeExec, [bridgeNs, ...hosts.map((h) => h.ns)]);
    // Left over by a run of the same pid that was killed before it could clean up.
    for (const ns of network.namespaces) await runToEnd(["ip", "netns", "del", ns]);
    try {
      await ip("netns", "add", bridgeNs);
      await ip("-n", bridgeNs, "link", "add", "br0", "type", "bridge");
      await ip("-n", bridgeNs, "link", "set", "br0", "up");
      for (const [i, host] of hosts.entries()) {
        const port = `port${i + 1}`;
        await ip("netns", "add", host.ns);
        await ip("-n", host.ns, "link", "set", "lo", "up");
        await ip("-n", host.ns, "link", "add", "eth0", "type", "veth", "peer", "name", port,
          "netns", bridgeNs);
        await ip("-n", host.ns, "addr", "add", `${host.address}/24`, "dev", "eth0");
        await ip("-n", host.ns, "link", "set", "eth0", "up");
        await ip("-n", bridgeNs, "link", "set", port, "master", "br0");
        await ip("-n", bridgeNs, "link", "set", port, "up");
      }
    } catch (error) {
      await network[Symbol.asyncDispose]();
      throw error;
    }
    return network;
  }

  host(index: number): TestHost {
    const host = this.hosts[index - 1];
    if (host === undefined) throw new Error(`no host ${index}`);
    return host;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Deleting a namespace deletes its end of every veth, and so the link.
    for (const ns of this.namespaces) await runToEnd(["ip", "netns", "del", ns]);
  }
}

async function ip(...args: string[]): Promise<void> {
  const result = await runToEnd(["ip", ...args]);
  if (result.code !== 0) {
    throw new Error(`ip ${args.join(" ")} failed (${result.code}): ${result.stderr.trim()} ` +
      "(multi-host tests need root and iproute2)");
  }
}
