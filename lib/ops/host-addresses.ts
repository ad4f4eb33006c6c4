// Which address a node tells others to dial (--advertise), and the start-up check that it is
// one of this machine's. The choice is pure (it takes the interface list); the two functions at
// the end read the machine's interfaces and resolve names.
import { lookup } from "node:dns/promises";
import { networkInterfaces } from "node:os";

export interface InterfaceAddress {
  readonly address: string;
  readonly isInternal: boolean;
  readonly family: "IPv4" | "IPv6";
}

export type AdvertiseChoice =
  | { readonly ok: true; readonly advertise: string }
  | { readonly ok: false; readonly error: string };

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "0:0:0:0:0:0:0:0";
}

/**
 * The address to advertise: the one given, else the bind host, else (bind host 0.0.0.0 or ::)
 * the first non-loopback address of this machine, IPv4 first for 0.0.0.0. Link-local IPv6
 * addresses are skipped: they cannot be dialled without a zone.
 */
export function chooseAdvertise(
  host: string,
  advertise: string | null,
  interfaces: readonly InterfaceAddress[],
): AdvertiseChoice {
  if (advertise !== null) return { ok: true, advertise };
  if (!isWildcard(host)) return { ok: true, advertise: host };
  const usable = interfaces.filter(
    (i) => !i.isInternal && !i.address.toLowerCase().startsWith("fe80:"),
  );
  const preferred = host === "0.0.0.0" ? usable.filter((i) => i.family === "IPv4") : usable;
  const first = preferred[0] ?? usable[0];
  if (first === undefined) {
    return {
      ok: false,
      error: `--host ${host} binds every interface, but this machine has no address other ` +
        "nodes can dial (only loopback); give --advertise <address>",
    };
  }
  return { ok: true, advertise: first.address };
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1";
}

/** Whether `address` (an IP) is one of `interfaces`, any 127.x counting as loopback's. */
export function isLocalAddress(address: string, interfaces: readonly InterfaceAddress[]): boolean {
  if (isLoopback(address)) return true;
  const wanted = address.toLowerCase();
  return interfaces.some((i) => i.address.toLowerCase() === wanted);
}

/** This machine's interface addresses. */
export function machineInterfaces(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      out.push({
        address: info.address,
        isInternal: info.internal,
        family: info.family === "IPv6" ? "IPv6" : "IPv4",
      });
    }
  }
  return out;
}

/**
 * Resolves the advertised host (a name may have several addresses) and checks that one is this
 * machine's: a node that advertises another machine's address would send every peer and client
 * to the wrong place. Returns an error for a person, or null when all is well.
 */
export async function checkAdvertised(
  advertise: string,
  interfaces: readonly InterfaceAddress[],
): Promise<string | null> {
  let addresses: string[];
  try {
    addresses = (await lookup(advertise, { all: true })).map((a) => a.address);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `--advertise ${advertise} does not resolve (${reason}); give an IP address of this ` +
      "machine or fix its name";
  }
  if (addresses.some((address) => isLocalAddress(address, interfaces))) return null;
  const own = interfaces.map((i) => i.address).join(", ");
  return `--advertise ${advertise} (${addresses.join(", ")}) is not an address of this machine ` +
    `(it has ${own}); give one of those, or the name that resolves to one`;
}
