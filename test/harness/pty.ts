// Test harness: runs a program on a real pseudo-terminal (Bun.spawn's `terminal` option) so a
// test can type into it as a person would and wait for what appears on the screen. It owns the
// process and the terminal and kills both on close; it knows nothing about what the program is.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./cluster.ts";

/** Drops terminal control sequences and carriage returns, so assertions read what a person
 * sees on the screen (lines separated by "\n"). */
export function visible(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replaceAll("\r", "");
}

export interface PtyOptions {
  readonly cwd?: string;
  /** Added to this process's environment. WAREHOUSE_HISTORY defaults to a file in a scratch
   * directory removed on close, so no test writes the real ~/.warehouse_history. */
  readonly env?: Record<string, string>;
  /** Deadline of each waitFor. */
  readonly waitMs?: number;
  readonly cols?: number;
  readonly rows?: number;
}

const defaultWaitMs = 5_000;

export class PtySession {
  /** Everything the program wrote to the terminal, control sequences included. */
  raw = "";
  readonly process: Bun.Subprocess;
  private readonly terminal: Bun.Terminal;
  private readonly waitMs: number;
  // One decoder for the whole stream: a UTF-8 character may be split across two reads.
  private readonly decoder = new TextDecoder();
  private readonly scratch = mkdtempSync(join(tmpdir(), "warehouse-pty-"));

  constructor(argv: readonly string[], options: PtyOptions = {}) {
    this.waitMs = options.waitMs ?? defaultWaitMs;
    this.terminal = new Bun.Terminal({
      cols: options.cols ?? 160,
      rows: options.rows ?? 40,
      data: (_terminal, data) => {
        this.raw += this.decoder.decode(data, { stream: true });
      },
    });
    this.process = Bun.spawn([...argv], {
      terminal: this.terminal,
      cwd: options.cwd,
      env: { ...process.env, WAREHOUSE_HISTORY: join(this.scratch, "history"), ...options.env },
    });
  }

  /** What a person sees so far (see `visible`). */
  screen(): string {
    return visible(this.raw);
  }

  type(text: string): void {
    this.terminal.write(text);
  }

  /** Waits until the visible output has `text` at least `count` times after offset `from` of
   * the visible text; fails with the whole screen at the deadline. */
  async waitFor(text: string, count = 1, from = 0): Promise<void> {
    const occurrences = (): number => this.screen().slice(from).split(text).length - 1;
    try {
      await waitFor(() => occurrences() >= count, {
        what: `${JSON.stringify(text)} (x${count})`,
        timeoutMs: this.waitMs,
        intervalMs: 5,
      });
    } catch {
      throw new Error(`no ${JSON.stringify(text)} (x${count}) on the terminal:\n${this.screen()}`);
    }
  }

  close(): void {
    this.process.kill("SIGKILL");
    this.terminal.close();
    rmSync(this.scratch, { recursive: true, force: true });
  }
}
