// tcp:// endpoints as sockets take them: the shared parser (lib/util/endpoint.ts) plus ZeroMQ's
// `*` wildcard for binding on every interface. Pure.
import { formatTcpEndpoint, parseTcpEndpoint, type TcpEndpoint } from "../util/endpoint.ts";

/** Parses `tcp://host:port` (`*`: every interface; port 0: any free one). Throws RangeError. */
export function parseEndpoint(endpoint: string): TcpEndpoint {
  const wildcard = /^tcp:\/\/\*:/.test(endpoint);
  const parsed = parseTcpEndpoint(wildcard ? endpoint.replace("*", "0.0.0.0") : endpoint, {
    isPortZeroAllowed: true,
  });
  if (parsed === null)
    throw new RangeError(`invalid endpoint "${endpoint}": expected tcp://host:port`);
  return parsed;
}

export const formatEndpoint = formatTcpEndpoint;
