/**
 * The `demo` step module: harmless tasks that show what the engine does with a step that
 * succeeds (greet), fails and is retried (flaky), runs long and can be stopped (slow), or fails
 * for good (fail). Forked once per step, so it imports only the step helper and node builtins.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStepModule, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";

/** Merge `fields` into the clipboard's `demo:` section, keeping what earlier demo steps wrote. */
function withDemo(clipboard: Clipboard, fields: Record<string, unknown>): Clipboard {
  const prev = clipboard.demo;
  const section =
    prev && typeof prev === "object" && !Array.isArray(prev) ? (prev as Record<string, unknown>) : {};
  return { ...clipboard, demo: { ...section, ...fields } };
}

/** A non-negative number parameter, or the fallback; anything else fails with the parameter named. */
function numberParam(ctx: StepContext, key: string, fallback: number): number {
  const value = ctx.params[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `${ctx.step}: with.${key} must be a number of at least 0, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Says hello to the host the design names. */
export function greet(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const instance = clipboard.instance as Record<string, unknown> | undefined;
  const host = instance && typeof instance.hostname === "string" ? instance.hostname : "world";
  ctx.log(`greeting ${host}`);
  return withDemo(clipboard, { greeting: `hello ${host}`, at: new Date().toISOString() });
}

/**
 * Fails (retryably) on its first `with.failures` attempts, then succeeds. Attempts are counted in a
 * file per run and step, since each attempt is a new process.
 */
export function flaky(clipboard: Clipboard, ctx: StepContext): Clipboard {
  const failures = Math.floor(numberParam(ctx, "failures", 1));
  const dir = typeof ctx.params.state_dir === "string" ? ctx.params.state_dir : tmpdir();
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, "_");
  const file = join(dir, `jarvis-demo-flaky-${safe(ctx.runId || "norun")}-${safe(ctx.step)}.count`);
  let attempt = 1;
  try {
    attempt = Number.parseInt(readFileSync(file, "utf8"), 10) + 1 || 1;
  } catch {
    // No file yet: this is the first attempt.
  }
  if (attempt <= failures) {
    writeFileSync(file, String(attempt));
    throw new StepFailure(
      "E_DEMO_FLAKY",
      `flaky: attempt ${attempt} fails on purpose (${failures} of them do); a retry will get further`,
      {
        retryable: true,
      },
    );
  }
  rmSync(file, { force: true });
  ctx.log(`flaky: attempt ${attempt} succeeds after ${failures} planned failure(s)`);
  return withDemo(clipboard, { flaky: { attempts: attempt } });
}

/** Waits `with.seconds` (default 3), logging once a second; stops early when jarvis says so. */
export async function slow(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const seconds = numberParam(ctx, "seconds", 3);
  const started = Date.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    const wait = Math.min(1000, seconds * 1000 - elapsed);
    await new Promise<void>((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // Removed on every tick, so a long wait does not pile up listeners on the signal.
      const timer = setTimeout(() => {
        ctx.signal.removeEventListener("abort", onAbort);
        resolve();
      }, wait);
      ctx.signal.addEventListener("abort", onAbort, { once: true });
    });
    elapsed = Date.now() - started;
    if (ctx.signal.aborted) {
      throw new StepFailure(
        "E_DEMO_STOPPED",
        `slow: stopped after ${(elapsed / 1000).toFixed(1)} s of ${seconds} s`,
      );
    }
    ctx.log(`slow: ${Math.min(seconds, Math.round(elapsed / 1000))} of ${seconds} s`);
  }
  return withDemo(clipboard, { slow: { seconds } });
}

/** Fails for good with `with.message`. */
export function fail(_clipboard: Clipboard, ctx: StepContext): never {
  const message =
    typeof ctx.params.message === "string" && ctx.params.message !== ""
      ? ctx.params.message
      : "demo:fail fails on purpose (set with.message to change this text)";
  throw new StepFailure("E_DEMO_FAIL", message);
}

runStepModule(import.meta.url, { greet, flaky, slow, fail });
