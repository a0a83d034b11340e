/**
 * The job commands (ping, execute, service, job) over the job controller: a job is made over the
 * hosts the dispatcher resolved and checked, and the reply waits for it to end, up to
 * REPLY_WAIT_MS (then it says where each node stands; `job <jid>` shows the rest).
 */
import { JobError } from "../errors.js";
import type { JobController } from "../jobs/job-controller.js";
import type { JobOperation } from "../jobs/job.js";
import type { Reply } from "./reply.js";
import type { TypedCommand } from "./typed-command.js";

/** How long a reply waits for its job to end. */
export const REPLY_WAIT_MS = 60_000;

/** The job controller and the defaults of jarvis.yml `agents:`. */
export interface JobDesk {
  controller: JobController;
  ttlMs: number;
  timeoutMs: number;
}

export type JobCommand = Extract<TypedCommand, { verb: "ping" | "execute" | "service" | "job" }>;

export function isJobCommand(command: TypedCommand): command is JobCommand {
  return (
    command.verb === "ping" ||
    command.verb === "execute" ||
    command.verb === "service" ||
    command.verb === "job"
  );
}

/** The operation a new-job command asks for. */
export function operationOf(command: Exclude<JobCommand, { verb: "job" }>): JobOperation {
  switch (command.verb) {
    case "ping":
      return { kind: "ping" };
    case "execute":
      return { kind: "execute", command: command.command };
    case "service":
      return { kind: "service", name: command.name, state: command.state };
  }
}

/** The ACL verb of an operation: the chat verb that asks for it. */
export function aclVerbOf(operation: JobOperation): "ping" | "execute" | "service" | "job" {
  return operation.kind === "ping" || operation.kind === "execute" || operation.kind === "service"
    ? operation.kind
    : "job";
}

export async function executeJobCommand(
  command: JobCommand,
  hosts: string[] | undefined,
  desk: JobDesk | undefined,
  requester: string,
): Promise<Reply> {
  if (!desk)
    throw new JobError(
      "E_JOB_NO_CONTROLLER",
      "jobs run in the service: configure agents: in jarvis.yml and start jarvis (docs/agents.md)",
    );
  const { controller } = desk;
  if (command.verb === "job") {
    if (command.action === "show") return { kind: "job", ...(await controller.get(command.jobId)) };
    if (command.action === "cancel") {
      await controller.cancel(command.jobId);
      return { kind: "job", ...(await controller.get(command.jobId)) };
    }
    if (command.action === "rerun")
      return waitReply(controller, (await controller.rerun(command.jobId, command.only, requester)).id);
    throw new Error("job: unknown action");
  }
  if (!hosts) throw new Error(`${command.verb}: its hosts were not resolved before execution`);
  const job = await controller.submit({
    operation: operationOf(command),
    hosts,
    targets: command.targets,
    options: {
      ttlMs: desk.ttlMs,
      timeoutMs: desk.timeoutMs,
      ...(command.batch ? { batch: command.batch } : {}),
    },
    requester,
  });
  return waitReply(controller, job.id);
}

async function waitReply(controller: JobController, jobId: string): Promise<Reply> {
  const signal = AbortSignal.timeout(REPLY_WAIT_MS);
  await controller.waitDone(jobId, signal).catch((err: unknown) => {
    // Past the wait the reply shows the job as it stands; any other error is the command's.
    if (!signal.aborted) throw err;
  });
  return { kind: "job", ...(await controller.get(jobId)) };
}
