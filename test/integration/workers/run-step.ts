/** Spawn a compiled built-in step exactly as the engine does: clipboard YAML on stdin, params in JARVIS_PARAMS. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { repoRoot } from "../../helpers/jarvis-env.js";

/** What a step run returned. */
export interface StepResult {
  code: number | null;
  stdout: string;
  clipboard: Record<string, unknown> | undefined;
  stderr: string;
  /** The last stderr line: the error people see. */
  lastLine: string;
}

/** Run `dist/src/<file>.js <task>` in `cwd` with a clean environment plus `env`. */
export function runStep(
  file: string,
  task: string,
  clipboard: Record<string, unknown>,
  options: {
    params?: Record<string, unknown>;
    env?: Record<string, string>;
    cwd: string;
    timeoutMs?: number;
    /** JARVIS_RUN_ID (default "test") and JARVIS_STEP (default `<file>:<task>`). */
    runId?: string;
    step?: string;
  },
): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "dist/src", `${file}.js`), task], {
      cwd: options.cwd,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        JARVIS_RUN_ID: options.runId ?? "test",
        JARVIS_STEP: options.step ?? `${file}:${task}`,
        JARVIS_PARAMS: JSON.stringify(options.params ?? {}),
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const lines = stderr.trim().split("\n");
      resolve({
        code,
        stdout,
        clipboard: stdout.trim() ? (parse(stdout) as Record<string, unknown>) : undefined,
        stderr,
        lastLine: lines[lines.length - 1] ?? "",
      });
    });
    child.stdin.end(stringify(clipboard));
  });
}
