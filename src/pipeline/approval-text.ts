/** How approvals read to people, the same in chat and on the CLI. */
import type { ApprovalRecord, StoredApproval } from "../store/run-store.js";

/**
 * Who may approve, as people read it: the rule's role, or (a plan-then-apply no rule names) anyone
 * the ACL lets approve on the run's host.
 */
export function approversName(role: string | null): string {
  return role ?? "anyone allowed to approve";
}

/** "approved by irc:bob, xmpp:carol@example.org; denied by irc:dave: too risky". */
export function decisionsText(approvals: readonly ApprovalRecord[]): string {
  const approved = approvals.filter((a) => a.verdict === "approve").map((a) => a.identity);
  const denied = approvals.filter((a) => a.verdict === "deny");
  return [
    ...(approved.length > 0 ? [`approved by ${approved.join(", ")}`] : []),
    ...denied.map((d) => `denied by ${d.identity}${d.reason ? `: ${d.reason}` : ""}`),
  ].join("; ");
}

/** "awaiting 1/2 approvals from leads (approved by irc:bob), expires in 29m". */
export function awaitingText(
  run: { approval: Pick<StoredApproval, "role" | "count" | "expiresAt"> | null },
  approvals: readonly ApprovalRecord[],
  now: number,
): string {
  const { approval } = run;
  if (!approval) return "awaiting approval";
  const got = approvals.filter((a) => a.verdict === "approve").length;
  const decided = decisionsText(approvals);
  const left = Math.max(0, Math.round((approval.expiresAt - now) / 60_000));
  return `awaiting ${got}/${approval.count} approvals from ${approversName(approval.role)}${decided ? ` (${decided})` : ""}, expires in ${left}m`;
}

/** The commands that decide on a run, as chat shows them. */
export function decideCommands(runId: string, botName: string): string {
  return `${botName} approve ${runId} | ${botName} deny ${runId}`;
}
