/**
 * Who may do what. Roles name the commands and host patterns they allow; people list their
 * identities on every network and their roles. Mutating commands are denied unless a role allows
 * them; read-only commands are open to anyone listed and to members of the rooms jarvis is
 * configured to sit in. With no `acl:` section at all, the console user (the machine's operator)
 * may do everything and network users only read, in configured rooms.
 */
import { COMMANDS, isMutating } from "./command-parser.js";
import type { Verb } from "./command-parser.js";
import type { ApprovalRule } from "../pipeline/approval-rule.js";

/** A role: the commands and host patterns it allows. */
export interface Role {
  name: string;
  /** Command verbs, or "*" for all. */
  commands: ReadonlySet<string> | "*";
  /** Host glob patterns (`*`, `?`), case-insensitive. */
  hosts: readonly string[];
  /** What it allows waits for these approvals first (a run it starts awaits approval). */
  approval?: ApprovalRule;
}

/** The validated `acl:` section. */
export interface AclPolicy {
  /** False when jarvis.yml has no `acl:` section (the embedded defaults apply). */
  configured: boolean;
  roles: ReadonlyMap<string, Role>;
  /** Identity -> role names. */
  grants: ReadonlyMap<string, readonly string[]>;
  /** Whether members of configured rooms may use read-only commands (default true). */
  roomsRead: boolean;
  /**
   * Identity -> the person (acl.people key) it belongs to: one person's identities on several
   * networks count once as an approver, and all are the requester of a run one of them started.
   */
  persons: ReadonlyMap<string, string>;
}

/** What the ACL is asked. */
export interface AccessRequest {
  /** The verified identity; undefined when the network vouches for none. */
  identity: string | undefined;
  verb: Verb;
  /** The host the command acts on, when known before it runs (undefined: unknown, e.g. a file source). */
  host: string | undefined;
  /** Whether the command came from a room jarvis is configured to sit in. */
  configuredRoom: boolean;
}

/** The ACL's answer. */
export type AccessDecision =
  | { allowed: true; roles: string[]; reason: string; approval?: ApprovalRule }
  | { allowed: false; roles: string[]; reason: string };

/** The policy with no `acl:` section. */
export function defaultPolicy(): AclPolicy {
  return { configured: false, roles: new Map(), grants: new Map(), roomsRead: true, persons: new Map() };
}

/** Roles granted to an identity. */
export function rolesOf(policy: AclPolicy, identity: string | undefined): string[] {
  if (!identity) return [];
  if (!policy.configured && identity.startsWith("console:")) return ["operator (console, no acl configured)"];
  return [...(policy.grants.get(identity) ?? [])];
}

/** Decide whether `req` may go ahead; the refusal says which role would be needed. */
export function decide(policy: AclPolicy, req: AccessRequest): AccessDecision {
  const roles = rolesOf(policy, req.identity);
  if (!req.identity)
    return {
      allowed: false,
      roles,
      reason: "your identity is not visible to jarvis here (anonymous room?); write to jarvis directly",
    };
  if (!policy.configured && req.identity.startsWith("console:")) {
    return { allowed: true, roles, reason: "console operator (no acl configured)" };
  }
  // A role that allows it outright wins over one that allows it only with approval.
  let withApproval: Role | undefined;
  for (const name of roles) {
    const role = policy.roles.get(name);
    if (!role || !roleAllows(role, req.verb, req.host)) continue;
    if (!role.approval) return { allowed: true, roles, reason: `role ${name}` };
    withApproval ??= role;
  }
  if (withApproval?.approval)
    return {
      allowed: true,
      roles,
      reason: `role ${withApproval.name}, with approval`,
      approval: withApproval.approval,
    };
  if (!isMutating(req.verb)) {
    if (roles.length > 0) return { allowed: true, roles, reason: "read-only command, listed identity" };
    if (req.configuredRoom && policy.roomsRead)
      return { allowed: true, roles, reason: "read-only command in a configured room" };
    return {
      allowed: false,
      roles,
      reason: `read-only commands are open in jarvis's rooms; ${req.identity} is not listed in acl.people for direct use`,
    };
  }
  const needed = [...policy.roles.values()]
    .filter((r) => roleAllows(r, req.verb, req.host))
    .map((r) => r.name);
  const what = `${req.verb}${req.host ? ` on ${req.host}` : ""}`;
  const need =
    needed.length > 0
      ? `it needs role ${needed.join(" or ")}`
      : `no role allows it${req.host === undefined ? " for a source whose host is not known in advance (give cn=<host>, or a role with hosts ['*'])" : ""}`;
  const have = roles.length > 0 ? `you have ${roles.join(", ")}` : `${req.identity} has no role`;
  return { allowed: false, roles, reason: `${what} is not allowed: ${need}; ${have}` };
}

/** Whether `role` allows `verb` on `host` (an unknown host needs a role open to every host). */
export function roleAllows(role: Role, verb: Verb, host: string | undefined): boolean {
  if (role.commands !== "*" && !role.commands.has(verb)) return false;
  if (!isMutating(verb) || verb === "help" || verb === "whoami" || verb === "pipelines") return true;
  if (host === undefined) return role.hosts.includes("*");
  return role.hosts.some((pattern) => globMatch(pattern, host));
}

/** The person an identity belongs to: its acl.people name, else the identity alone. */
export function personOf(policy: AclPolicy, identity: string): string {
  return policy.persons.get(identity) ?? identity;
}

/** Case-insensitive glob match with `*` and `?`. */
export function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "is",
  );
  return re.test(text);
}

/** Every verb a role may name in jarvis.yml. */
export const KNOWN_VERBS: readonly string[] = Object.keys(COMMANDS);
