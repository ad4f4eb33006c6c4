// The REPL's persistent history: one line per entry, oldest first, in a file only its owner
// can read (values typed at the prompt may be private). Loaded at start, rewritten after each
// line, never longer than `entriesMax`. Only the interactive REPL uses it: --exec, piped input
// and command-line commands never touch the file.
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";

export const historyEntriesMax = 1000;

export class HistoryFile {
  /** Newest first, as readline keeps it. */
  readonly entries: string[];

  constructor(
    readonly path: string,
    private readonly entriesMax = historyEntriesMax,
    private readonly onError: (message: string) => void = () => undefined,
  ) {
    this.entries = this.load();
  }

  private load(): string[] {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        this.onError(`cannot read history ${this.path}: ${(error as Error).message}`);
      }
      return [];
    }
    return text.split("\n").filter((line) => line.trim() !== "").slice(-this.entriesMax).reverse();
  }

  /** Records a line (a repeat of the newest entry is not added) and saves the file. */
  add(line: string): void {
    if (line.trim() === "" || line.includes("\n")) return;
    const existing = this.entries.indexOf(line);
    if (existing >= 0) this.entries.splice(existing, 1);
    this.entries.unshift(line);
    this.entries.length = Math.min(this.entries.length, this.entriesMax);
    this.save();
  }

  private save(): void {
    const text = `${[...this.entries].reverse().join("\n")}\n`;
    // Written beside the file and renamed over it: a crash leaves the old file or the new one.
    const temporary = `${this.path}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, text, { mode: 0o600 });
      chmodSync(temporary, 0o600);
      renameSync(temporary, this.path);
    } catch (error) {
      this.onError(`cannot save history ${this.path}: ${(error as Error).message}`);
    }
  }
}
