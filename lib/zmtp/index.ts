// Public surface of the native ZMTP 3.1 implementation. Other areas import only from here.
export { Router } from "./router.ts";
export { Dealer } from "./dealer.ts";
export { Publisher } from "./pub.ts";
export { Subscriber } from "./sub.ts";
export type { FrameInput, Message, SocketEvent } from "./socket-base.ts";
export type { CurveOptions, SocketOptions } from "./options.ts";
export { socketDefaults } from "./options.ts";
export { formatEndpoint, parseEndpoint } from "./endpoint.ts";
export { bytesToString, toBytes } from "./codec.ts";
export { type CurveCrypto, loadCurveCrypto } from "./curve-crypto.ts";
