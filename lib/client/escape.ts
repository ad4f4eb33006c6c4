// Makes text safe to print on a terminal: a stored value or a server message could otherwise
// carry escape sequences that move the cursor, rewrite the screen or set the window title in
// another user's terminal. Pure: no I/O.

// C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidirectional overrides
// and isolates that can make text read differently from what it is.
const unsafe = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const named: Readonly<Record<string, string>> = {
  "\x07": "\\a", "\b": "\\b", "\x1b": "\\e", "\f": "\\f", "\r": "\\r", "\v": "\\v", "\0": "\\0",
};

function escapeOne(char: string): string {
  const name = named[char];
  if (name !== undefined) return name;
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** `text` with every control character (tab and newline excepted) written as an escape like
 * \e, \a or \x9b, so that printing it cannot drive the terminal. */
export function escapeControls(text: string): string {
  return text.replace(unsafe, escapeOne);
}
