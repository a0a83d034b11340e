/**
 * `approve <run>` and `deny <run> <why>` on the CLI. The CLI's identity (cli:<user>) counts only
 * where acl.people lists it with the approver role: being at the machine approves nothing.
 */
import { EXIT } from "./exit-codes.js";
import { runJson } from "./format.js";
import { defineCommand, usageError } from "./command.js";
import type { CliCommand } from "./command.js";
import type { ApprovalShown } from "./backend.js";
import { withBackend } from "./with-backend.js";

const json = { type: "boolean", description: "print the run as JSON" } as const;

function outcomeText(reply: ApprovalShown): string {
  const { run } = reply;
  switch (reply.outcome) {
    case "approved":
      return `${run.host}: run ${run.id} approved (${reply.approvals}/${reply.needed}); queued`;
    case "denied":
      return `${run.host}: run ${run.id} denied; cancelled`;
    case "already-approved":
      return `${run.host}: run ${run.id} approved by you already (${reply.approvals}/${reply.needed})`;
    case "recorded":
      return `${run.host}: approval recorded for run ${run.id} (${reply.approvals}/${reply.needed})`;
  }
}

/** The approval commands, by name. */
export const approvalCommands: Record<string, CliCommand> = {
  approve: defineCommand({
    usage: "approve <run> [--json]",
    summary: "approve a run that awaits approval (as cli:<user>, who needs the approver role in acl.people)",
    options: { json },
    remote: true,
    run: (ctx) => {
      const [target, ...rest] = ctx.args;
      if (!target || rest.length > 0) throw usageError("approve takes one run id (or host)");
      return withBackend(ctx, async (backend) => {
        const reply = await backend.approve(target);
        ctx.out(ctx.flags.json ? JSON.stringify(runJson(reply.run)) : outcomeText(reply));
        return EXIT.ok;
      });
    },
  }),
  deny: defineCommand({
    usage: "deny <run> <why> [--json]",
    summary: "deny a run that awaits approval; it is cancelled and the reason recorded",
    options: { json },
    remote: true,
    run: (ctx) => {
      const [target, ...why] = ctx.args;
      if (!target || why.length === 0) throw usageError("deny takes a run id (or host) and the reason");
      return withBackend(ctx, async (backend) => {
        const reply = await backend.deny(target, why.join(" "));
        ctx.out(ctx.flags.json ? JSON.stringify(runJson(reply.run)) : outcomeText(reply));
        return EXIT.ok;
      });
    },
  }),
};
