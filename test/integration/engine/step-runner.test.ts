import { afterEach, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runStepAttempt } from "../../../src/pipeline/step-runner.js";
import type { StepInvocation } from "../../../src/pipeline/step-runner.js";
import { eventually } from "../../helpers/net.js";
import { alive } from "../../helpers/daemon.js";

const fixtures = resolve(import.meta.dirname, "../../fixtures/steps");
const builtIn = (file: string): string => resolve(import.meta.dirname, "../../../dist/src", file);

/** Gone, or a zombie nobody has reaped yet (it runs nothing any more). */
function gone(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    return / Z /.test(readFileSync(stat, "utf8").replace(/^.*\)/, ""));
  } catch {
    return true;
  }
}

/** Pids a test saw escape, killed at the end whatever the test found. */
const escaped: number[] = [];
afterEach(() => {
  for (const pid of escaped.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone, as it should be.
    }
  }
});

function invocation(name: string, over: Partial<StepInvocation> = {}): StepInvocation & { lines: string[] } {
  const lines: string[] = [];
  return {
    step: `${name}:task`,
    command: resolve(fixtures, name),
    args: ["task"],
    env: { PATH: "/usr/bin:/bin", JARVIS_RUN_ID: "r1" },
    cwd: process.cwd(),
    input: "instance:\n  hostname: loki\n",
    timeoutMs: 20_000,
    maxOutputBytes: 1024 * 1024,
    onLine: (line) => lines.push(line),
    lines,
    ...over,
  };
}

describe("step runner", () => {
  it("passes the clipboard through and streams stderr", async () => {
    const inv = invocation("ok");
    const result = await runStepAttempt(inv);
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") return;
    expect(result.clipboard).toEqual({
      instance: { hostname: "loki" },
      fixture_ok: { task: "task", run: "r1" },
    });
    expect(inv.lines).toContain("ok: adding fixture key");
  });

  it("leaves the clipboard unchanged when the step prints nothing", async () => {
    const result = await runStepAttempt(invocation("silent"));
    expect(result).toMatchObject({ kind: "ok", output: undefined });
  });

  it("reports the last stderr line of a failed step, not retryable", async () => {
    const result = await runStepAttempt(invocation("fail"));
    expect(result).toMatchObject({
      kind: "failed",
      retryable: false,
      exitCode: 3,
      error: { code: "E_STEP_FAILED", message: "the API refused the token: check modules.fail.env" },
    });
  });

  it("treats exit 75 as retryable", async () => {
    const result = await runStepAttempt(invocation("tempfail"));
    expect(result).toMatchObject({
      kind: "failed",
      retryable: true,
      exitCode: 75,
      error: { code: "E_STEP_RETRYABLE" },
    });
  });

  it("kills the whole process group on timeout, children included", async () => {
    const inv = invocation("hang", { timeoutMs: 1500, killGraceMs: 300 });
    const result = await runStepAttempt(inv);
    expect(result).toMatchObject({ kind: "failed", retryable: true, error: { code: "E_STEP_TIMEOUT" } });
    const childLine = inv.lines.find((l) => l.startsWith("child "));
    expect(childLine).toBeDefined();
    const childPid = Number(childLine!.split(" ")[1]);
    await eventually(() => (alive(childPid) ? undefined : true), 10_000, `child ${childPid} to die`);
  });

  it("cancels on abort and kills the group", async () => {
    const controller = new AbortController();
    const inv = invocation("hang", { signal: controller.signal, killGraceMs: 300 });
    const pending = runStepAttempt(inv);
    await eventually(
      () => (inv.lines.some((l) => l.startsWith("child ")) ? true : undefined),
      10_000,
      "the step to start",
    );
    controller.abort();
    const result = await pending;
    expect(result.kind).toBe("cancelled");
    const childPid = Number(inv.lines.find((l) => l.startsWith("child "))!.split(" ")[1]);
    await eventually(() => (alive(childPid) ? undefined : true), 10_000, `child ${childPid} to die`);
  });

  it("fails a step whose stdout is over the limit, and stops it", async () => {
    const result = await runStepAttempt(invocation("huge", { maxOutputBytes: 64 * 1024, killGraceMs: 300 }));
    expect(result).toMatchObject({
      kind: "failed",
      retryable: false,
      error: { code: "E_STEP_OUTPUT_TOO_LARGE" },
    });
  });

  it("fails a step that prints invalid YAML, naming the line", async () => {
    const result = await runStepAttempt(invocation("bad-yaml"));
    expect(result.kind).toBe("failed");
    if (result.kind !== "failed") return;
    expect(result.error.code).toBe("E_STEP_BAD_OUTPUT");
    expect(result.error.message).toMatch(/output of bad-yaml:task:\d+/);
  });

  it("gives the step exactly the environment it was handed", async () => {
    const result = await runStepAttempt(
      invocation("env", { env: { PATH: "/usr/bin:/bin", JARVIS_STEP: "env:task" } }),
    );
    expect(result.kind).toBe("ok");
    if (result.kind !== "ok") return;
    const env = result.clipboard!.env as Record<string, string>;
    expect(env.JARVIS_STEP).toBe("env:task");
    expect(env.HOME).toBeUndefined();
    // The runner adds only the protocol's per-attempt variables.
    expect(env.JARVIS_RESULT_FD).toBe("3");
    expect(env.JARVIS_ATTEMPT_ID).toMatch(/^[0-9a-f-]{36}$/);
    const protocol = ["PATH", "JARVIS_STEP", "JARVIS_RESULT_FD", "JARVIS_ATTEMPT_ID"];
    expect(Object.keys(env).filter((k) => ![...protocol, "PWD", "SHLVL", "_"].includes(k))).toEqual([]);
  });

  it("takes the code and message of a shell step's final record on fd 3 (README's example)", async () => {
    const readme = readFileSync(resolve(import.meta.dirname, "../../../README.md"), "utf8");
    expect(readme).toContain("```sh\n" + readFileSync(resolve(fixtures, "quota"), "utf8") + "```");
    const inv = invocation("quota", { input: "instance:\n  hostname: loki\n  size: 131072\n" });
    const result = await runStepAttempt(inv);
    expect(result).toMatchObject({
      kind: "failed",
      retryable: false,
      exitCode: 1,
      error: {
        code: "E_QUOTA_SIZE",
        message: "instance.size is 131072 MB, over the quota of 65536: pick a smaller size",
        retryable: false,
      },
    });
    expect(await runStepAttempt(invocation("quota"))).toMatchObject({ kind: "ok", output: undefined });
  });

  it("takes the code a built-in step failed with (define-step writes the record)", async () => {
    const result = await runStepAttempt(
      invocation("monitoring", {
        command: process.execPath,
        args: [builtIn("workers/monitoring.js"), "suppress"],
        env: { PATH: "/usr/bin:/bin", JARVIS_PARAMS: JSON.stringify({ url: "http://127.0.0.1:9" }) },
        input: "instance:\n  fqdn: loki.example.test\n",
      }),
    );
    expect(result).toMatchObject({
      kind: "failed",
      retryable: false,
      error: {
        code: "E_CLIPBOARD_FIELD",
        message: "clipboard field instance.hostname is missing; the design or an earlier step must set it",
      },
    });
  });

  it("gives an unexpected throw in a built-in step the code E_STEP_EXCEPTION", async () => {
    const demo = builtIn("workers/demo.js");
    const params = JSON.stringify({ failures: 1, state_dir: process.cwd() + "/nonexistent-dir" });
    const flaky = await runStepAttempt(
      invocation("demo", {
        command: process.execPath,
        args: [demo, "flaky"],
        env: { PATH: "/usr/bin:/bin", JARVIS_PARAMS: params, JARVIS_RUN_ID: `r${Date.now()}` },
      }),
    );
    // writeFileSync into a missing directory throws a plain ENOENT error, not a StepFailure.
    expect(flaky).toMatchObject({ kind: "failed", retryable: false, error: { code: "E_STEP_EXCEPTION" } });
    expect(flaky.kind === "failed" && flaky.error.message).toMatch(/ENOENT/);
  });

  it("ignores a final record with a bad code, not JSON, or too long, and says why", async () => {
    for (const [task, why] of [
      ["bad-code", /code must be E_/],
      ["not-json", /not one line of JSON/],
      ["flood", /more than 16384 bytes/],
    ] as const) {
      const inv = invocation("record", { args: [task] });
      const result = await runStepAttempt(inv);
      expect(result, task).toMatchObject({
        kind: "failed",
        error: { code: "E_STEP_FAILED", message: "plain stderr message" },
      });
      expect(
        inv.lines.find((l) => l.startsWith("jarvis: ignored")),
        task,
      ).toMatch(why);
    }
  });

  it("lets the exit code decide retrying when the record contradicts it", async () => {
    const inv = invocation("record", { args: ["contradicts"] });
    const result = await runStepAttempt(inv);
    expect(result).toMatchObject({
      kind: "failed",
      retryable: false,
      error: { code: "E_SAYS_RETRY", message: "says retryable, exits 1", retryable: false },
    });
    expect(inv.lines.some((l) => l.includes("the exit code wins"))).toBe(true);
  });

  for (const how of ["timeout", "cancel"] as const) {
    it(`stops processes that left the process group (setsid) on ${how}`, async () => {
      const controller = new AbortController();
      const inv = invocation("escape", {
        timeoutMs: how === "timeout" ? 1500 : 120_000,
        killGraceMs: 300,
        signal: controller.signal,
      });
      const pending = runStepAttempt(inv);
      const pidOf = (): number | undefined => {
        const line = inv.lines.find((l) => l.startsWith("escaped "));
        return line === undefined ? undefined : Number(line.split(" ")[1]);
      };
      const pid = await eventually(pidOf, 10_000, "the escaped process to start");
      escaped.push(pid);
      if (how === "cancel") controller.abort();
      const result = await pending;
      expect(result.kind).toBe(how === "timeout" ? "failed" : "cancelled");
      await eventually(() => (gone(pid) ? true : undefined), 10_000, `escaped process ${pid} to be stopped`);
    });
  }

  it("starts a step before its input is known and gives it the input once it is (a worker's claim)", async () => {
    let give = (_: string | undefined): void => undefined;
    let spawned = false;
    const inv = invocation("ok", {
      input: new Promise((resolve) => (give = resolve)),
      onSpawn: () => {
        spawned = true;
        give("instance:\n  hostname: loki\n");
      },
    });
    const result = await runStepAttempt(inv);
    expect(spawned).toBe(true);
    expect(result).toMatchObject({ kind: "ok", clipboard: { instance: { hostname: "loki" } } });
  });

  it("stops a started step whose input is refused before it reads a byte of it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jarvis-gate-"));
    try {
      let refuse = (_: string | undefined): void => undefined;
      const inv = invocation("gate", {
        command: "/bin/sh",
        // Does its work only after its input: a refused one never gets there.
        args: ["-c", `cat >/dev/null; touch ${join(dir, "ran")}`],
        input: new Promise((resolve) => (refuse = resolve)),
        onSpawn: () => refuse(undefined),
      });
      const result = await runStepAttempt(inv);
      expect(result.kind).toBe("cancelled");
      expect(existsSync(join(dir, "ran"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports a missing executable clearly", async () => {
    const result = await runStepAttempt(invocation("ok", { command: "/nonexistent/step" }));
    expect(result).toMatchObject({ kind: "failed", error: { code: "E_STEP_SPAWN" } });
  });
});
