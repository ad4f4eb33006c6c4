// `--help` (or `-h`) for every benchmark script: prints the script's opening comment, which says
// what it measures and which flags, arguments and environment variables it takes, and exits 0.
// Imported first, so that no cluster is started when all one wanted was the usage.
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  const script = process.argv[1] ?? "";
  const lines = readFileSync(script, "utf8").split("\n");
  const header = lines.slice(0, lines.findIndex((line) => !line.startsWith("//")));
  process.stdout.write(`${header.map((line) => line.replace(/^\/\/ ?/, "")).join("\n")}\n`);
  process.exit(0);
}
