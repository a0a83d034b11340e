/**
 * What each operation does on the node, ending in a result the agent sends back. Commands and
 * service names come from a signed, allowlisted request; a service name is still passed as one
 * argv word, never through a shell.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentConfig } from "./agent-config.js";
import type { AgentReply, Operation } from "./protocol.js";
import { runProcess } from "./process-run.js";
import type { ProcessOutcome } from "./process-run.js";

export type OperationResult = Omit<Extract<AgentReply, { kind: "result" }>, "kind" | "requestId" | "at">;

export interface OperationContext {
  config: AgentConfig;
  timeoutMs: number;
  signal: AbortSignal;
  /** Collect and publish facts now (the `facts` operation). */
  refreshFacts: () => Promise<string>;
}

export async function runOperation(
  op: Exclude<Operation, { kind: "cancel" }>,
  ctx: OperationContext,
): Promise<OperationResult> {
  const proc = (argv: readonly string[]): Promise<ProcessOutcome> =>
    runProcess(argv, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  switch (op.kind) {
    case "ping":
      return { state: "ok", exitCode: null, stdoutTail: "pong", stderrTail: "", message: "pong" };
    case "facts": {
      const hash = await ctx.refreshFacts();
      return { state: "ok", exitCode: null, stdoutTail: "", stderrTail: "", message: `facts ${hash}` };
    }
    case "execute":
      return fromProcess(await proc(["/bin/sh", "-c", op.command]), "changed");
    case "script": {
      const dir = await mkdtemp(join(tmpdir(), "jarvis-script-"));
      try {
        const file = join(dir, "script");
        await writeFile(file, op.body, { mode: 0o700 });
        return fromProcess(await proc(op.body.startsWith("#!") ? [file] : ["/bin/sh", file]), "changed");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    case "service":
      return service(op.name, op.state, ctx.config.service, proc);
  }
}

/** started/stopped act only when the service is not already so (then `ok`); restarted always acts. */
async function service(
  name: string,
  state: "started" | "stopped" | "restarted",
  commands: AgentConfig["service"],
  proc: (argv: readonly string[]) => Promise<ProcessOutcome>,
): Promise<OperationResult> {
  const argv = (template: string[]): string[] => template.map((w) => w.replaceAll("{name}", name));
  if (state !== "restarted") {
    const status = await proc(argv(commands.status));
    const running = status.exitCode === 0;
    if (running === (state === "started")) {
      return {
        state: "ok",
        exitCode: 0,
        stdoutTail: status.stdoutTail,
        stderrTail: status.stderrTail,
        message: `${name} already ${state}`,
      };
    }
  }
  const action =
    state === "started" ? commands.start : state === "stopped" ? commands.stop : commands.restart;
  return fromProcess(await proc(argv(action)), "changed");
}

/** Exit 0 is `success` (ok or changed, by operation); anything else failed, with why. */
function fromProcess(p: ProcessOutcome, success: "ok" | "changed"): OperationResult {
  const base = { exitCode: p.exitCode, stdoutTail: p.stdoutTail, stderrTail: p.stderrTail };
  if (p.spawnError) return { ...base, state: "failed", message: `could not start: ${p.spawnError}` };
  if (p.stopped === "timeout")
    return { ...base, state: "failed", message: "timed out; its process group was killed" };
  if (p.stopped === "cancelled")
    return { ...base, state: "failed", message: "cancelled; its process group was killed" };
  if (p.exitCode === 0) return { ...base, state: success, message: "exit 0" };
  const last = p.stderrTail.trimEnd().split("\n").pop() ?? "";
  return {
    ...base,
    state: "failed",
    message: p.signal
      ? `killed by ${p.signal}`
      : `exit ${p.exitCode}${last ? `: ${last.slice(0, 200)}` : ""}`,
  };
}
