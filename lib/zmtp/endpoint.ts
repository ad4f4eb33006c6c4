// tcp:// endpoint strings. Pure.

export interface TcpEndpoint {
  host: string;
  port: number;
}

/** Parses `tcp://host:port` (host may be `*`, a name, an IPv4 address or `[v6]`). Throws RangeError. */
export function parseEndpoint(endpoint: string): TcpEndpoint {
  const match = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]+):(\d{1,5})$/.exec(endpoint);
  if (match === null) {
    throw new RangeError(`invalid endpoint "${endpoint}": expected tcp://host:port`);
  }
  const rawHost = match[1] as string;
  const port = Number(match[2]);
  if (port > 65535) throw new RangeError(`invalid endpoint "${endpoint}": port above 65535`);
  const host = rawHost === "*" ? "0.0.0.0" : rawHost.replace(/^\[(.*)\]$/, "$1");
  return { host, port };
}

export function formatEndpoint(host: string, port: number): string {
  return host.includes(":") ? `tcp://[${host}]:${port}` : `tcp://${host}:${port}`;
}

export function isValidEndpoint(endpoint: string): boolean {
  try {
    parseEndpoint(endpoint);
    return true;
  } catch {
    return false;
  }
}
