/**
 * The rules of approvals, apart from the store's bookkeeping: which rule a new run must satisfy,
 * and whether a decision counts. Who may approve is decided here (the store only counts
 * people): identities are the verified ones, mapped to their acl.people person, so one person
 * on two networks counts once; the requester cannot approve her own run; only holders of the
 * rule's role count.
 */
import { ApprovalRefused, RunError } from "../errors.js";
import { DEFAULT_APPROVAL_EXPIRY_MS, ruleApplies } from "./approval-rule.js";
import type { ApprovalRule } from "./approval-rule.js";
import type { ApprovalRequirement, RunRecord } from "../store/run-store.js";

/** Someone deciding on a run awaiting approval, as the dispatcher vouches for her. */
export interface Voter {
  /** The verified identity ("irc:bob", "xmpp:bob@example.org", "cli:root"). */
  identity: string;
  /** Her acl.people name (else the identity): what is counted. */
  person: string;
  /** Her roles under the ACL. */
  roles: readonly string[];
  /**
   * Whether the ACL lets her `approve` (or `deny`) on the run's host: what counts for a
   * plan-then-apply that no rule names (approval role null). Absent: it does not.
   */
  aclAllows?: boolean;
}

/**
 * The approvals a new run needs: the first of `rules` (the ACL role's, then the pipeline's) whose
 * `when` holds on the run's clipboard; undefined when none applies.
 */
export function requiredApproval(
  rules: readonly (ApprovalRule | undefined)[],
  clipboard: Record<string, unknown>,
  requesterPerson: string,
): (ApprovalRequirement & { expiresInMs: number }) | undefined {
  const rule = rules.find((r): r is ApprovalRule => r !== undefined && ruleApplies(r, clipboard));
  if (!rule) return undefined;
  return {
    role: rule.role,
    count: rule.count,
    requesterPerson,
    notify: rule.notify,
    expiresInMs: rule.expiresMs,
  };
}

/**
 * What the apply run of a plan-then-apply waits for: the rule that applies as for any run (the
 * ACL role's, then the pipeline's), else one approval from anyone the ACL lets approve on the
 * host (role null), other than the requester, within the default expiry. A plan is always
 * looked at by a second person before it changes anything.
 */
export function planApplyApproval(
  rules: readonly (ApprovalRule | undefined)[],
  clipboard: Record<string, unknown>,
  requesterPerson: string,
): ApprovalRequirement & { expiresInMs: number } {
  return (
    requiredApproval(rules, clipboard, requesterPerson) ?? {
      role: null,
      count: 1,
      requesterPerson,
      notify: [],
      expiresInMs: DEFAULT_APPROVAL_EXPIRY_MS,
    }
  );
}

/**
 * Refuse a decision that may not count; returns quietly when it may. A requester may deny (and
 * so withdraw) her own run, never approve it.
 */
export function checkVoter(run: RunRecord, voter: Voter, verdict: "approve" | "deny"): void {
  const { approval } = run;
  if (run.state !== "awaiting_approval" || !approval) {
    throw new RunError(
      "E_RUN_STATE",
      `run ${run.id} of ${run.host} is ${run.state.replace("_", " ")}; there is nothing to ${verdict}`,
    );
  }
  if (verdict === "approve" && voter.person === approval.requesterPerson) {
    throw new ApprovalRefused(
      "E_APPROVAL_SELF",
      `you asked for run ${run.id} yourself; ${approval.count === 1 ? "someone else" : "others"} ${approval.role === null ? "allowed to approve" : `with role ${approval.role}`} must approve it`,
    );
  }
  if (approval.role === null) {
    if (voter.aclAllows) return;
    throw new ApprovalRefused(
      "E_APPROVAL_ROLE",
      `only people whose acl role allows ${verdict} on ${run.host} may ${verdict} run ${run.id}; ${voter.identity} ${voter.roles.length > 0 ? `has ${voter.roles.join(", ")}` : "has no role"}`,
    );
  }
  if (!voter.roles.includes(approval.role)) {
    const have =
      voter.roles.length > 0 ? `you have ${voter.roles.join(", ")}` : `${voter.identity} has no role`;
    throw new ApprovalRefused(
      "E_APPROVAL_ROLE",
      `only people with role ${approval.role} may ${verdict} run ${run.id}; ${have}`,
    );
  }
}
