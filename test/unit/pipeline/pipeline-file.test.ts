import { mkdtempSync, mkdirSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineError } from "../../../src/errors.js";
import {
  findPipeline,
  listPipelines,
  loadPipelineFile,
  parsePipeline,
  STEP_DEFAULTS,
} from "../../../src/pipeline/pipeline-file.js";
import { createStepCatalog } from "../../../src/pipeline/step-catalog.js";

const FIXTURES = "test/fixtures/pipelines";
const catalog = createStepCatalog({ stepsDirs: ["steps"] });

function refusal(run: () => unknown): PipelineError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    return err as PipelineError;
  }
  throw new Error("expected a PipelineError, but the pipeline was accepted");
}

const parse = (text: string, file = "p.yml") => parsePipeline(text, file, catalog);
const refuse = (text: string, file = "p.yml") => refusal(() => parse(text, file));

describe("pipeline fixtures are refused with file, line and reason", () => {
  it.each([
    [
      "unknown-top-field.yml",
      4,
      "E_PIPELINE_UNKNOWN_FIELD",
      /unknown field 'onfailure' in the pipeline; allowed fields: description, defaults, steps, on_failure/,
    ],
    [
      "unknown-step-field.yml",
      5,
      "E_PIPELINE_UNKNOWN_FIELD",
      /unknown field 'timout' in steps item 2; allowed fields: uses, name, with, timeout, retries, backoff, if/,
    ],
    [
      "unknown-module.yml",
      4,
      "E_PIPELINE_UNKNOWN_STEP",
      /steps item 2 uses 'dnss:update_host': no step module 'dnss' \(built-in: .*demo.*; steps dirs: steps\)/,
    ],
    [
      "unknown-task.yml",
      3,
      "E_PIPELINE_UNKNOWN_STEP",
      /module 'demo' has no task 'gret' \(tasks: greet, flaky, slow, fail\)/,
    ],
    [
      "bad-duration.yml",
      6,
      "E_PIPELINE_DURATION",
      /steps item 1 timeout: '5 minutes' is not a duration; write a number of seconds or a string like "500ms"/,
    ],
    ["bad-default-duration.yml", 4, "E_PIPELINE_DURATION", /defaults backoff: 'soon' is not a duration/],
    [
      "bad-retries.yml",
      5,
      "E_PIPELINE_RETRIES",
      /steps item 2 retries must be a whole number from 0 to 20, got number 50/,
    ],
    [
      "bad-if.yml",
      5,
      "E_PIPELINE_CONDITION",
      /steps item 2 if: bad condition "instance.provider = 'linode'" at column 19: unexpected character '=' \(compare with '=='\)/,
    ],
    ["bad-uses.yml", 4, "E_PIPELINE_USES", /steps item 2 uses 'demo', which is not of the form module:task/],
    ["empty-steps.yml", 2, "E_PIPELINE_EMPTY", /'steps' is an empty list; add at least one step/],
    ["bad-yaml.yml", 5, "E_PIPELINE_YAML", /./],
    [
      "bad-on-failure.yml",
      5,
      "E_PIPELINE_UNKNOWN_STEP",
      /on_failure item 1 uses 'nosuch:unsilence': no step module 'nosuch'/,
    ],
  ])("%s:%d %s", (name, line, code, reason) => {
    const file = join(FIXTURES, name);
    const err = refusal(() => loadPipelineFile(file, catalog));
    expect(err.code).toBe(code);
    expect(err.message.startsWith(`${file}:${line}: `), err.message).toBe(true);
    expect(err.message).toMatch(reason);
  });
});

describe("parsePipeline", () => {
  it("loads the demo pipeline with defaults, overrides, if and on_failure", () => {
    const p = loadPipelineFile("pipelines/demo.yml", catalog);
    expect(p.name).toBe("demo");
    expect(p.file).toBe("pipelines/demo.yml");
    expect(p.description).toMatch(/shell, Node and Python/);
    expect(p.steps.map((s) => s.uses)).toEqual([
      "hello:greet",
      "demo:greet",
      "pyfacts:collect",
      "demo:flaky",
      "demo:slow",
    ]);
    const [hello, , py, flaky, slow] = p.steps;
    expect(hello).toMatchObject({
      name: "hello:greet",
      with: {},
      timeoutMs: 120_000,
      retries: 0,
      backoffMs: 1000,
      line: 13,
    });
    expect(hello?.if).toBeUndefined();
    expect(py?.name).toBe("facts from Python");
    expect(flaky).toMatchObject({ with: { failures: 1 }, retries: 2, backoffMs: 500 });
    expect(slow).toMatchObject({ timeoutMs: 15_000, if: "instance.hostname != 'loki' && !demo.skip_slow" });
    expect(p.onFailure).toHaveLength(1);
    expect(p.onFailure[0]).toMatchObject({ uses: "demo:greet", name: "say goodbye after a failure" });
  });

  it("fills the documented defaults: 10 minutes, no retries, 2 s backoff", () => {
    const p = parse("steps:\n  - demo:greet\n", "dir/x.yaml");
    expect(p.name).toBe("x");
    expect(p.description).toBe("");
    expect(p.onFailure).toEqual([]);
    expect(p.steps[0]).toEqual({
      name: "demo:greet",
      uses: "demo:greet",
      with: {},
      timeoutMs: 600_000,
      retries: 0,
      backoffMs: 2000,
      line: 2,
    });
    expect(STEP_DEFAULTS).toEqual({ timeoutMs: 600_000, retries: 0, backoffMs: 2000 });
  });

  it("applies pipeline defaults, and step fields win over them", () => {
    const p = parse(
      "defaults:\n  timeout: 30\n  retries: 3\n  backoff: 250ms\nsteps:\n  - demo:greet\n  - uses: demo:slow\n    timeout: 1h\n    retries: 0\n    backoff: 1m\n",
    );
    expect(p.steps[0]).toMatchObject({ timeoutMs: 30_000, retries: 3, backoffMs: 250 });
    expect(p.steps[1]).toMatchObject({ timeoutMs: 3_600_000, retries: 0, backoffMs: 60_000, line: 7 });
  });

  it("accepts an empty with, an empty on_failure and provider tasks", () => {
    const p = parse("steps:\n  - uses: provider:deploy\n    with:\non_failure: []\n");
    expect(p.steps[0]?.with).toEqual({});
    expect(p.onFailure).toEqual([]);
    expect(refuse("steps:\n  - provider:explode\n").message).toMatch(
      /^p\.yml:2: .*module 'provider' has no task 'explode' \(tasks: deploy, ip, poweroff, delete, status, list\)/,
    );
  });

  it.each([
    ["description: [a]\nsteps: [demo:greet]\n", 1, "E_PIPELINE_FIELD", /description must be a string/],
    ["defaults: 5\nsteps: [demo:greet]\n", 1, "E_PIPELINE_FIELD", /defaults must be a mapping/],
    [
      "defaults:\n  tries: 2\nsteps: [demo:greet]\n",
      2,
      "E_PIPELINE_UNKNOWN_FIELD",
      /unknown field 'tries' in defaults; allowed fields: timeout, retries, backoff/,
    ],
    [
      "defaults:\n  retries: -1\nsteps: [demo:greet]\n",
      2,
      "E_PIPELINE_RETRIES",
      /defaults retries must be a whole number from 0 to 20, got number -1/,
    ],
    ["description: none\n", 1, "E_PIPELINE_EMPTY", /has no 'steps'/],
    ["steps: demo:greet\n", 1, "E_PIPELINE_FIELD", /'steps' must be a list of steps/],
    [
      "steps:\n  -\n",
      2,
      "E_PIPELINE_FIELD",
      /steps item 1 must be 'module:task' or a mapping with 'uses', got nothing/,
    ],
    ["steps:\n  - 42\n", 2, "E_PIPELINE_FIELD", /got number 42/],
    ["steps:\n  - name: x\n", 2, "E_PIPELINE_FIELD", /steps item 1 has no 'uses'/],
    [
      "steps:\n  - uses: [demo:greet]\n",
      2,
      "E_PIPELINE_FIELD",
      /'uses' must be a string 'module:task', got a list/,
    ],
    ["steps:\n  - uses: demo:greet:x\n", 2, "E_PIPELINE_USES", /not of the form module:task/],
    ["steps:\n  - ../../bin/sh:x\n", 2, "E_PIPELINE_USES", /not of the form module:task/],
    [
      "steps:\n  - demo:\n",
      2,
      "E_PIPELINE_USES",
      /steps item 1 reads as a mapping 'demo: ', not a step; write 'demo:<task>'/,
    ],
    [
      "steps:\n  - demo: greet\n",
      2,
      "E_PIPELINE_USES",
      /reads as a mapping 'demo: greet', not a step; write 'demo:greet' with no space after the colon/,
    ],
    ["steps:\n  - :greet\n", 2, "E_PIPELINE_USES", /not of the form/],
    [
      "steps:\n  - uses: demo:greet\n    name: ''\n",
      3,
      "E_PIPELINE_FIELD",
      /'name' must be a non-empty string/,
    ],
    [
      "steps:\n  - uses: demo:greet\n    with: [1]\n",
      3,
      "E_PIPELINE_FIELD",
      /'with' must be a mapping of parameters/,
    ],
    ["steps:\n  - uses: demo:greet\n    retries: '2'\n", 3, "E_PIPELINE_RETRIES", /got '2'/],
    ["steps:\n  - uses: demo:greet\n    retries: 1.5\n", 3, "E_PIPELINE_RETRIES", /whole number/],
    ["steps:\n  - uses: demo:greet\n    retries: 21\n", 3, "E_PIPELINE_RETRIES", /from 0 to 20/],
    ["steps:\n  - uses: demo:greet\n    retries: true\n", 3, "E_PIPELINE_RETRIES", /got boolean true/],
    [
      "steps:\n  - uses: demo:greet\n    timeout: 0\n",
      3,
      "E_PIPELINE_DURATION",
      /timeout must be longer than zero/,
    ],
    [
      "steps:\n  - uses: demo:greet\n    backoff: fast\n",
      3,
      "E_PIPELINE_DURATION",
      /steps item 1 backoff: 'fast' is not a duration/,
    ],
    [
      "steps:\n  - uses: demo:greet\n    if: true\n",
      3,
      "E_PIPELINE_CONDITION",
      /'if' must be a condition string/,
    ],
    [
      "steps:\n  - uses: demo:greet\n    if: 'a &&'\n",
      3,
      "E_PIPELINE_CONDITION",
      /bad condition "a &&" at column 5/,
    ],
    ["steps: [demo:greet]\non_failure: demo:greet\n", 2, "E_PIPELINE_FIELD", /'on_failure' must be a list/],
    [
      "steps: [demo:greet]\non_failure:\n  - uses: demo:greet\n    retry: 1\n",
      4,
      "E_PIPELINE_UNKNOWN_FIELD",
      /unknown field 'retry' in on_failure item 1/,
    ],
  ])("refuses %j at line %d", (text, line, code, reason) => {
    const err = refuse(text);
    expect(err.code).toBe(code);
    expect(err.message.startsWith(`p.yml:${line}: `), err.message).toBe(true);
    expect(err.message).toMatch(reason);
  });

  it.each([
    ["", 1, /empty/],
    ["- demo:greet\n", 1, /list.*expected a mapping/],
    ["steps: [demo:greet]\n---\nsteps: [demo:greet]\n", 2, /several YAML documents/],
    ["steps: [demo:greet]\nsteps: [demo:slow]\n", 2, /./],
    ["steps:\n  - \u0000\n", 2, /not YAML text/],
  ])("refuses bad YAML %j as E_PIPELINE_YAML with file:line", (text, line, reason) => {
    const err = refuse(text);
    expect(err.code).toBe("E_PIPELINE_YAML");
    expect(err.message.startsWith(`p.yml:${line}: `), err.message).toBe(true);
    expect(err.message).toMatch(reason);
  });
});

describe("finding and listing pipelines", () => {
  let root: string;
  let first: string;
  let second: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "jarvis-pipelines-"));
    first = join(root, "first");
    second = join(root, "second");
    mkdirSync(first);
    mkdirSync(second);
    writeFileSync(join(first, "alpha.yml"), "description: alpha in first\nsteps: [demo:greet]\n");
    writeFileSync(join(second, "alpha.yml"), "description: alpha in second\nsteps: [demo:greet]\n");
    writeFileSync(join(second, "beta.yaml"), "description: beta\nsteps: [demo:greet]\n");
    writeFileSync(join(second, "broken.yml"), "steps:\n  - demo:nope\n");
    writeFileSync(join(second, "notes.txt"), "not a pipeline\n");
    // An external step only this pipeline needs: accepted once the executable is in a steps dir.
    mkdirSync(join(root, "steps"));
    writeFileSync(join(root, "steps", "custom"), "#!/bin/sh\ncat\n");
    chmodSync(join(root, "steps", "custom"), 0o755);
    writeFileSync(join(second, "ext.yml"), "steps: [custom:anything]\n");
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("finds by name, first dir first, .yml before .yaml; and by path", () => {
    expect(findPipeline("alpha", [first, second], catalog).description).toBe("alpha in first");
    expect(findPipeline("alpha", [second, first], catalog).description).toBe("alpha in second");
    expect(findPipeline("beta", [first, second], catalog).file).toBe(join(second, "beta.yaml"));
    expect(findPipeline(join(second, "alpha.yml"), [], catalog).description).toBe("alpha in second");
    expect(findPipeline("beta.yaml", [first, second], catalog).description).toBe("beta");
  });

  it("a missing pipeline names the dirs and the pipelines there are", () => {
    const err = refusal(() => findPipeline("gamma", [first, second], catalog));
    expect(err.code).toBe("E_PIPELINE_NOT_FOUND");
    expect(err.message).toBe(
      `no pipeline 'gamma' in ${first}, ${second}; pipelines there are: alpha, beta, broken, ext`,
    );
    expect(refusal(() => findPipeline("../first/alpha", [second], catalog)).code).toBe(
      "E_PIPELINE_NOT_FOUND",
    );
    expect(refusal(() => findPipeline("x", [join(root, "none")], catalog)).message).toMatch(
      /there are no pipelines there/,
    );
    expect(refusal(() => loadPipelineFile(join(root, "missing.yml"), catalog)).code).toBe(
      "E_PIPELINE_NOT_FOUND",
    );
  });

  it("a pipeline found by name is still validated", () => {
    expect(refusal(() => findPipeline("broken", [second], catalog)).message).toMatch(
      /broken\.yml:2: .*module 'demo' has no task 'nope'/,
    );
  });

  it("external steps resolve against the catalog's steps dirs", () => {
    expect(refusal(() => findPipeline("ext", [second], catalog)).message).toMatch(/no step module 'custom'/);
    const withSteps = createStepCatalog({ stepsDirs: [join(root, "steps")] });
    expect(findPipeline("ext", [second], withSteps).steps[0]?.uses).toBe("custom:anything");
  });

  it("lists every pipeline once (first dir wins) and every refusal", () => {
    const { pipelines, errors } = listPipelines([first, second, join(root, "missing")], catalog);
    expect(pipelines.map((p) => `${p.name}: ${p.description}`)).toEqual([
      "alpha: alpha in first",
      "beta: beta",
    ]);
    expect(errors.map((e) => e.message.split(": ")[0])).toEqual([
      `${join(second, "broken.yml")}:2`,
      `${join(second, "ext.yml")}:1`,
    ]);
    expect(errors.every((e) => e instanceof PipelineError)).toBe(true);
  });

  it("the shipped pipelines all load", () => {
    const { pipelines, errors } = listPipelines(["pipelines"], createStepCatalog({ stepsDirs: ["steps"] }));
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(pipelines.map((p) => p.name)).toContain("demo");
  });
});

describe("pipeline limits", () => {
  const steps = (n: number, section = "steps"): string => `${section}:\n${"  - demo:greet\n".repeat(n)}`;

  it("refuses more than 1,000 steps (a 10,000-step pipeline) in steps or on_failure, naming the line", () => {
    const long = refuse(steps(10_000));
    expect(long.code).toBe("E_PIPELINE_LIMIT");
    expect(long.message).toBe(
      "p.yml:1: 'steps' has 10000 steps, over the limit of 1000; split the work into several pipelines",
    );
    const cleanup = refuse(`steps:\n  - demo:greet\n${steps(1001, "on_failure")}`);
    expect(cleanup.message).toMatch(/^p\.yml:3: 'on_failure' has 1001 steps, over the limit of 1000/);
  });

  it("accepts exactly 1,000 steps", () => {
    expect(parse(steps(1000)).steps).toHaveLength(1000);
  });
});
