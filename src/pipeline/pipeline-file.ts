/**
 * Pipeline files (pipelines/*.yml): parsed with the safe YAML reader and validated at load, so a
 * pipeline that names a step nobody provides, or has a bad field, is refused before any run
 * starts. Every refusal is a PipelineError whose message starts with `file:line:` and says how to
 * fix it.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { PipelineError, SourceError, YamlError } from "../errors.js";
import { readFileBoundedSync } from "../io/bounded-read.js";
import { parseYamlMapping } from "../clipboard/yaml.js";
import type { ParsedYaml } from "../clipboard/yaml.js";
import { compileCondition } from "./condition.js";
import { parseDuration } from "./duration.js";
import { WORKER_TAG_PATTERN } from "./pipeline.js";
import type { Pipeline, PipelineStep, StepCatalog } from "./pipeline.js";
import { splitUses } from "./step-catalog.js";
import { nearest } from "../schema/did-you-mean.js";
import { check } from "../schema/schema-problem.js";
import { approvalSchema } from "./approval-rule.js";

/** Defaults for steps that say nothing: 10 minutes, no retries, 2 s backoff. */
export const STEP_DEFAULTS = { timeoutMs: 10 * 60_000, retries: 0, backoffMs: 2000 } as const;

/** Most retries a step may ask for; more would hide a broken step behind hours of backoff. */
export const MAX_RETRIES = 20;

/** Largest pipeline file read; real ones are a few KiB. */
const MAX_PIPELINE_BYTES = 1024 * 1024;

/**
 * Most steps in `steps` (and again in `on_failure`). The longest real pipeline (redeploy) has
 * about 20; a thousand is already a mistake, and every step costs a fork, a stored snapshot and
 * chat lines. Not configurable: split a longer job into several pipelines (docs/limits.md).
 */
export const MAX_PIPELINE_STEPS = 1000;

const TOP_FIELDS = ["description", "defaults", "steps", "on_failure", "approval", "runs_on"];
const DEFAULT_FIELDS = ["timeout", "retries", "backoff"];
const STEP_FIELDS = ["uses", "name", "with", "timeout", "retries", "backoff", "if", "runs_on"];
const EXTENSIONS = [".yml", ".yaml"];

type Path = (string | number)[];

/** What a step takes from the pipeline when it says nothing itself. */
interface StepDefaults {
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  runsOn?: string[];
}

/** Parse and validate a pipeline's text; `file` names it in messages and gives its name. */
export function parsePipeline(text: string | Buffer, file: string, catalog: StepCatalog): Pipeline {
  let doc: ParsedYaml;
  try {
    doc = parseYamlMapping(text, file, { maxBytes: MAX_PIPELINE_BYTES });
  } catch (err) {
    if (!(err instanceof YamlError)) throw err;
    // YAML errors already name the file; make sure a line follows it, as for every refusal.
    const rest = err.message.startsWith(`${file}:`)
      ? err.message.slice(file.length + 1).replace(/^\?:/, "")
      : ` ${err.message}`;
    const message = /^\d+:/.test(rest)
      ? `${file}:${rest}`
      : `${file}:1:${rest.startsWith(" ") ? rest : ` ${rest}`}`;
    throw new PipelineError("E_PIPELINE_YAML", message, { cause: err });
  }
  const lineOf = (path: Path): number => doc.lineOf(path) ?? 1;
  const at = (path: Path): string => `${file}:${lineOf(path)}`;
  const refuse = (path: Path, message: string, code = "E_PIPELINE_FIELD"): never => {
    throw new PipelineError(code, `${at(path)}: ${message}`);
  };
  const root = doc.value;
  unknownFields(root, TOP_FIELDS, [], "the pipeline", refuse);

  const description = root.description ?? "";
  if (typeof description !== "string")
    refuse(["description"], "description must be a string (one line saying what the pipeline does)");

  const defaults: StepDefaults = { ...STEP_DEFAULTS };
  if (root.runs_on !== undefined) defaults.runsOn = runsOn(root.runs_on, ["runs_on"], "runs_on", refuse);
  if (root.defaults !== undefined && root.defaults !== null) {
    if (!isMapping(root.defaults))
      refuse(["defaults"], "defaults must be a mapping with timeout, retries and/or backoff");
    const d = root.defaults as Record<string, unknown>;
    unknownFields(d, DEFAULT_FIELDS, ["defaults"], "defaults", refuse);
    if (d.timeout !== undefined)
      defaults.timeoutMs = timeout(d.timeout, ["defaults", "timeout"], "defaults timeout", at, refuse);
    if (d.retries !== undefined)
      defaults.retries = retries(d.retries, ["defaults", "retries"], "defaults", refuse);
    if (d.backoff !== undefined)
      defaults.backoffMs = parseDuration(d.backoff, `${at(["defaults", "backoff"])}: defaults backoff`);
  }

  if (root.steps === undefined || root.steps === null)
    refuse([], "the pipeline has no 'steps'; add a list of steps like '- demo:greet'", "E_PIPELINE_EMPTY");
  const steps = stepList(root.steps, "steps", defaults, catalog, lineOf, at, refuse);
  if (steps.length === 0)
    refuse(
      ["steps"],
      "'steps' is an empty list; add at least one step like '- demo:greet'",
      "E_PIPELINE_EMPTY",
    );
  const onFailure =
    root.on_failure === undefined || root.on_failure === null
      ? []
      : stepList(root.on_failure, "on_failure", defaults, catalog, lineOf, at, refuse);

  const pipeline: Pipeline = {
    name: pipelineName(file),
    file,
    description: description as string,
    steps,
    onFailure,
  };
  if (root.approval !== undefined && root.approval !== null) {
    const approval = check(approvalSchema, root.approval, { base: ["approval"], lineOf: doc.lineOf });
    if (!approval.ok) refuse(approval.problem.path, approval.problem.message, "E_PIPELINE_APPROVAL");
    else pipeline.approval = approval.data;
  }
  return pipeline;
}

/** Read and validate one pipeline file. */
export function loadPipelineFile(file: string, catalog: StepCatalog): Pipeline {
  let text: Buffer;
  try {
    text = readFileBoundedSync(file, { maxBytes: MAX_PIPELINE_BYTES, what: "pipeline file" });
  } catch (err) {
    if (!(err instanceof SourceError)) throw err;
    if (err.code === "E_SOURCE_NOT_FOUND")
      throw new PipelineError("E_PIPELINE_NOT_FOUND", `${file}: no such pipeline file`, { cause: err });
    const code = err.code === "E_SOURCE_TOO_LARGE" ? "E_PIPELINE_YAML" : "E_PIPELINE_READ";
    throw new PipelineError(code, `${file}:1: ${err.message}`, { cause: err });
  }
  return parsePipeline(text, file, catalog);
}

/**
 * Find a pipeline by name: `<dir>/<name>.yml`, then `.yaml`, in each dir in order. A path to a
 * file (with a `/` or a .yml/.yaml ending) is loaded as it is.
 */
export function findPipeline(name: string, dirs: string[], catalog: StepCatalog): Pipeline {
  if ((name.includes("/") || EXTENSIONS.some((e) => name.endsWith(e))) && existsSync(name))
    return loadPipelineFile(name, catalog);
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    // `demo.yml` names the file in a pipelines dir; `demo` tries both extensions.
    const candidates = EXTENSIONS.some((e) => name.endsWith(e))
      ? [name]
      : EXTENSIONS.map((e) => `${name}${e}`);
    for (const dir of dirs) {
      for (const candidate of candidates) {
        const file = join(dir, candidate);
        if (existsSync(file)) return loadPipelineFile(file, catalog);
      }
    }
  }
  const there = [...new Set(dirs.flatMap((dir) => pipelineFiles(dir).map(pipelineName)))].sort();
  throw new PipelineError(
    "E_PIPELINE_NOT_FOUND",
    `no pipeline '${name}' in ${dirs.length ? dirs.join(", ") : "(no pipelines dirs configured)"}; ` +
      (there.length
        ? `pipelines there are: ${there.join(", ")}`
        : "there are no pipelines there; check pipelines.dirs in jarvis.yml"),
  );
}

/** Every pipeline in the dirs (first dir wins on a name clash), and the refusal for each bad one. */
export function listPipelines(
  dirs: string[],
  catalog: StepCatalog,
): { pipelines: Pipeline[]; errors: PipelineError[] } {
  const pipelines: Pipeline[] = [];
  const errors: PipelineError[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    for (const file of pipelineFiles(dir)) {
      const name = pipelineName(file);
      if (seen.has(name)) continue;
      seen.add(name);
      try {
        pipelines.push(loadPipelineFile(file, catalog));
      } catch (err) {
        errors.push(
          err instanceof PipelineError
            ? err
            : new PipelineError("E_PIPELINE_READ", `${file}:1: ${String(err)}`, { cause: err }),
        );
      }
    }
  }
  return { pipelines, errors };
}

function pipelineFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  // .yml before .yaml for the same name, as findPipeline searches.
  const sorted = names
    .filter((n) => EXTENSIONS.some((e) => n.endsWith(e)) && !n.startsWith("."))
    .sort((a, b) => {
      const na = pipelineName(a);
      const nb = pipelineName(b);
      return na === nb ? (a.endsWith(".yml") ? -1 : 1) : na < nb ? -1 : 1;
    });
  return sorted.map((n) => join(dir, n));
}

function pipelineName(file: string): string {
  return basename(file).replace(/\.ya?ml$/, "");
}

function stepList(
  value: unknown,
  section: "steps" | "on_failure",
  defaults: StepDefaults,
  catalog: StepCatalog,
  lineOf: (path: Path) => number,
  at: (path: Path) => string,
  refuse: (path: Path, message: string, code?: string) => never,
): PipelineStep[] {
  if (!Array.isArray(value))
    refuse([section], `'${section}' must be a list of steps, each '- module:task' or a mapping with 'uses'`);
  if ((value as unknown[]).length > MAX_PIPELINE_STEPS)
    refuse(
      [section],
      `'${section}' has ${(value as unknown[]).length} steps, over the limit of ${MAX_PIPELINE_STEPS}; split the work into several pipelines`,
      "E_PIPELINE_LIMIT",
    );
  return (value as unknown[]).map((item, i) => {
    const path: Path = [section, i];
    const label = `${section} item ${i + 1}`;
    const line = lineOf(path);
    let fields: Record<string, unknown>;
    if (typeof item === "string") fields = { uses: item };
    else if (isMapping(item)) fields = item as Record<string, unknown>;
    else refuse(path, `${label} must be 'module:task' or a mapping with 'uses', got ${kindOf(item)}`);
    const keys = Object.keys(fields!);
    const only = keys[0];
    if (keys.length === 1 && only !== undefined && !STEP_FIELDS.includes(only)) {
      // `- demo: greet` (a space after the colon) is YAML for a mapping, not the step demo:greet.
      const value = fields![only];
      if (value === null || typeof value === "string") {
        const meant = `${only}:${value ?? "<task>"}`;
        refuse(
          [...path, only],
          `${label} reads as a mapping '${only}: ${value ?? ""}', not a step; write '${meant}' with no space after the colon`,
          "E_PIPELINE_USES",
        );
      }
    }
    unknownFields(fields!, STEP_FIELDS, path, label, refuse);
    const f = fields!;
    const fieldPath = (key: string): Path => (typeof item === "string" ? path : [...path, key]);

    if (f.uses === undefined || f.uses === null)
      refuse(path, `${label} has no 'uses'; say which step runs, e.g. 'uses: demo:greet'`);
    if (typeof f.uses !== "string")
      refuse(fieldPath("uses"), `${label} 'uses' must be a string 'module:task', got ${kindOf(f.uses)}`);
    const uses = (f.uses as string).trim();
    const parts = splitUses(uses);
    if (!parts) {
      refuse(
        fieldPath("uses"),
        `${label} uses '${uses}', which is not of the form module:task (e.g. demo:greet, provider:deploy)`,
        "E_PIPELINE_USES",
      );
    }
    const reason = catalog.check(parts!.module, parts!.task);
    if (reason) refuse(fieldPath("uses"), `${label} uses '${uses}': ${reason}`, "E_PIPELINE_UNKNOWN_STEP");

    if (f.name !== undefined && (typeof f.name !== "string" || f.name.trim() === "")) {
      refuse(fieldPath("name"), `${label} 'name' must be a non-empty string`);
    }
    if (f.with !== undefined && f.with !== null && !isMapping(f.with)) {
      refuse(
        fieldPath("with"),
        `${label} 'with' must be a mapping of parameters (key: value), got ${kindOf(f.with)}`,
      );
    }
    if (isMapping(f.with)) {
      const problem = catalog.checkParams(parts!.module, f.with as Record<string, unknown>, {
        base: fieldPath("with"),
        label: "with",
        lineOf,
      });
      if (problem) refuse(problem.path, `${label} (${uses}): ${problem.message}`, "E_PIPELINE_PARAM");
    }
    const step: PipelineStep = {
      name: typeof f.name === "string" ? f.name.trim() : uses,
      uses,
      with: isMapping(f.with) ? { ...(f.with as Record<string, unknown>) } : {},
      timeoutMs:
        f.timeout === undefined
          ? defaults.timeoutMs
          : timeout(f.timeout, fieldPath("timeout"), `${label} timeout`, at, refuse),
      retries:
        f.retries === undefined ? defaults.retries : retries(f.retries, fieldPath("retries"), label, refuse),
      backoffMs:
        f.backoff === undefined
          ? defaults.backoffMs
          : parseDuration(f.backoff, `${at(fieldPath("backoff"))}: ${label} backoff`),
      line,
    };
    const tags =
      f.runs_on === undefined
        ? defaults.runsOn
        : runsOn(f.runs_on, fieldPath("runs_on"), `${label} runs_on`, refuse);
    if (tags && tags.length > 0) step.runsOn = tags;
    if (f.if !== undefined) {
      if (typeof f.if !== "string") {
        refuse(
          fieldPath("if"),
          `${label} 'if' must be a condition string like "instance.provider == 'linode'", got ${kindOf(f.if)}`,
          "E_PIPELINE_CONDITION",
        );
      }
      compileCondition(f.if as string, `${at(fieldPath("if"))}: ${label} if`);
      step.if = f.if as string;
    }
    return step;
  });
}

function timeout(
  value: unknown,
  path: Path,
  label: string,
  at: (path: Path) => string,
  refuse: (path: Path, message: string, code?: string) => never,
): number {
  const ms = parseDuration(value, `${at(path)}: ${label}`);
  if (ms <= 0)
    refuse(
      path,
      `${label} must be longer than zero; a step needs time to run (e.g. "30s")`,
      "E_PIPELINE_DURATION",
    );
  return ms;
}

function retries(
  value: unknown,
  path: Path,
  label: string,
  refuse: (path: Path, message: string, code?: string) => never,
): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_RETRIES) {
    const shown = typeof value === "string" ? `'${value}'` : kindOf(value);
    refuse(
      path,
      `${label} retries must be a whole number from 0 to ${MAX_RETRIES}, got ${shown}`,
      "E_PIPELINE_RETRIES",
    );
  }
  return value as number;
}

/** A `runs_on` list: worker tags, each a subject-safe word. */
function runsOn(
  value: unknown,
  path: Path,
  label: string,
  refuse: (path: Path, message: string) => never,
): string[] {
  if (!Array.isArray(value) || !value.every((tag) => typeof tag === "string"))
    refuse(path, `${label} must be a list of worker tags, like [dmz]`);
  const tags = value as string[];
  const bad = tags.find((tag) => !WORKER_TAG_PATTERN.test(tag));
  if (bad !== undefined)
    refuse(path, `${label}: worker tag '${bad}' must be lowercase letters, digits and '-' (at most 32)`);
  return [...new Set(tags)].sort();
}

function unknownFields(
  value: Record<string, unknown>,
  allowed: readonly string[],
  path: Path,
  what: string,
  refuse: (path: Path, message: string, code?: string) => never,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      const meant = nearest(key, allowed);
      refuse(
        [...path, key],
        `unknown field '${key}' in ${what}; allowed fields: ${allowed.join(", ")}${meant ? `; did you mean '${meant}'?` : ""}`,
        "E_PIPELINE_UNKNOWN_FIELD",
      );
    }
  }
}

function isMapping(value: unknown): boolean {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string") return `'${value}'`;
  return `${typeof value} ${String(value)}`;
}
