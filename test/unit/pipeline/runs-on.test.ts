import { describe, expect, it } from "vitest";
import { PipelineError } from "../../../src/errors.js";
import { parsePipeline } from "../../../src/pipeline/pipeline-file.js";
import { createStepCatalog } from "../../../src/pipeline/step-catalog.js";

const catalog = createStepCatalog({ stepsDirs: ["steps"] });
const parse = (text: string) => parsePipeline(text, "p.yml", catalog);

describe("runs_on: which workers may run a step", () => {
  it("is the step's own list, else the pipeline's, sorted and without repeats", () => {
    const p = parse(
      "runs_on: [ssh, dmz, ssh]\nsteps:\n  - demo:greet\n  - uses: demo:greet\n    runs_on: [edge]\n  - uses: demo:greet\n    runs_on: []\n",
    );
    expect(p.steps.map((s) => s.runsOn)).toEqual([["dmz", "ssh"], ["edge"], undefined]);
  });

  it("is absent when nobody says it", () => {
    expect(parse("steps:\n  - demo:greet\n").steps[0]?.runsOn).toBeUndefined();
  });

  it.each([
    ["runs_on: dmz\nsteps:\n  - demo:greet\n", /p\.yml:1: runs_on must be a list of worker tags/],
    [
      "steps:\n  - uses: demo:greet\n    runs_on: [DMZ]\n",
      /p\.yml:3: steps item 1 runs_on: worker tag 'DMZ' must be lowercase/,
    ],
    ["steps:\n  - uses: demo:greet\n    runs_on: [a.b]\n", /worker tag 'a\.b'/],
  ])("refuses %j with its line", (text, reason) => {
    let error: unknown;
    try {
      parse(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).message).toMatch(reason);
  });
});
