// Parsing and formatting of ZeroMQ tcp endpoints ("tcp://host:port"), shared by config (flags)
// and protocol (heartbeats from the network). Pure: no I/O, no name resolution.

/** A tcp endpoint split into parts. `host` never carries IPv6 brackets. */
export interface TcpEndpoint {
  readonly host: string;
  readonly port: number;
}

const portMax = 65535;
const hostnameBytesMax = 253;
const hostnameLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const ipv4Octet = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
const ipv6Characters = /^[0-9a-f:.]{2,45}$/i;

function isIpv4(host: string): boolean {
  const octets = host.split(".");
  return octets.length === 4 && octets.every((octet) => ipv4Octet.test(octet));
}

// A light shape check, not full RFC 4291 validation: hex groups, colons, an optional dotted tail.
function isIpv6(host: string): boolean {
  if (!ipv6Characters.test(host)) return false;
  if (!host.includes(":")) return false;
  if (host.includes(":::")) return false;
  return host.split("::").length <= 2;
}

/** True for a DNS host name, a dotted IPv4 address or a bare IPv6 address. */
export function isValidHost(host: string): boolean {
  if (host.length === 0) return false;
  if (host.includes(":")) return isIpv6(host);
  if (host.length > hostnameBytesMax) return false;
  const labels = host.split(".");
  // All-numeric dotted text is an IPv4 address and must be a valid one ("999.1.1.1" is not).
  if (labels.every((label) => /^[0-9]+$/.test(label))) return isIpv4(host);
  return labels.every((label) => hostnameLabel.test(label));
}

/** A decimal port number 0..65535 written with digits only, or null. */
export function parsePort(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number.parseInt(text, 10);
  return port <= portMax ? port : null;
}

/**
 * Parses "tcp://host:port" (IPv6 as "tcp://[::1]:port"). Port 0 is refused unless
 * `isPortZeroAllowed` (a bind may ask for any free port, a connect may not). Null when invalid.
 */
export function parseTcpEndpoint(
  text: string,
  options: { isPortZeroAllowed?: boolean } = {},
): TcpEndpoint | null {
  const match = /^tcp:\/\/(\[([^\]]*)\]|[^:/[\]]*):([^:]*)$/.exec(text);
  if (match === null) return null;
  const host = match[2] ?? match[1] ?? "";
  const isBracketed = match[2] !== undefined;
  if (isBracketed ? !isIpv6(host) : host.includes(":") || !isValidHost(host)) return null;
  const port = parsePort(match[3] ?? "");
  if (port === null) return null;
  if (port === 0 && options.isPortZeroAllowed !== true) return null;
  return { host, port };
}

/** Formats a host and port as a tcp endpoint, bracketing IPv6 addresses. */
export function formatTcpEndpoint(host: string, port: number): string {
  return host.includes(":") ? `tcp://[${host}]:${port}` : `tcp://${host}:${port}`;
}
