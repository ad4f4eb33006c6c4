// Which socket types may talk to which (RFC 28/29 pairs, docs/zmtp.md 5.1). Pure data.

export type SocketType = "ROUTER" | "DEALER" | "PUB" | "SUB";

const compatiblePeers: Record<SocketType, readonly string[]> = {
  ROUTER: ["REQ", "DEALER", "ROUTER"],
  DEALER: ["REP", "DEALER", "ROUTER"],
  PUB: ["SUB", "XSUB"],
  SUB: ["PUB", "XPUB"],
};

/** Socket-Type is compared exactly, upper case, as libzmq does. */
export function isCompatiblePeer(ours: SocketType, theirs: string): boolean {
  return compatiblePeers[ours].includes(theirs);
}

/** libzmq sends Identity only for REQ, DEALER and ROUTER (docs/zmtp.md 2.2). */
export function sendsIdentity(type: SocketType): boolean {
  return type === "ROUTER" || type === "DEALER";
}
