/**
 * The limits every YAML document jarvis reads is held to, whichever parser read it: its size as
 * text, that it is text at all, and the size and depth of the value it expands to. Both parsers
 * share aliased nodes instead of copying them, so a document of a few kilobytes can stand for
 * gigabytes (a "billion laughs" bomb) that only show when the value is walked, stored or dumped;
 * `checkExpansion` walks it once, counting each shared node every time it is reached, and stops
 * as soon as the count passes the document's own size limit.
 *
 * Loaded by every step process (through the step SDK), so it imports nothing but errors.ts.
 */
import { YamlError } from "../errors.js";

/** Default size limit for any YAML jarvis reads. */
export const DEFAULT_MAX_YAML_BYTES = 16 * 1024 * 1024;

/**
 * Deepest nesting accepted. Real clipboards are a few levels deep; the limit keeps every
 * recursive walker (diff, redaction, dump) far from the stack's end.
 */
export const MAX_YAML_DEPTH = 256;

/** Refuse text over `maxBytes` or with bytes that never belong in YAML; returns it as a string. */
export function checkYamlText(input: string | Buffer, source: string, maxBytes: number): string {
  const size = typeof input === "string" ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) {
    throw new YamlError(
      "E_YAML_TOO_LARGE",
      `${source}: document is ${size} bytes, over the limit of ${maxBytes} bytes; split it or raise the limit`,
    );
  }
  const text = typeof input === "string" ? input : input.toString("utf8");
  const junk = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffd]/.exec(text)?.index;
  if (junk !== undefined) {
    const what =
      text.charCodeAt(junk) === 0xfffd
        ? "invalid UTF-8"
        : `control byte 0x${text.charCodeAt(junk).toString(16).padStart(2, "0")}`;
    throw new YamlError(
      "E_YAML_BINARY",
      `${source}:${lineAt(text, junk)}: not YAML text (${what}); is this the right file?`,
    );
  }
  return text;
}

/**
 * Walk a parsed value and refuse it when, with every alias expanded, it would take more than
 * `maxBytes` to write out, or nests deeper than MAX_YAML_DEPTH. The estimate never exceeds the
 * length of a document without aliases (a string costs its length plus a separator, any other
 * scalar two bytes, a collection one), so only expansion can push a document over its own limit.
 * A cycle (an alias inside its own anchor) expands forever and is refused the same way.
 */
export function checkExpansion(value: unknown, source: string, maxBytes: number): void {
  let budget = maxBytes;
  const overBudget = (): YamlError =>
    new YamlError(
      "E_YAML_BOMB",
      `${source}: with its aliases expanded the document is over ${maxBytes} bytes (a YAML bomb, or an alias inside its own anchor); write the values out or remove the aliases`,
    );
  const walk = (node: unknown, depth: number): void => {
    if (typeof node === "string") {
      budget -= node.length + 1;
    } else if (node === null || typeof node !== "object") {
      budget -= 2;
    } else {
      if (depth >= MAX_YAML_DEPTH) {
        throw new YamlError(
          "E_YAML_TOO_DEEP",
          `${source}: nested more than ${MAX_YAML_DEPTH} levels deep; flatten the document`,
        );
      }
      budget -= 1;
      if (Array.isArray(node)) {
        for (const item of node) walk(item, depth + 1);
      } else {
        for (const [key, item] of Object.entries(node)) {
          budget -= key.length + 1;
          walk(item, depth + 1);
        }
      }
    }
    if (budget < 0) throw overBudget();
  };
  walk(value, 0);
}

/** 1-based line of a character index. */
export function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
