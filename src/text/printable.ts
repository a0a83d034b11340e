/**
 * The one escaping applied wherever text leaves jarvis for a person (CLI stdout/stderr, chat
 * replies and progress, `jarvis start`'s log): designs, clipboards, step output and chat input
 * can carry bytes that a terminal or a chat client acts on instead of showing. ESC starts
 * terminal control sequences (retitle the window, rewrite earlier lines, on some terminals send
 * keystrokes back), CR overwrites the current line, BEL and NUL disturb logs, and Unicode bidi
 * controls reorder what is shown so that a line reads differently from what it holds (CVE-2021-42574,
 * "Trojan Source"). They are shown as visible escapes instead; newline and tab are kept.
 */

/**
 * C0 controls but tab and newline, DEL, C1 controls, the bidi controls (LRM, RLM, ALM, the
 * embeddings and overrides U+202A-202E, the isolates U+2066-2069), and the line and paragraph
 * separators, which some clients treat as line breaks that a reply cannot contain.
 */
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** The bidi controls alone: refused outright in names (hostnames, keys) where no one needs them. */
export const BIDI_CONTROL = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** `text` with every unprintable character shown as `\xNN` (below U+0100) or `\uNNNN`. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (ch) => {
    const code = ch.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
