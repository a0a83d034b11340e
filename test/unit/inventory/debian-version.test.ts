import { describe, expect, it } from "vitest";
import { compareVersionStrings, parseDebianVersion } from "../../../src/inventory/debian-version.js";
import { VersionError } from "../../../src/errors.js";

/**
 * [a, b, sign of compare(a, b)]. Cases from Debian policy 5.6.12 (the `~` example: `~~ < ~~a < ~ <
 * (empty) < a`) and dpkg's own lib/dpkg/t/t-version.c; every row also agrees with
 * `dpkg --compare-versions` on Debian 12 (checked when the table was written).
 */
const ORDER: [string, string, -1 | 0 | 1][] = [
  // policy's tilde example
  ["1.0~~", "1.0~~a", -1],
  ["1.0~~a", "1.0~", -1],
  ["1.0~", "1.0", -1],
  ["1.0", "1.0a", -1],
  ["2.4.50~rc1", "2.4.50", -1],
  ["1.0~rc1-1", "1.0-1", -1],
  // numbers compare as numbers, leading zeros ignored
  ["2.4.49", "2.4.50", -1],
  ["2.4.9", "2.4.50", -1],
  ["1.001", "1.1", 0],
  ["1.0", "1.0.1", -1],
  ["10", "9", 1],
  ["1.2.3", "1.2.3", 0],
  // letters sort before non-letters, `~` before the end
  ["1.0a", "1.0+", -1],
  ["1.0+dfsg", "1.0", 1],
  ["1.0.", "1.0+", 1],
  ["1.0a", "1.0b", -1],
  ["1.0A", "1.0a", -1],
  // epochs win over everything; an absent epoch is 0
  ["1:0.1", "2.0", 1],
  ["0:1.0", "1.0", 0],
  ["1:1.0", "2:0.1", -1],
  // revisions; an absent revision equals "0"
  ["1.0-1", "1.0-2", -1],
  ["1.0-1", "1.0-1", 0],
  ["1.2.3", "1.2.3-1", -1],
  ["1.2.3", "1.2.3-0", 0],
  ["1.0-1ubuntu1", "1.0-1", 1],
  ["1.0-1~bpo1", "1.0-1", -1],
  ["1.0-beta-1", "1.0-beta-2", -1],
  ["1.0-beta-1", "1.0-1", 1],
  // t-version.c
  ["0:1.1-1", "0:1.1-1", 0],
  ["1:1.1-1", "1:1.1-1", 0],
  ["0:1.1-1", "0:1.1-2", -1],
  ["0:1.1-1", "0:1.2-1", -1],
  ["0:1.1-1", "1:1.1-1", -1],
  ["0:0.0", "0:0.0-0", 0],
  ["0:0-0", "0:0.0-0", -1],
  ["0:0.0-0", "0:0-0", 1],
  ["0:0-00", "0:0-0", 0],
  ["0:1.2.3", "0:1.2.3~0", 1],
  ["0:1.2.3~0", "0:1.2.3~1", -1],
  ["0:1.2.3~a", "0:1.2.3~b", -1],
  ["0:a", "0:b", -1],
  ["0:1.2.3-1+b1", "0:1.2.3-1", 1],
  ["2.30-10", "2.30-9", 1],
  ["7.6p2-4", "7.6-0", 1],
  ["1.0.3-3", "1.0-1", 1],
  ["1.3", "1.2.2-2", 1],
  ["1.3", "1.2.2", 1],
  ["0-pre", "0-pre", 0],
  ["0-pre", "0-pree", -1],
  ["1.1.6r2-2", "1.1.6r-1", 1],
  ["2.6b2-1", "2.6b-2", 1],
  ["98.1p5-1", "98.1-pre2-b6-2", -1],
  ["0.4a6-2", "0.4-1", 1],
  ["1:3.0.5-2", "1:3.0.5.1", -1],
  ["4.4.3-2", "4.4-3", 1],
  ["1:2.4.50-1+deb12u1", "1:2.4.50-1", 1],
];

describe("Debian version ordering", () => {
  it.each(ORDER)("%s vs %s is %d", (a, b, expected) => {
    expect(Math.sign(compareVersionStrings(a, b))).toBe(expected);
    expect(Math.sign(compareVersionStrings(b, a))).toBe(expected === 0 ? 0 : -expected);
  });

  it("splits epoch, upstream and revision as dpkg does (the last hyphen starts the revision)", () => {
    expect(parseDebianVersion("1:2.4.50-beta-3")).toEqual({
      epoch: 1,
      upstream: "2.4.50-beta",
      revision: "3",
    });
    expect(parseDebianVersion(" 2.4 ")).toEqual({ epoch: 0, upstream: "2.4", revision: "" });
  });

  it.each([
    ["", /empty/],
    ["1.0 1", /embedded spaces/],
    ["a:1.0", /epoch .* is not a number/],
    ["-1:1.0", /epoch .* is not a number/],
    ["99999999999:1.0", /epoch .* is too big/],
    ["1:", /nothing after colon/],
    ["1.0-", /revision number .* is empty/],
    ["-1", /version number in '-1' is empty/],
  ])("refuses %j as dpkg does", (text, message) => {
    expect(() => parseDebianVersion(text)).toThrow(VersionError);
    expect(() => parseDebianVersion(text)).toThrow(message);
  });

  it("accepts what dpkg only warns about: no leading digit, odd characters", () => {
    expect(Math.sign(compareVersionStrings("web-02", "web-10"))).toBe(-1);
    expect(Math.sign(compareVersionStrings("a_b", "a_c"))).toBe(-1);
  });
});
