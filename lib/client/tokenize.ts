// The one tokenizer of the REPL, --exec and piped input: words split at blanks as a shell does,
// commands split at `;` and newlines outside quotes, `#` at the start of a word comments out
// the rest of the line. Pure: no I/O.
//
//   'single quotes'   everything literal, no escapes
//   "double quotes"   backslash escapes as in a JSON string (\" \\ \/ \b \f \n \r \t \uXXXX,
//                     surrogate pairs too), plus \a (BEL), \e (ESC) and \xHH; so a JSON string
//                     literal is a valid double-quoted word and means the same text
//   unquoted \c       the character c itself (\; \" \  \\ \')
//   a"b c"'d'         adjacent pieces join into one word: ab cd
//   ""                an empty word

export type TokenizeResult =
  | { readonly ok: true; readonly commands: string[][] }
  | { readonly ok: false; readonly error: string };

const blank = /[ \t\r\f\v]/;

const simpleEscapes: Readonly<Record<string, string>> = {
  '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t",
  a: "\x07", e: "\x1b",
};

/** Reads one escape after a backslash inside double quotes, at `text[index]` (the character
 * after the backslash). Returns the decoded text and the index after it, or an error. */
function readEscape(text: string, index: number): { value: string; next: number } | string {
  const char = text[index];
  if (char === undefined) return "a backslash ends the input inside double quotes";
  const simple = simpleEscapes[char];
  if (simple !== undefined) return { value: simple, next: index + 1 };
  if (char === "x") {
    const hex = text.slice(index + 1, index + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return "\\x needs two hex digits, as in \\x1b";
    return { value: String.fromCharCode(parseInt(hex, 16)), next: index + 3 };
  }
  if (char === "u") {
    const hex = text.slice(index + 1, index + 5);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) return "\\u needs four hex digits, as in \\u00e9";
    // A pair \uD83D\uDE00 decodes to one character: concatenating the halves does that.
    return { value: String.fromCharCode(parseInt(hex, 16)), next: index + 5 };
  }
  return `unknown escape \\${char} inside double quotes (use \\\\ for a backslash)`;
}

/** Splits `text` into commands of words. Blank commands are dropped. */
export function tokenize(text: string): TokenizeResult {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = "";
  let hasWord = false;
  const endWord = (): void => {
    if (hasWord) words.push(word);
    word = "";
    hasWord = false;
  };
  const endCommand = (): void => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  let index = 0;
  while (index < text.length) {
    const char = text[index] as string;
    if (char === "'") {
      const close = text.indexOf("'", index + 1);
      if (close < 0) return { ok: false, error: "unterminated single quote" };
      word += text.slice(index + 1, close);
      hasWord = true;
      index = close + 1;
    } else if (char === '"') {
      index++;
      hasWord = true;
      for (;;) {
        const inner = text[index];
        if (inner === undefined) return { ok: false, error: "unterminated double quote" };
        if (inner === '"') break;
        if (inner === "\\") {
          const escape = readEscape(text, index + 1);
          if (typeof escape === "string") return { ok: false, error: escape };
          word += escape.value;
          index = escape.next;
        } else {
          word += inner;
          index++;
        }
      }
      index++;
    } else if (char === "\\") {
      const next = text[index + 1];
      if (next === undefined) return { ok: false, error: "a backslash ends the input" };
      // A backslash before a line break continues the command on the next line.
      if (next !== "\n") {
        word += next;
        hasWord = true;
      }
      index += 2;
    } else if (char === ";" || char === "\n") {
      endCommand();
      index++;
    } else if (blank.test(char)) {
      endWord();
      index++;
    } else if (char === "#" && !hasWord) {
      const newline = text.indexOf("\n", index);
      index = newline < 0 ? text.length : newline;
    } else {
      word += char;
      hasWord = true;
      index++;
    }
  }
  endCommand();
  return { ok: true, commands };
}

/** Quotes `word` so that tokenize reads it back as one word with the same text: bare when that
 * is safe, else in double quotes with JSON escapes. */
export function quoteWord(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return JSON.stringify(word);
}

/** The word being typed at the end of `line` and where it starts, for Tab completion; the
 * words before it in the same command are `previous`. Quotes are not completed into. */
export function wordAtEnd(line: string): { previous: string[]; partial: string; start: number } {
  const commandStart = Math.max(line.lastIndexOf(";"), line.lastIndexOf("\n")) + 1;
  const command = line.slice(commandStart);
  const match = /(\S*)$/.exec(command);
  const partial = match?.[1] ?? "";
  const before = command.slice(0, command.length - partial.length);
  const parsed = tokenize(before);
  const previous = parsed.ok ? (parsed.commands[0] ?? []) : before.trim().split(/\s+/);
  return { previous, partial, start: line.length - partial.length };
}
