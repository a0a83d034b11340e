import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { runStepAttempt } from "../../../src/pipeline/step-runner.js";
import type { StepInvocation } from "../../../src/pipeline/step-runner.js";
import { eventually } from "../../helpers/net.js";
import { alive } from "../../helpers/daemon.js";

const fixtures = resolve(import.meta.dirname, "../../fixtures/steps");

function invocation(name: string, over: Partial<StepInvocation> = {}): StepInvocation & { lines: string[] } {
  const lines: string[] = [];
  return {
    step: `${name}:task`,
    command: resolve(fixtures, name),
    args: ["task"],
    env: { PATH: "/usr/bin:/bin", JARVIS_RUN_ID: "r1" },
    cwd: process.cwd(),
    input: "instance:\n  hostname: loki\n",
    timeoutMs: 20_000,
    maxOutputBytes: 1024 * 1024,
    onLine: (line) => lines.push(line),
    lines,
    ...over,
  };
}

describe("step runner", () => {
  it("passes the clipboard through and streams stderr", async () => {
    const inv = invocation("ok");
    const result = await runStepAttempt(inv);
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") return;
    expect(result.clipboard).toEqual({
      instance: { hostname: "loki" },
      fixture_ok: { task: "task", run: "r1" },
    });
    expect(inv.lines).toContain("ok: adding fixture key");
  });

  it("leaves the clipboard unchanged when the step prints nothing", async () => {
    const result = await runStepAttempt(invocation("silent"));
    expect(result).toMatchObject({ kind: "ok", output: undefined });
  });

  it("reports the last stderr line of a failed step, not retryable", async () => {
    const result = await runStepAttempt(invocation("fail"));
    expect(result).toMatchObject({
      kind: "failed",
      retryable: false,
      exitCode: 3,
      error: { code: "E_STEP_FAILED", message: "the API refused the token: check modules.fail.env" },
    });
  });

  it("treats exit 75 as retryable", async () => {
    const result = await runStepAttempt(invocation("tempfail"));
    expect(result).toMatchObject({
      kind: "failed",
      retryable: true,
      exitCode: 75,
      error: { code: "E_STEP_RETRYABLE" },
    });
  });

  it("kills the whole process group on timeout, children included", async () => {
    const inv = invocation("hang", { timeoutMs: 1500, killGraceMs: 300 });
    const result = await runStepAttempt(inv);
    expect(result).toMatchObject({ kind: "failed", retryable: true, error: { code: "E_STEP_TIMEOUT" } });
    const childLine = inv.lines.find((l) => l.startsWith("child "));
    expect(childLine).toBeDefined();
    const childPid = Number(childLine!.split(" ")[1]);
    await eventually(() => (alive(childPid) ? undefined : true), 10_000, `child ${childPid} to die`);
  });

  it("cancels on abort and kills the group", async () => {
    const controller = new AbortController();
    const inv = invocation("hang", { signal: controller.signal, killGraceMs: 300 });
    const pending = runStepAttempt(inv);
    await eventually(
      () => (inv.lines.some((l) => l.startsWith("child ")) ? true : undefined),
      10_000,
      "the step to start",
    );
    controller.abort();
    const result = await pending;
    expect(result.kind).toBe("cancelled");
    const childPid = Number(inv.lines.find((l) => l.startsWith("child "))!.split(" ")[1]);
    await eventually(() => (alive(childPid) ? undefined : true), 10_000, `child ${childPid} to die`);
  });

  it("fails a step whose stdout is over the limit, and stops it", async () => {
    const result = await runStepAttempt(invocation("huge", { maxOutputBytes: 64 * 1024, killGraceMs: 300 }));
    expect(result).toMatchObject({
      kind: "failed",
      retryable: false,
      error: { code: "E_STEP_OUTPUT_TOO_LARGE" },
    });
  });

  it("fails a step that prints invalid YAML, naming the line", async () => {
    const result = await runStepAttempt(invocation("bad-yaml"));
    expect(result.kind).toBe("failed");
    if (result.kind !== "failed") return;
    expect(result.error.code).toBe("E_STEP_BAD_OUTPUT");
    expect(result.error.message).toMatch(/output of bad-yaml:task:\d+/);
  });

  it("gives the step exactly the environment it was handed", async () => {
    const result = await runStepAttempt(
      invocation("env", { env: { PATH: "/usr/bin:/bin", JARVIS_STEP: "env:task" } }),
    );
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") return;
    const env = result.clipboard!.env as Record<string, string>;
    expect(env.JARVIS_STEP).toBe("env:task");
    expect(env.HOME).toBeUndefined();
    expect(Object.keys(env).filter((k) => !["PATH", "JARVIS_STEP", "PWD", "SHLVL", "_"].includes(k))).toEqual(
      [],
    );
  });

  it("reports a missing executable clearly", async () => {
    const result = await runStepAttempt(invocation("ok", { command: "/nonexistent/step" }));
    expect(result).toMatchObject({ kind: "failed", error: { code: "E_STEP_SPAWN" } });
  });
});
