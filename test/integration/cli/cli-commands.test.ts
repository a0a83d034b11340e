/**
 * The built CLI: each command takes only its own options (wrong usage exits 2 with that command's
 * usage line), `--limit` is a positive integer, targets are resolved against the store, and
 * commands that act on runs go through the dispatcher, audited as cli:<user>.
 */
import { describe, expect, it } from "vitest";
import { userInfo } from "node:os";
import { designFor, makeJarvisEnv } from "../../helpers/jarvis-env.js";

describe("jarvis CLI", () => {
  it("refuses an option the command does not take, with that command's usage", async () => {
    const env = makeJarvisEnv();
    const status = await env.cli(["status", "--force"]);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain("'--force'");
    expect(status.stderr).toContain(
      "usage: jarvis status [host|run|group] [--limit N] [--after HOST] [--json]",
    );
    const step = await env.cli(["history", "loki", "--step", "2"]);
    expect(step.code).toBe(2);
    expect(step.stderr).toContain("usage: jarvis history <host> [--limit N] [--before RUN] [--json]");
  }, 120_000);

  it("takes --limit only as a positive integer", async () => {
    const env = makeJarvisEnv();
    const history = await env.cli(["history", "loki", "--limit=abc"]);
    expect(history.code, history.stderr).toBe(2);
    expect(history.stderr).toContain("--limit must be a positive integer, got 'abc'");
    expect(history.stderr).toContain("usage: jarvis history");
    const audit = await env.cli(["audit", "--limit", "0"]);
    expect(audit.code, audit.stderr).toBe(2);
    expect(audit.stderr).toContain("--limit must be a positive integer, got '0'");
    expect(audit.stderr).toContain("usage: jarvis audit");
    const ok = await env.cli(["history", "loki", "--limit", "3", "--json"]);
    expect(ok).toMatchObject({ code: 0, stdout: "[]\n" });
  }, 120_000);

  it("shows a host called g-web, and audits what the CLI does as cli:<user>", async () => {
    const env = makeJarvisEnv({ pipelines: { p: "steps:\n  - ok:first\n" } });
    const run = await env.cli(["run", "p", env.write("g-web.yml", designFor("g-web"))]);
    expect(run.code, run.stderr).toBe(0);
    const status = await env.cli(["status", "g-web", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const parsed: unknown = JSON.parse(status.stdout);
    expect(parsed).toMatchObject({ host: "g-web", state: "succeeded" });

    const audit = await env.cli(["audit", "--json"]);
    expect(audit.code, audit.stderr).toBe(0);
    const entries: unknown = JSON.parse(audit.stdout);
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          identity: `cli:${userInfo().username}`,
          network: "cli",
          command: "status g-web --json",
          decision: "allowed",
        }),
        expect.objectContaining({ command: expect.stringMatching(/^run p /), runId: expect.any(String) }),
      ]),
    );
  }, 120_000);
});
