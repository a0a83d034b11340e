/**
 * jarvis.yml's `acl:` section: roles (commands and host patterns) and people (identities on each
 * network, and their roles). A person's role must be defined under acl.roles, a role's command
 * must be a known verb: both are refused when jarvis.yml is loaded.
 */
import { z } from "zod";
import { KNOWN_VERBS, defaultPolicy } from "../commands/acl.js";
import type { AclPolicy, Role } from "../commands/acl.js";
import { flag, text } from "./settings-fields.js";
import { approvalSchema } from "../pipeline/approval-rule.js";

const IDENTITY = /^[a-z][a-z0-9_-]*:\S+$/;

const roleSchema = z
  .strictObject({
    commands: z
      .array(
        z.string().refine((c) => c === "*" || KNOWN_VERBS.includes(c), {
          error: (iss) =>
            `unknown command '${String(iss.input)}'; use one of ${KNOWN_VERBS.join(", ")} or "*"`,
        }),
      )
      .nullish(),
    hosts: z.array(text, { error: "must be a list of host patterns" }).nullish(),
    approval: approvalSchema.nullish(),
  })
  .nullish();

const ONE_IDENTITY =
  "list at least one identity (irc:alice, xmpp:alice@example.org, matrix:@alice:example.org, console:alice)";
const personSchema = z
  .strictObject({
    roles: z.array(text, { error: "must be a list of role names" }).nullish(),
    identities: z
      .array(
        z.string().regex(IDENTITY, {
          error: (iss) => `'${String(iss.input)}' is not an identity; write <network>:<id>, e.g. irc:alice`,
        }),
        { error: (iss) => (iss.input === undefined || iss.input === null ? ONE_IDENTITY : undefined) },
      )
      .min(1, { error: ONE_IDENTITY }),
  })
  .nullish();

/** `acl:` as written, to the policy the ACL decides with (no section: the embedded default). */
export const aclSchema = z
  .strictObject({
    roles: z.record(z.string(), roleSchema, { error: "must be a mapping of role names" }).nullish(),
    people: z.record(z.string(), personSchema, { error: "must be a mapping of people" }).nullish(),
    rooms_read: flag(true),
  })
  .superRefine((acl, ctx) => {
    for (const [name, role] of Object.entries(acl.roles ?? {})) {
      const approvers = role?.approval?.role;
      if (approvers !== undefined && !Object.hasOwn(acl.roles ?? {}, approvers))
        ctx.addIssue({
          code: "custom",
          path: ["roles", name, "approval", "approvers"],
          message: `no role '${approvers}' under acl.roles to approve with`,
        });
    }
    for (const [person, entry] of Object.entries(acl.people ?? {})) {
      for (const [i, role] of (entry?.roles ?? []).entries())
        if (!Object.hasOwn(acl.roles ?? {}, role))
          ctx.addIssue({
            code: "custom",
            path: ["people", person, "roles", i],
            message: `no role '${role}' under acl.roles`,
          });
    }
  })
  .nullish()
  .transform((acl): AclPolicy => {
    if (!acl) return defaultPolicy();
    const roles = new Map<string, Role>();
    for (const [name, role] of Object.entries(acl.roles ?? {})) {
      const commands = role?.commands ?? [];
      roles.set(name, {
        name,
        commands: commands.includes("*") ? "*" : new Set(commands),
        hosts: role?.hosts ?? ["*"],
        ...(role?.approval ? { approval: role.approval } : {}),
      });
    }
    const grants = new Map<string, string[]>();
    const persons = new Map<string, string>();
    for (const [person, entry] of Object.entries(acl.people ?? {}))
      for (const id of entry?.identities ?? []) {
        grants.set(id, [...(grants.get(id) ?? []), ...(entry?.roles ?? [])]);
        persons.set(id, person);
      }
    return { configured: true, roles, grants, roomsRead: acl.rooms_read, persons };
  });
