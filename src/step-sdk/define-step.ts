/**
 * The typed helper for steps written in TypeScript: a step module is a map from task name to a
 * function of (clipboard, context) returning the new clipboard. This file handles the protocol
 * (DESIGN.md "The step protocol"): task from argv, clipboard YAML on stdin, new clipboard YAML on
 * stdout, progress on stderr, exit 0 / 75 (retryable) / 1 with a final record on fd 3 naming the
 * failure's code, SIGTERM turned into an abort signal.
 *
 * It is loaded by every built-in step process, so it imports as little as it can: step overhead
 * is dominated by Node's start-up, and each extra module costs every step.
 */
import { realpathSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseClipboardYaml } from "../clipboard/clipboard-yaml.js";
import { dumpYaml } from "../clipboard/yaml-dump.js";
import { EXIT_RETRYABLE, STEP_CODE_PATTERN, STEP_ENV, STEP_RESULT_FD } from "../protocol.js";
import type { StepFinalRecord } from "../protocol.js";
import { StepFailure } from "../errors.js";
import { withUnknown } from "./plan.js";

// Step authors get the whole SDK from this one module.
export { StepFailure };

/** A clipboard as steps see it: a YAML mapping. */
export type Clipboard = Record<string, unknown>;

/** What a task gets besides the clipboard. */
export interface StepContext {
  /** The run this step belongs to (empty when run alone by `jarvis step`). */
  runId: string;
  /** The step's full name, `module:task`. */
  step: string;
  /** The task, the part after the colon. */
  task: string;
  /** Parameters from the pipeline's `with` and jarvis.yml's module defaults. */
  params: Record<string, unknown>;
  /** The step's environment: the secrets its configuration names, nothing else of jarvis's. */
  env: NodeJS.ProcessEnv;
  /** Write one progress line (kept in the run log, shown in chat). */
  log(line: string): void;
  /** Aborted when jarvis asks the step to stop (SIGTERM on timeout or cancel). */
  signal: AbortSignal;
  /**
   * A plan run (JARVIS_PLAN=1): report what the task would change under `plan:` (step-sdk/plan.ts)
   * and change nothing outside.
   */
  plan: boolean;
}

/** One task of a step module. Returning nothing leaves the clipboard unchanged. */
export type StepTask = (
  clipboard: Clipboard,
  ctx: StepContext,
) => Promise<Clipboard | void> | Clipboard | void;

/**
 * How a module plans. `planners`: a task of the same name that plans, instead of the task itself;
 * `"in-task"`: the tasks read ctx.plan themselves. A task with neither is never called in a plan
 * run: it is reported as unknown, so a step that knows nothing of plans cannot change anything.
 */
export interface StepModuleOptions {
  plan?: Record<string, StepTask> | "in-task";
}

/**
 * Run the task named by argv[2] when this file is the process's main module; do nothing when it is
 * merely imported (so tests and other modules can import the task functions).
 */
export function runStepModule(
  moduleUrl: string,
  tasks: Record<string, StepTask>,
  options: StepModuleOptions = {},
): void {
  const main = process.argv[1];
  if (!main) return;
  let mainPath: string;
  try {
    mainPath = realpathSync(main);
  } catch {
    return;
  }
  if (mainPath !== realpathSync(fileURLToPath(moduleUrl))) return;
  void executeTask(tasks, process.argv[2] ?? "", options).then((code) => {
    process.exitCode = code;
  });
}

/** Run one task under the protocol on this process's stdin/stdout; resolves to the exit code. */
export async function executeTask(
  tasks: Record<string, StepTask>,
  task: string,
  options: StepModuleOptions = {},
): Promise<number> {
  const stepName = process.env[STEP_ENV.step] ?? `?:${task}`;
  const fn = Object.hasOwn(tasks, task) ? tasks[task] : undefined;
  if (!fn) {
    const message = `unknown task '${task}' for step ${stepName}; this module offers: ${Object.keys(tasks).join(", ")}`;
    sendFinalRecord({ code: "E_STEP_UNKNOWN_TASK", message, retryable: false });
    process.stderr.write(`${message}\n`);
    return 64;
  }
  const controller = new AbortController();
  process.once("SIGTERM", () => controller.abort(new Error("stopped by jarvis (SIGTERM)")));
  try {
    const input = await readStdin();
    const clipboard = input.trim() === "" ? {} : await parseClipboardYaml(input, "clipboard on stdin");
    const ctx: StepContext = {
      runId: process.env[STEP_ENV.runId] ?? "",
      step: stepName,
      task,
      params: parseParams(process.env[STEP_ENV.params]),
      env: process.env,
      log: (line) => process.stderr.write(`${line.replace(/\n/g, " ")}\n`),
      signal: controller.signal,
      plan: process.env[STEP_ENV.plan] === "1",
    };
    const result = ctx.plan ? await planTask(fn, clipboard, ctx, options) : await fn(clipboard, ctx);
    if (result !== undefined) await writeStdout(dumpYaml(result));
    return 0;
  } catch (err) {
    const record = finalRecordOf(err);
    sendFinalRecord(record);
    process.stderr.write(`${record.message}\n`);
    return record.retryable ? EXIT_RETRYABLE : 1;
  }
}

async function planTask(
  fn: StepTask,
  clipboard: Clipboard,
  ctx: StepContext,
  options: StepModuleOptions,
): Promise<Clipboard | void> {
  if (options.plan === "in-task") return fn(clipboard, ctx);
  const planner = options.plan && Object.hasOwn(options.plan, ctx.task) ? options.plan[ctx.task] : undefined;
  if (planner) return planner(clipboard, ctx);
  ctx.log(`${ctx.step}: cannot plan; reported as unknown, nothing done`);
  return withUnknown(clipboard, ctx.step, `${ctx.step} cannot say what it would change without doing it`);
}

/**
 * What a thrown value says about the failure: a StepFailure's (or any jarvis error's) own code and
 * retry decision; anything else is a bug in the step, E_STEP_EXCEPTION.
 */
function finalRecordOf(err: unknown): Required<StepFinalRecord> {
  const message = (err instanceof Error ? err.message : String(err)).replace(/\n/g, " ");
  const fields: { code?: unknown; retryable?: unknown } = typeof err === "object" && err !== null ? err : {};
  const code =
    typeof fields.code === "string" && STEP_CODE_PATTERN.test(fields.code) ? fields.code : "E_STEP_EXCEPTION";
  return { code, message: message || code, retryable: fields.retryable === true };
}

/** Tell the parent the failure's code on fd 3, when the parent opened it (STEP_ENV.resultFd). */
function sendFinalRecord(record: StepFinalRecord): void {
  if (process.env[STEP_ENV.resultFd] !== String(STEP_RESULT_FD)) return;
  try {
    writeSync(STEP_RESULT_FD, `${JSON.stringify(record)}\n`);
  } catch (err) {
    // The parent then falls back to the exit code and the last stderr line: say why, once.
    process.stderr.write(`could not write the final record on fd ${STEP_RESULT_FD}: ${String(err)}\n`);
  }
}

/**
 * Read a required field from the clipboard by dotted path; a missing or mistyped field fails the
 * step with a message that names it.
 */
export function requireField(
  clipboard: Clipboard,
  path: string,
  type: "string" | "number" | "object" | "array",
): unknown {
  let node: unknown = clipboard;
  for (const part of path.split(".")) {
    node =
      node && typeof node === "object" && !Array.isArray(node)
        ? (node as Record<string, unknown>)[part]
        : undefined;
  }
  const actual = Array.isArray(node) ? "array" : node === null ? "null" : typeof node;
  if (node === undefined) {
    throw new StepFailure(
      "E_CLIPBOARD_FIELD",
      `clipboard field ${path} is missing; the design or an earlier step must set it`,
    );
  }
  if (actual !== type) {
    throw new StepFailure(
      "E_CLIPBOARD_FIELD",
      `clipboard field ${path} must be ${type === "array" ? "a list" : `a ${type}`}, got ${actual}`,
    );
  }
  return node;
}

function parseParams(raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  const parsed: unknown = JSON.parse(raw);
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new StepFailure("E_STEP_PARAMS", `${STEP_ENV.params} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(text, (err) => (err ? reject(err) : resolve())),
  );
}
