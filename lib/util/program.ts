// How the running program was started, for help texts: "warehouse" for a compiled executable,
// "bun client.ts" for a script run by Bun. Reads only Bun's view of the process.
import { basename } from "node:path";

/** The command a person would type to run this program again. */
export function programName(): string {
  // A compiled executable runs its entry point from Bun's embedded file system.
  const isCompiled = Bun.main.startsWith("/$bunfs/") || Bun.main.includes("~BUN");
  return isCompiled ? basename(process.execPath) : `bun ${basename(Bun.main)}`;
}
