/**
 * jarvis.yml `agents:`: how jarvis reaches its agents' bus and signs their jobs. Without it,
 * `jarvis start` runs no node listener and no job controller.
 *
 *   agents:
 *     nats: {url: nats://bus:4222, nkey_seed_file: jarvis.nk, tls: {ca: ca.pem}}
 *     signing_key_file: jarvis-signing.pem
 *     job_ttl_seconds: 3600
 *     job_timeout_seconds: 600
 *     job_lease_seconds: 15   # replicas on PostgreSQL: a killed driver is replaced within this
 */
import { resolve } from "node:path";
import { z } from "zod";
import { natsTlsFrom, natsTlsSchema } from "../cluster/nats-endpoint.js";
import type { NatsTls } from "../cluster/nats-endpoint.js";

export const agentsSchema = z.strictObject({
  nats: z.strictObject({
    url: z.union([z.string(), z.array(z.string()).min(1)], {
      error: "must be a nats:// URL or a list of them",
    }),
    nkey_seed_file: z.string({ error: "must be the path of jarvis's NKEY seed file" }),
    tls: natsTlsSchema.optional(),
  }),
  signing_key_file: z.string({
    error: "must be the path of the ed25519 job signing key (jarvis agent keys DIR)",
  }),
  job_ttl_seconds: z.number().positive().default(3600),
  job_timeout_seconds: z.number().positive().default(600),
  job_lease_seconds: z.number().min(1).default(15),
});

export interface AgentsConfig {
  natsUrls: string[];
  nkeySeedFile: string;
  tls: NatsTls | undefined;
  signingKeyFile: string;
  jobTtlMs: number;
  jobTimeoutMs: number;
  /** The job-driving lease between replicas on PostgreSQL (see src/jobs/job-control.ts). */
  jobLeaseMs: number;
}

export function buildAgentsConfig(
  c: z.output<typeof agentsSchema> | null | undefined,
  baseDir: string,
): AgentsConfig | undefined {
  if (!c) return undefined;
  const path = (p: string): string => resolve(baseDir, p);
  return {
    natsUrls: Array.isArray(c.nats.url) ? c.nats.url : [c.nats.url],
    nkeySeedFile: path(c.nats.nkey_seed_file),
    tls: c.nats.tls && natsTlsFrom(c.nats.tls, baseDir),
    signingKeyFile: path(c.signing_key_file),
    jobTtlMs: c.job_ttl_seconds * 1000,
    jobTimeoutMs: c.job_timeout_seconds * 1000,
    jobLeaseMs: c.job_lease_seconds * 1000,
  };
}
