// Entry point of a Warehouse node. It first makes sure the process runs with its allocator
// setting, which may start it again in place; only then does it load the node program
// (lib/node-program.ts), so that a restart does not pay for loading it twice.
import { reexecWithAllocatorEnv } from "./lib/ops/allocator-env.ts";

reexecWithAllocatorEnv();
await import("./lib/node-program.ts");
