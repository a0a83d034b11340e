/**
 * The pipeline model: what a pipeline file becomes once loaded and validated
 * (pipeline-file.ts parses it; the engine executes it).
 */
import type { ProblemOptions, SchemaProblem } from "../schema/schema-problem.js";
import type { ApprovalRule } from "./approval-rule.js";

/** One step of a pipeline, with every default filled in. */
export interface PipelineStep {
  /** Display name: the `name` field, else `uses`. */
  name: string;
  /** `module:task`; the module `provider` is resolved from the clipboard's `instance.provider`. */
  uses: string;
  /** Parameters, passed to the step as JSON in JARVIS_PARAMS (merged over jarvis.yml defaults). */
  with: Record<string, unknown>;
  /** Kill the step (SIGTERM, then SIGKILL) after this long. */
  timeoutMs: number;
  /** Extra attempts after a retryable failure (exit 75 or timeout). */
  retries: number;
  /** Wait before the first retry; doubles with each further one. */
  backoffMs: number;
  /** Condition on the clipboard (see condition.ts); the step is skipped when it is false. */
  if?: string;
  /** Line in the pipeline file, for messages. */
  line: number;
  /** Worker tags the step needs (its own `runs_on`, else the pipeline's); only the NATS executor routes by them. */
  runsOn?: string[];
}

/** A validated pipeline. */
export interface Pipeline {
  name: string;
  /** The file it was loaded from. */
  file: string;
  description: string;
  steps: PipelineStep[];
  /** Steps that always run after a failure or cancellation, in order, each once. */
  onFailure: PipelineStep[];
  /** Runs of this pipeline wait for these approvals (when its `when` holds) before they start. */
  approval?: ApprovalRule;
}

/** A worker tag in `runs_on`: safe as one NATS subject token. */
export const WORKER_TAG_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** The pseudo-module whose real name comes from the clipboard's `instance.provider`. */
export const PROVIDER_MODULE = "provider";

/** Answers whether a step exists and takes the given parameters, for validation at load time. */
export interface StepCatalog {
  /** undefined when `module:task` can be run; otherwise the reason it cannot. */
  check(module: string, task: string): string | undefined;
  /** The first problem with a step's `with` parameters, located by `options`; undefined when fine. */
  checkParams(
    module: string,
    params: Record<string, unknown>,
    options: ProblemOptions,
  ): SchemaProblem | undefined;
}
