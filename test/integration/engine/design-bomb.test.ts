/**
 * Issue 9: a design with one anchor and 99 aliases stands for some 100 MB. It passed `validate`,
 * then its run could not store the clipboard and stayed `running` for ever. It must be refused
 * when it is read, before a run exists.
 */
import { describe, expect, it } from "vitest";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";

describe("a design that expands to 100 MB", () => {
  const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - demo:greet\n" } });
  const bomb = env.write(
    "bomb.yml",
    `${designFor("bombhost")}blob: &blob "${"x".repeat(1_000_000)}"\ncopies: [${Array.from({ length: 99 }, () => "*blob").join(", ")}]\n`,
  );

  it("is refused by validate, as an operator-fixable error", async () => {
    const result = await env.cli(["validate", bomb]);
    expect(result.code, result.stdout).toBe(3);
    expect(result.stderr).toMatch(/with its aliases expanded the document is over \d+ bytes/);
  });

  it("is refused by run before any run is created", async () => {
    const result = await env.cli(["run", "p", bomb]);
    expect(result.code, result.stdout).toBe(3);
    expect(result.stderr).toMatch(/with its aliases expanded/);
    const history = await env.cli(["history", "bombhost", "--json"]);
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.parse(history.stdout)).toEqual([]);
  });
});
