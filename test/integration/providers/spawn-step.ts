/** Run a compiled provider step exactly as the engine does: task in argv, clipboard on stdin, params and secrets in a clean env. */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { parse } from "yaml";
import { dumpYaml } from "../../../src/clipboard/yaml.js";

/** How a step process ended. */
export interface StepResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The clipboard it printed (the input when stdout was empty). */
  clipboard: Record<string, unknown>;
  /** The last stderr line: the error people are shown. */
  lastLine: string;
}

/** Spawn `node dist/src/providers/<module>-step.js <task>` with the clipboard on stdin; bounded by `timeoutMs`. */
export function runStep(
  module: string,
  task: string,
  clipboard: Record<string, unknown>,
  params: Record<string, unknown>,
  secrets: Record<string, string>,
  timeoutMs = 60_000,
): Promise<StepResult> {
  const file = resolve(import.meta.dirname, "../../../dist/src/providers", `${module}-step.js`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [file, task], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        JARVIS_RUN_ID: "run-test-1",
        JARVIS_STEP: `${module}:${task}`,
        JARVIS_PARAMS: JSON.stringify(params),
        ...secrets,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      const lines = stderr.trim().split("\n");
      done({
        code,
        stdout,
        stderr,
        clipboard: stdout.trim() ? (parse(stdout) as Record<string, unknown>) : clipboard,
        lastLine: lines[lines.length - 1] ?? "",
      });
    });
    child.stdin.end(dumpYaml(clipboard));
  });
}
