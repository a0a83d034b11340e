import { describe, expect, it } from "vitest";
import { createLocalForkExecutor } from "../../../src/pipeline/executors/local-fork.js";
import { createStepCatalog } from "../../../src/pipeline/step-catalog.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { StepReport, StepRequest } from "../../../src/protocol.js";

async function collect(reports: AsyncIterable<StepReport>): Promise<StepReport[]> {
  const all: StepReport[] = [];
  for await (const report of reports) all.push(report);
  return all;
}

describe("the local fork executor", () => {
  it("resolves the step and its secrets where it runs, and streams redacted lines and one outcome", async () => {
    process.env.TEST_FORK_TOKEN = "fork-s3cr3t-77";
    const env = makeJarvisEnv({
      extraConfig: "modules:\n  secret:\n    env:\n      DEMO_TOKEN: ${TEST_FORK_TOKEN}\n",
    });
    const config = env.config();
    const executor = createLocalForkExecutor(config, createStepCatalog({ stepsDirs: config.steps.dirs }));
    // Nothing machine-specific or secret in the request: it could be sent to another machine as is.
    const request: StepRequest = {
      runId: "r1",
      step: "secret:use",
      params: {},
      clipboardYaml: "instance: {hostname: loki}\n",
      attempt: 3,
      timeoutMs: 30_000,
      forced: false,
    };
    expect(JSON.stringify(request)).not.toContain("fork-s3cr3t-77");
    const reports = await collect(executor.run(request, new AbortController().signal));
    expect(reports.every((r) => r.attempt === 3)).toBe(true);
    expect(reports.filter((r) => r.type === "outcome")).toHaveLength(1);
    expect(reports.at(-1)).toMatchObject({ type: "outcome", outcome: { kind: "ok" } });
    const text = JSON.stringify(reports.filter((r) => r.type === "log"));
    expect(text).not.toContain("fork-s3cr3t-77");

    const unknown = await collect(
      executor.run({ ...request, step: "nosuch:task" }, new AbortController().signal),
    );
    expect(unknown).toMatchObject([
      { type: "outcome", outcome: { kind: "failed", error: { code: "E_STEP_UNKNOWN", retryable: false } } },
    ]);
  });
});
