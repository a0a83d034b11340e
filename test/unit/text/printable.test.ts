import { describe, expect, it } from "vitest";
import { BIDI_CONTROL, printable } from "../../../src/text/printable.js";

describe("printable", () => {
  it("shows control bytes as \\xNN, keeping newline and tab", () => {
    expect(printable("a\x1b[31mred\x07\r\0b\x7f\x9b\n\tc")).toBe(
      "a\\x1b[31mred\\x07\\x0d\\x00b\\x7f\\x9b\n\tc",
    );
  });

  it("shows bidi controls and line separators as \\uNNNN", () => {
    const marks = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029";
    expect(printable(`x${marks}y`)).toBe(
      "x\\u200e\\u200f\\u061c\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u2028\\u2029y",
    );
  });

  it("leaves ordinary text, accents and emoji alone", () => {
    const text = "loki: deploy ok — café 🚀 ünïcode";
    expect(printable(text)).toBe(text);
  });

  it("BIDI_CONTROL matches the bidi controls only", () => {
    for (const ch of ["\u200e", "\u200f", "\u061c", "\u202a", "\u202e", "\u2066", "\u2069"])
      expect(BIDI_CONTROL.test(`a${ch}b`), ch.codePointAt(0)!.toString(16)).toBe(true);
    expect(BIDI_CONTROL.test("a\x1bb\u2028")).toBe(false);
  });
});
