// CURVE for a node's sockets, in one place so the rest of the cluster code only passes options
// through. Every member holds the same key pair (the cluster key, --curve-secret-key-file):
// members serve with it, connect to each other with it as both client and server key, and are
// recognised by it. Clients hold key pairs of their own, admitted by the --client-keys list.
import { z85Encode } from "../util/z85.ts";
import type { CurveCrypto, CurveOptions } from "../zmtp/index.ts";

export interface NodeCurve {
  crypto: CurveCrypto;
  /** The cluster key pair. */
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /**
   * Client public keys admitted (Z85 text), or null to admit any client that completes the
   * handshake. A function, read at every handshake, so a reloaded list (SIGHUP) applies to new
   * connections at once; connections already made stay.
   */
  clientKeys: () => ReadonlySet<string> | null;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Whether a CURVE peer proved the cluster key, i.e. is a member rather than a client. */
export function isMemberKey(curve: NodeCurve, key: Uint8Array | undefined): boolean {
  return key !== undefined && sameKey(key, curve.publicKey);
}

/** For the ROUTER and the PUB: members always, clients when the allow-list has them. */
export function serverCurve(curve: NodeCurve): CurveOptions {
  return {
    crypto: curve.crypto,
    publicKey: curve.publicKey,
    secretKey: curve.secretKey,
    authenticate: (key) => {
      if (isMemberKey(curve, key)) return true;
      const allowed = curve.clientKeys();
      return allowed === null || allowed.has(z85Encode(key) ?? "");
    },
  };
}

/** For the DEALERs and the SUB a node opens to other members: the cluster key both ways. */
export function peerCurve(curve: NodeCurve): CurveOptions {
  return {
    crypto: curve.crypto,
    publicKey: curve.publicKey,
    secretKey: curve.secretKey,
    serverKey: curve.publicKey,
  };
}
