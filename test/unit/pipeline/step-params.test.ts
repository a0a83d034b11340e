import { describe, expect, it } from "vitest";
import { PipelineError } from "../../../src/errors.js";
import { parsePipeline } from "../../../src/pipeline/pipeline-file.js";
import { createStepCatalog } from "../../../src/pipeline/step-catalog.js";

const catalog = createStepCatalog({ stepsDirs: ["steps"] });

function refusal(text: string): PipelineError {
  try {
    parsePipeline(text, "p.yml", catalog);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    return err as PipelineError;
  }
  throw new Error("expected a PipelineError, but the pipeline was accepted");
}

describe("step parameters are checked when a pipeline is loaded", () => {
  it("refuses an unknown parameter at the line of its key, naming the step and the nearest parameter", () => {
    const err = refusal(
      "steps:\n  - demo:greet\n  - uses: dns:update_host\n    with:\n      server: 127.0.0.1\n      prot: 53\n",
    );
    expect(err.code).toBe("E_PIPELINE_PARAM");
    expect(err.message).toBe(
      "p.yml:6: steps item 2 (dns:update_host): unknown parameter 'with.prot'; did you mean 'with.port'?",
    );
  });

  it("refuses a parameter of the wrong type, saying what it must be", () => {
    expect(refusal("steps:\n  - uses: ssh:wait\n    with: { attempts: many }\n").message).toBe(
      "p.yml:3: steps item 1 (ssh:wait): with.attempts must be a positive number",
    );
    expect(refusal("steps:\n  - uses: dns:update_host\n    with: { algorithm: md5 }\n").message).toBe(
      "p.yml:3: steps item 1 (dns:update_host): with.algorithm must be hmac-sha256, hmac-sha512 or hmac-sha1",
    );
    expect(
      refusal("on_failure:\n  - uses: monitoring:enable\n    with: { lease: forever }\nsteps: [demo:greet]\n")
        .message,
    ).toMatch(/^p\.yml:3: on_failure item 1 \(monitoring:enable\): with\.lease is not a duration/);
  });

  it("refuses a secret given as a parameter without echoing it", () => {
    const err = refusal("steps:\n  - uses: dns:update_host\n    with: { secret: hunter2 }\n");
    expect(err.message).toMatch(/with\.secret must not be a parameter .*modules\.dns\.env\.DNS_TSIG_SECRET/);
    expect(err.message).not.toContain("hunter2");
  });

  it("checks provider:<task> against every provider's parameters", () => {
    expect(() =>
      parsePipeline(
        "steps:\n  - uses: provider:deploy\n    with: { region: us-east, wait_timeout_s: '60', address: 127.0.0.2 }\n",
        "p.yml",
        catalog,
      ),
    ).not.toThrow();
    expect(refusal("steps:\n  - uses: provider:deploy\n    with: { regoin: us-east }\n").message).toBe(
      "p.yml:3: steps item 1 (provider:deploy): unknown parameter 'with.regoin'; did you mean 'with.region'?",
    );
    expect(refusal("steps:\n  - uses: linode:deploy\n    with: { root_password: maybe }\n").message).toBe(
      "p.yml:3: steps item 1 (linode:deploy): with.root_password must be 'generate' or 'require'",
    );
  });

  it("passes any parameters to external steps, which declare none", () => {
    const p = parsePipeline(
      "steps:\n  - uses: hello:greet\n    with: { whatever: [1, 2] }\n",
      "p.yml",
      catalog,
    );
    expect(p.steps[0]!.with).toEqual({ whatever: [1, 2] });
  });

  it("accepts the parameters the shipped pipelines and docs use", () => {
    expect(() =>
      parsePipeline(
        "steps:\n  - uses: ssh:run\n    with: { from: commands.mounts }\n  - uses: demo:flaky\n    with: { failures: 1 }\n" +
          "  - uses: production:check\n    with: { force: true, fields: [instance.production] }\n",
        "p.yml",
        catalog,
      ),
    ).not.toThrow();
  });
});
