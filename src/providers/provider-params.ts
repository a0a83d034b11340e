/**
 * The `with` parameters of each provider module (jarvis.yml `modules.<provider>.with` and a
 * pipeline step's `with`), checked by jarvis when it loads them; the step processes never import
 * this file. `provider:<task>` steps are checked against every provider's parameters at once,
 * since which provider runs is only known from the design.
 */
import { z } from "zod";

/** retry.ts reads these as numbers, or numbers written as strings. */
function numberAtLeast(min: number): z.ZodType<number | string> {
  const message = `must be a number >= ${min}`;
  return z
    .union(
      [
        z.number(),
        z
          .string()
          .trim()
          .regex(/^-?\d+(\.\d+)?$/),
      ],
      { error: message },
    )
    .refine((v) => Number(v) >= min, { error: message });
}

const nameToString = z.record(z.string(), z.string(), {
  error: "must map names to strings (e.g. debian-12: linode/debian12)",
});

/** The API retry and state-wait bounds both cloud providers take (retry.ts policiesFrom). */
const apiBounds = {
  api_attempts: numberAtLeast(1),
  retry_base_ms: numberAtLeast(0),
  retry_max_ms: numberAtLeast(0),
  wait_timeout_s: numberAtLeast(0),
  poll_ms: numberAtLeast(1),
  poll_max_ms: numberAtLeast(1),
  // The port the provider's images run sshd on, recorded with each host's address so the ssh
  // steps reach hosts of several providers (a cluster across clouds) each at its own port.
  ssh_port: z.int({ error: "must be a TCP port number (1-65535)" }).min(1).max(65535, {
    error: "must be a TCP port number (1-65535)",
  }),
};

export const localParams = z
  .strictObject({
    state_dir: z.string().min(1),
    deploy_key: z.string().min(1),
    address: z.string().regex(/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1)$/, {
      error: "must be a loopback address (127.0.0.0/8 or ::1); local hosts listen there only",
    }),
    sshd: z.string().min(1),
  })
  .partial();

export const linodeParams = z
  .strictObject({
    ...apiBounds,
    api_url: z.string().regex(/^https?:\/\//, { error: "must be an http(s) URL" }),
    region: z.string(),
    type: z.string(),
    image: z.string(),
    images: nameToString,
    root_password: z.enum(["generate", "require"], { error: "must be 'generate' or 'require'" }),
    page_size: numberAtLeast(0),
  })
  .partial();

export const ec2Params = z
  .strictObject({
    ...apiBounds,
    endpoint: z.string().regex(/^https?:\/\//, { error: "must be an http(s) URL" }),
    region: z.string(),
    instance_type: z.string(),
    image: z.string(),
    images: nameToString,
    key_name: z.string(),
    subnet_id: z.string(),
    security_group_ids: z.union([z.string(), z.array(z.string())], {
      error: "must be a security group id or a list of them",
    }),
  })
  .partial();

export const vmwareParams = z
  .strictObject({
    ...apiBounds,
    url: z
      .string()
      .regex(/^https?:\/\//, { error: "must be an http(s) URL of the vCenter or ESX /sdk endpoint" }),
    ca_file: z.string().min(1),
    api_version: z.string(),
    datacenter: z.string(),
    cluster: z.string(),
    esx_host: z.string(),
    datastore: z.string(),
    folder: z.string(),
    cpus: numberAtLeast(1),
    templates: nameToString,
    guestinfo: z.enum(["cloud-init", "none"], { error: "must be 'cloud-init' or 'none'" }),
  })
  .partial();
