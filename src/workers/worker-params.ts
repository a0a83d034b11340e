/**
 * The `with` parameters of each built-in worker module, one schema per module (every task of a
 * module shares jarvis.yml's `modules.<module>.with`). jarvis checks a pipeline's `with` and
 * jarvis.yml's defaults against these when it loads them; the step processes never import this
 * file (nor zod), so their start-up stays lean. Every parameter is optional here: a step that
 * needs one says so when it runs, since the pipeline and jarvis.yml each give only part of them.
 */
import { z } from "zod";
import { parseDuration } from "../pipeline/duration.js";
import { NODE_DIRECTORY_KINDS } from "../inventory/node-directory-kinds.js";
import { parseSelector } from "../inventory/selector-parser.js";
import { errorMessage } from "../errors.js";
import { agentInstallFields } from "./agent-install-settings.js";

/** A parameter that must never be given: a secret would be stored with the run. */
function secretRefused(module: string, envName: string): z.ZodOptional<z.ZodNever> {
  return z
    .never({
      error: `must not be a parameter (parameters are stored with the run); set modules.${module}.env.${envName} in jarvis.yml`,
    })
    .optional();
}

const positive = z
  .number({ error: "must be a positive number" })
  .positive({ error: "must be a positive number" });
const nonNegative = z
  .number({ error: "must be a number of at least 0" })
  .min(0, { error: "must be a number of at least 0" });
const tcpPort = z.int({ error: "must be a TCP port number (1-65535)" }).min(1).max(65535, {
  error: "must be a TCP port number (1-65535)",
});
const command = z.string({ error: "must be a shell command (a non-empty string)" }).trim().min(1, {
  error: "must be a shell command (a non-empty string)",
});
const duration = z
  .union([z.number(), z.string()], { error: 'must be a duration such as "30m" or "2h"' })
  .check((ctx) => {
    try {
      parseDuration(ctx.value, "lease");
    } catch {
      ctx.issues.push({
        code: "custom",
        input: ctx.value,
        message: 'is not a duration; write a number of seconds or a string like "30m", "2h" or "1h30m"',
      });
    }
  });

/** How every SSH-using task reaches the host (ssh-client.ts sshTarget). */
const sshTarget = {
  deploy_key: z.string({ error: "must be the path of the deploy key" }),
  user: z.string({ error: "must be a user name" }),
  connect_timeout: positive,
  port: tcpPort,
};

export const demoParams = z
  .strictObject({
    failures: nonNegative,
    state_dir: z.string(),
    seconds: nonNegative,
    message: z.string(),
  })
  .partial();

export const sshParams = z
  .strictObject({
    ...sshTarget,
    attempts: positive,
    timeout: positive,
    path: z.string({ error: "must be a path under the host's $HOME" }),
    commands: z.union([command, z.array(command)], {
      error: "must be a command or a list of commands (strings)",
    }),
    from: z.string({ error: "must be a clipboard path such as commands.mounts" }).min(1, {
      error: "must be a clipboard path such as commands.mounts",
    }),
  })
  .partial();

export const dnsParams = z
  .strictObject({
    server: z.string({ error: "must be the DNS server's address" }),
    zone: z.string({ error: "must be a zone name such as example.test" }),
    key_name: z.string({ error: "must be the TSIG key's name" }),
    name: z.string({ error: "must be the host's DNS name" }),
    port: tcpPort,
    algorithm: z.enum(["hmac-sha256", "hmac-sha512", "hmac-sha1"], {
      error: "must be hmac-sha256, hmac-sha512 or hmac-sha1",
    }),
    ttl: positive,
    transport: z.enum(["udp", "tcp"], { error: "must be udp or tcp" }),
    timeout: positive,
    secret: secretRefused("dns", "DNS_TSIG_SECRET"),
    key_secret: secretRefused("dns", "DNS_TSIG_SECRET"),
  })
  .partial();

const attributeName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9-]*$/, { error: "must be an LDAP attribute name" });

export const ldapParams = z
  .strictObject({
    url: z.string().regex(/^ldaps?:\/\//, { error: "must start with ldap:// or ldaps://" }),
    base_dn: z.string({ error: "must be a DN such as dc=example,dc=test" }),
    bind_dn: z.string({ error: "must be a DN such as cn=jarvis,dc=example,dc=test" }),
    hosts_ou: z.string({ error: "must be an RDN such as ou=Hosts" }),
    timeout: positive,
    object_classes: z.array(z.string(), { error: "must be a list of object class names" }),
    attributes: z
      .strictObject({ address: attributeName, fingerprints: attributeName, state: attributeName })
      .partial(),
    password: secretRefused("ldap", "LDAP_BIND_PASSWORD"),
    bind_password: secretRefused("ldap", "LDAP_BIND_PASSWORD"),
  })
  .partial();

export const monitoringParams = z
  .strictObject({
    url: z.string().regex(/^https?:\/\/[^/]+/, {
      error: "must be Alertmanager's http(s) URL, e.g. http://alertmanager:9093",
    }),
    lease: duration,
    timeout: positive,
    matchers: z
      .array(
        z.strictObject({
          name: z.string({ error: "must be a label name" }),
          value: z.string({ error: "must be a string ({hostname} and {fqdn} are filled in)" }),
          regex: z.boolean().optional(),
          equal: z.boolean().optional(),
        }),
        { error: "must be a non-empty list of {name, value, regex, equal}" },
      )
      .min(1, { error: "must be a non-empty list of {name, value, regex, equal}" }),
  })
  .partial();

export const agentParams = z
  .strictObject({ ...sshTarget, command, check: command, ...agentInstallFields })
  .partial();

export const productionParams = z
  .strictObject({
    fields: z.array(z.string(), { error: "must be a list of clipboard paths such as instance.production" }),
    force: z.boolean({ error: "must be true or false" }),
    // production:check lets a production host with listed services through (redeploy.yml only).
    migrate_services: z.boolean({ error: "must be true or false" }),
    // Where production:migrate moves service names: the same keys as modules.dns.with.
    dns: dnsParams.omit({ name: true }),
    check_timeout: positive,
  })
  .partial();

/** A selector, checked when the pipeline is loaded so its column shows up with the file's line. */
const selector = z.string({ error: "must be a selector such as group=app" }).check((ctx) => {
  try {
    parseSelector(ctx.value);
  } catch (error) {
    ctx.issues.push({ code: "custom", input: ctx.value, message: errorMessage(error) });
  }
});

export const inventoryParams = z
  .strictObject({
    where: selector,
    facts: z.array(z.string().min(1), { error: "must be a list of fact paths such as os.release" }),
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, { error: "must be a word such as app_servers" }),
    directory: z.strictObject({
      kind: z.enum(NODE_DIRECTORY_KINDS, { error: `must be one of: ${NODE_DIRECTORY_KINDS.join(", ")}` }),
      path: z.string({ error: "must be the path of the node file" }).min(1),
    }),
  })
  .partial();
