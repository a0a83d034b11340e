/**
 * `approval:` as a pipeline file or an ACL role writes it:
 * `{approvers: role:leads, count: 2, expires: 30m, when: "instance.production", notify: ["irc:#leads"]}`.
 * One zod schema for both places, so the two cannot drift; `when` is compiled with the pipeline
 * condition language at load, so a broken condition is refused before any run asks for approval.
 */
import { z } from "zod";
import { compileCondition } from "./condition.js";
import { parseDuration } from "./duration.js";
import { JarvisError } from "../errors.js";

/** A validated approval requirement. */
export interface ApprovalRule {
  /** The role whose holders' approvals count. */
  role: string;
  /** Different people who must approve (the same person on two networks counts once). */
  count: number;
  /** How long a run waits for its approvals before it is cancelled. */
  expiresMs: number;
  /** Condition on the clipboard (condition.ts); absent: always required. */
  when?: string;
  /** Places to tell besides the run's origin: `irc:#leads`, `xmpp:dm:bob@example.org`. */
  notify: string[];
}

/** Default wait for approvals when `expires` is not written. */
export const DEFAULT_APPROVAL_EXPIRY_MS = 30 * 60_000;

/** Most approvals a rule may ask for; more would only mean the run never starts. */
export const MAX_APPROVAL_COUNT = 10;

const ORIGIN = /^[a-z][a-z0-9_-]*:\S+$/;

/** The `approval:` mapping; `where` refusals read like every other jarvis.yml / pipeline message. */
export const approvalSchema = z
  .strictObject({
    approvers: z.string().regex(/^role:[A-Za-z0-9_.-]+$/, {
      error: "approvers must name a role as role:<name>, e.g. role:leads",
    }),
    count: z
      .number({ error: `count must be a whole number from 1 to ${MAX_APPROVAL_COUNT}` })
      .int({ error: `count must be a whole number from 1 to ${MAX_APPROVAL_COUNT}` })
      .min(1, { error: `count must be a whole number from 1 to ${MAX_APPROVAL_COUNT}` })
      .max(MAX_APPROVAL_COUNT, { error: `count must be a whole number from 1 to ${MAX_APPROVAL_COUNT}` })
      .nullish(),
    expires: z.union([z.string(), z.number()]).nullish(),
    when: z.string({ error: 'when must be a condition string, e.g. "instance.production"' }).nullish(),
    notify: z
      .array(
        z.string().regex(ORIGIN, {
          error: "notify lists places as <network>:<room> or <network>:dm:<person>, e.g. irc:#leads",
        }),
        { error: "notify must be a list of places, e.g. [irc:#leads]" },
      )
      .nullish(),
  })
  .transform((raw, ctx): ApprovalRule => {
    const rule: ApprovalRule = {
      role: raw.approvers.slice("role:".length),
      count: raw.count ?? 1,
      expiresMs: DEFAULT_APPROVAL_EXPIRY_MS,
      notify: raw.notify ?? [],
    };
    try {
      if (raw.expires !== undefined && raw.expires !== null)
        rule.expiresMs = parseDuration(raw.expires, "expires");
      if (raw.when !== undefined && raw.when !== null) {
        compileCondition(raw.when, "when");
        rule.when = raw.when;
      }
    } catch (err) {
      if (!(err instanceof JarvisError)) throw err;
      ctx.addIssue({ code: "custom", message: err.message, path: [err.message.split(":")[0] ?? ""] });
      return z.NEVER;
    }
    return rule;
  });

/** Whether `rule` applies to a run on this clipboard (its `when`, if any, holds). */
export function ruleApplies(rule: ApprovalRule, clipboard: Record<string, unknown>): boolean {
  return rule.when === undefined || compileCondition(rule.when, "approval when")(clipboard);
}
