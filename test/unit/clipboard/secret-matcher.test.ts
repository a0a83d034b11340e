import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSecretMatcher } from "../../../src/clipboard/secret-matcher.js";

describe("createSecretMatcher", () => {
  it("hides every occurrence, the union of nested and overlapping secrets", () => {
    const m = createSecretMatcher(["abcd", "bcdefg", "zz-top", "cd"]);
    expect(m.replace("xabcdefgx abcd cd zz-top zz-to", "*")).toBe("x*x * * * zz-to");
    expect(createSecretMatcher(["aaaa"]).replace("aaaaaa b aaa", "*")).toBe("* b aaa");
  });

  it("leaves text without secrets as it is, and works with no patterns", () => {
    expect(createSecretMatcher(["secret-1"]).replace("nothing here", "*")).toBe("nothing here");
    expect(createSecretMatcher([]).replace("nothing here", "*")).toBe("nothing here");
  });

  it("does work linear in the text on a 100 KB token, a periodic one and near misses", () => {
    const token = randomBytes(75_000).toString("base64");
    const nearMiss = `${token.slice(0, -1)}!`;
    const m = createSecretMatcher([token, token.slice(0, 5_000)]);
    const text = `a ${token} b ${nearMiss} c`;
    expect(m.replace(text, "*")).toBe(`a * b *${token.slice(5_000, -1)}! c`);
    expect(m.steps).toBeLessThanOrEqual(3 * text.length);
    const periodic = "eHh4".repeat(25_000);
    const p = createSecretMatcher([periodic, "eHh4eHh4eHh5"]);
    expect(p.replace(`${periodic.slice(1)}`, "*")).toBe(periodic.slice(1));
    // Each character costs one step and at most as many suffix-link steps as it went deeper.
    expect(p.steps).toBeLessThanOrEqual(3 * periodic.length);
  });
});
