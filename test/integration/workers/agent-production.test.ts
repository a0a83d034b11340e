import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStep } from "./run-step.js";

const dir = mkdtempSync(join(tmpdir(), "jarvis-agent-"));
const design = { instance: { hostname: "frigg", provider: "local" } };
let ready: Record<string, unknown>;

describe("agent:install over SSH (local provider host)", () => {
  beforeAll(async () => {
    const d = await runStep("providers/local-step", "deploy", design, { cwd: dir });
    expect(d.code, d.stderr).toBe(0);
    const w = await runStep("workers/ssh", "wait", d.clipboard!, { cwd: dir });
    expect(w.code, w.stderr).toBe(0);
    ready = w.clipboard!;
  });
  afterAll(async () => {
    await runStep("providers/local-step", "delete", design, { cwd: dir });
    rmSync(dir, { recursive: true, force: true });
  });

  it("installs once, then sees it installed and runs nothing", async () => {
    const marker = join(dir, ".state/local/frigg/home/agent-installed");
    const agent = {
      install: 'echo installing; touch "$HOME/agent-installed"',
      check: 'test -f "$HOME/agent-installed"',
    };
    const first = await runStep("workers/agent", "install", { ...ready, agent }, { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("installing");
    expect(existsSync(marker)).toBe(true);
    expect(first.clipboard!.agent).toMatchObject({ installed: true, changed: true });
    const second = await runStep("workers/agent", "install", { ...ready, agent }, { cwd: dir });
    expect(second.stderr).not.toContain("installing");
    expect(second.clipboard!.agent).toMatchObject({ installed: true, changed: false });
  });

  it("fails with the command's last lines, or when the check still fails after installing", async () => {
    const bad = await runStep("workers/agent", "install", ready, {
      cwd: dir,
      params: { command: "echo no-repo >&2; exit 100" },
    });
    expect(bad.code).toBe(1);
    expect(bad.lastLine).toMatch(/exited with 100: no-repo/);
    const lying = await runStep("workers/agent", "install", ready, {
      cwd: dir,
      params: { command: "true", check: "false" },
    });
    expect(lying.lastLine).toMatch(/still fails/);
    const none = await runStep("workers/agent", "install", ready, { cwd: dir });
    expect(none.code).toBe(0);
    expect(none.lastLine).toMatch(/nothing to install/);
    const noKeys = await runStep("workers/agent", "install", design, {
      cwd: dir,
      params: { command: "true" },
    });
    expect(noKeys.lastLine).toMatch(/clipboard field local is missing/);
  });
});

describe("production:check", () => {
  it("stops a production host unless forced", async () => {
    const prod = { instance: { hostname: "loki", production: true } };
    const stopped = await runStep("workers/production", "check", prod, { cwd: tmpdir() });
    expect(stopped.code).toBe(1);
    expect(stopped.lastLine).toMatch(/loki serves production \(instance\.production is set\).*forced/);
    const forced = await runStep("workers/production", "check", prod, {
      cwd: tmpdir(),
      params: { force: true },
    });
    expect(forced.code).toBe(0);
    expect(forced.clipboard!.production).toMatchObject({ serving: true, forced: true });
    const fromLdap = await runStep(
      "workers/production",
      "check",
      { instance: { hostname: "loki" }, ldap: { production: ["yes"] } },
      { cwd: tmpdir() },
    );
    expect(fromLdap.code).toBe(1);
    const fine = await runStep(
      "workers/production",
      "check",
      { instance: { hostname: "thor", production: false } },
      { cwd: tmpdir() },
    );
    expect(fine.code).toBe(0);
    expect(fine.clipboard!.production).toMatchObject({ serving: false });
  });
});
