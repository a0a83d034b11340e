/**
 * `approve <run>` and `deny <run> <why>` on the CLI. The CLI's identity (cli:<user>) counts only
 * where acl.people lists it with the approver role: being at the machine approves nothing.
 */
import { EXIT } from "./exit-codes.js";
import { runJson } from "./format.js";
import { defineCommand, dispatch, usageError, withJarvis } from "./command.js";
import type { CliCommand } from "./command.js";
import type { Reply } from "../commands/reply.js";

const json = { type: "boolean", description: "print the run as JSON" } as const;

function outcomeText(reply: Extract<Reply, { kind: "approval" }>): string {
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
    run: (ctx) => {
      const [target, ...rest] = ctx.args;
      if (!target || rest.length > 0) throw usageError("approve takes one run id (or host)");
      return withJarvis(ctx, async (jarvis) => {
        const reply = await dispatch(jarvis, ctx, { verb: "approve", target }, "approval");
        ctx.out(ctx.flags.json ? JSON.stringify(runJson(reply.run)) : outcomeText(reply));
        return EXIT.ok;
      });
    },
  }),
  deny: defineCommand({
    usage: "deny <run> <why> [--json]",
    summary: "deny a run that awaits approval; it is cancelled and the reason recorded",
    options: { json },
    run: (ctx) => {
      const [target, ...why] = ctx.args;
      if (!target || why.length === 0) throw usageError("deny takes a run id (or host) and the reason");
      return withJarvis(ctx, async (jarvis) => {
        const reply = await dispatch(
          jarvis,
          ctx,
          { verb: "deny", target, reason: why.join(" ") },
          "approval",
        );
        ctx.out(ctx.flags.json ? JSON.stringify(runJson(reply.run)) : outcomeText(reply));
        return EXIT.ok;
      });
    },
  }),
};
