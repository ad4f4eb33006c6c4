// How the running program was started, for help texts: "warehouse" for a compiled executable,
// "bun client.ts" for a script run by Bun. Reads only Bun's view of the process.
import { basename } from "node:path";

/** Whether `main` (the entry point's path) is inside a compiled executable. */
export function isCompiledEntry(main: string = Bun.main): boolean {
  // A compiled executable runs its entry point from Bun's embedded file system.
  return main.startsWith("/$bunfs/") || main.includes("~BUN");
}

/** The command a person would type to run this program again. */
export function programName(): string {
  return isCompiledEntry() ? basename(process.execPath) : `bun ${basename(Bun.main)}`;
}
