/**
 * The code a step fails with reaches the operator: from the step's final record (written by the
 * step SDK for built-in steps, by hand for a shell step) through the store to `status --json`.
 */
import { describe, expect, it } from "vitest";
import { makeJarvisEnv, designFor } from "../../helpers/jarvis-env.js";

describe("a failed step's code, end to end", () => {
  const env = makeJarvisEnv({
    pipelines: {
      builtin: "steps:\n  - uses: demo:fail\n    with: {message: the demo refuses on purpose}\n",
      shell: "steps:\n  - quota:check\n",
      foreign: "steps:\n  - fail:now\n",
    },
  });

  const failedRun = async (pipeline: string, host: string, extra = ""): Promise<Record<string, unknown>> => {
    const design = env.write(`${host}.yml`, designFor(host) + extra);
    const run = await env.cli(["run", pipeline, design]);
    expect(run.code, run.stderr + run.stdout).not.toBe(0);
    const status = await env.cli(["status", host, "--json"]);
    expect(status.code, status.stderr).toBe(0);
    return JSON.parse(status.stdout) as Record<string, unknown>;
  };

  it("shows the code a built-in step threw (StepFailure E_DEMO_FAIL)", async () => {
    const status = await failedRun("builtin", "codehost1");
    expect(status).toMatchObject({
      state: "failed",
      error: { code: "E_DEMO_FAIL", message: expect.stringContaining("the demo refuses on purpose") },
    });
    // The same code in the text people read: status (as chat shows it too) and the run log.
    expect((await env.cli(["status", "codehost1"])).stdout).toContain("[E_DEMO_FAIL]");
    expect((await env.cli(["log", "codehost1"])).stdout).toContain("failed (E_DEMO_FAIL)");
  });

  it("shows the code a shell step wrote on fd 3", async () => {
    const status = await failedRun("shell", "codehost2", "  size: 131072\n");
    expect(status).toMatchObject({ state: "failed", error: { code: "E_QUOTA_SIZE" } });
  });

  it("falls back to E_STEP_FAILED for a step that sends no record", async () => {
    const status = await failedRun("foreign", "codehost3");
    expect(status).toMatchObject({
      state: "failed",
      error: { code: "E_STEP_FAILED", message: expect.stringContaining("the API refused the token") },
    });
  });
});
