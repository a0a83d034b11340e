/**
 * The job commands (ping, execute, service, job, jobs) over the job controller: a job is made over
 * the hosts the dispatcher resolved and checked, and a chat reply waits for it to end, up to
 * REPLY_WAIT_MS (then it says where each node stands; `job <jid>` shows the rest). The API's
 * commands are answered at once; it waits, or follows the job's events, itself.
 */
import { JobError } from "../errors.js";
import type { JobController } from "../jobs/job-controller.js";
import type { JobOperation } from "../jobs/job.js";
import type { JobStore } from "../jobs/job-store.js";
import { normalSelectorText } from "./job-targets.js";
import type { Reply } from "./reply.js";
import type { TypedCommand } from "./typed-command.js";

/** How long a reply waits for its job to end. */
export const REPLY_WAIT_MS = 60_000;

/** The job controller and the defaults of jarvis.yml `agents:`. */
export interface JobDesk {
  controller: JobController;
  /** What the controller does not answer: pages of jobs, a job's events, deleting a finished one. */
  store: Pick<JobStore, "listJobs" | "jobEvents" | "deleteJob">;
  ttlMs: number;
  timeoutMs: number;
}

export type JobCommand = Extract<TypedCommand, { verb: "ping" | "execute" | "service" | "job" | "jobs" }>;

export function isJobCommand(command: TypedCommand): command is JobCommand {
  return (
    command.verb === "ping" ||
    command.verb === "execute" ||
    command.verb === "service" ||
    command.verb === "job" ||
    command.verb === "jobs"
  );
}

/** A command that makes a new job over targets (resolved to hosts before the ACL). */
export type NewJobCommand = Extract<JobCommand, { targets: unknown }>;

export function isNewJobCommand(command: TypedCommand): command is NewJobCommand {
  return isJobCommand(command) && "targets" in command;
}

/** The operation a new-job command asks for. */
export function operationOf(command: NewJobCommand): JobOperation {
  switch (command.verb) {
    case "ping":
      return { kind: "ping" };
    case "execute":
      return { kind: "execute", command: command.command };
    case "service":
      return { kind: "service", name: command.name, state: command.state };
    case "job":
      return command.operation;
  }
}

/**
 * The ACL verb of an operation: the chat verb that asks for it, or the one that allows as much.
 * `facts` only makes the node report, as `ping` does; a script runs code as `execute` does.
 */
export function aclVerbOf(operation: JobOperation): "ping" | "execute" | "service" {
  switch (operation.kind) {
    case "ping":
    case "facts":
      return "ping";
    case "execute":
    case "script":
      return "execute";
    case "service":
      return "service";
  }
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
  if (command.verb === "jobs") {
    // One more than the page tells whether a next page exists.
    const jobs = await desk.store.listJobs({
      limit: command.limit + 1,
      ...(command.before === undefined ? {} : { before: command.before }),
      ...(command.host === undefined ? {} : { hosts: [command.host] }),
      // The hosts the dispatcher found the selector to match (and checked the ACL on).
      ...(command.where === undefined ? {} : { hosts: hosts ?? [] }),
      ...(command.selector === undefined ? {} : { selector: normalSelectorText(command.selector) }),
    });
    const page = jobs.slice(0, command.limit);
    const last = page[page.length - 1];
    return {
      kind: "jobs",
      jobs: page,
      next: jobs.length > command.limit && last ? { createdAt: last.createdAt, id: last.id } : null,
    };
  }
  if (command.verb === "job" && !("targets" in command)) {
    switch (command.action) {
      case "show":
        return { kind: "job", ...(await controller.get(command.jobId)) };
      case "cancel":
        await controller.cancel(command.jobId);
        return { kind: "job", ...(await controller.get(command.jobId)) };
      case "rerun": {
        const job = await controller.rerun(command.jobId, command.only, requester);
        return command.atOnce
          ? { kind: "job", ...(await controller.get(job.id)) }
          : waitReply(controller, job.id);
      }
      case "delete":
        return deleteJob(desk, command.jobId);
    }
  }
  if (!hosts) throw new Error(`${command.verb}: its hosts were not resolved before execution`);
  const options = "options" in command ? command.options : command.batch ? { batch: command.batch } : {};
  const job = await controller.submit({
    operation: operationOf(command),
    hosts,
    targets: command.targets,
    options: { ttlMs: desk.ttlMs, timeoutMs: desk.timeoutMs, ...options },
    requester,
  });
  return command.verb === "job"
    ? { kind: "job", ...(await controller.get(job.id)) }
    : waitReply(controller, job.id);
}

async function deleteJob(desk: JobDesk, jobId: string): Promise<Reply> {
  const { job } = await desk.controller.get(jobId);
  if (!(await desk.store.deleteJob(jobId)))
    throw new JobError(
      "E_JOB_STATE",
      `job ${jobId} is ${job.state}; cancel it first (job cancel ${jobId}), then delete it once it has ended`,
    );
  return { kind: "job-deleted", jobId };
}

async function waitReply(controller: JobController, jobId: string): Promise<Reply> {
  const signal = AbortSignal.timeout(REPLY_WAIT_MS);
  await controller.waitDone(jobId, signal).catch((err: unknown) => {
    // Past the wait the reply shows the job as it stands; any other error is the command's.
    if (!signal.aborted) throw err;
  });
  return { kind: "job", ...(await controller.get(jobId)) };
}
