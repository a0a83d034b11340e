/**
 * The settings of an RFC 2136 update (server, zone, TSIG key, transport), read from a step's
 * parameters and environment. The dns module reads them from `modules.dns`; production:migrate
 * reads the same keys from `modules.production.with.dns`, so both refuse bad settings alike.
 */
import { StepFailure } from "../step-sdk/define-step.js";
import type { TsigKey, UpdateTarget } from "./dns-update.js";

/** Environment variable holding the TSIG secret (base64, as tsig-keygen prints it). */
export const TSIG_SECRET_ENV = "DNS_TSIG_SECRET";

/** Everything an update needs, read from the step's parameters and environment. */
export interface DnsSettings {
  server: string;
  zone: string;
  key: TsigKey;
  target: UpdateTarget;
  ttl: number;
}

/** Where the settings come from in jarvis.yml, for messages: `modules.dns.with`, `modules.dns.env`. */
export interface SettingsPlace {
  params: string;
  env: string;
}

/** Read the settings; undefined when neither server nor zone is set (DNS not configured). */
export function readDnsSettings(
  p: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  place: SettingsPlace,
): DnsSettings | undefined {
  if (p.server === undefined && p.zone === undefined) return undefined;
  const server = text(p, "server", place);
  const zone = text(p, "zone", place).replace(/\.$/, "");
  const keyName = text(p, "key_name", place);
  const algorithm = (p.algorithm ?? "hmac-sha256") as TsigKey["algorithm"];
  if (!["hmac-sha256", "hmac-sha512", "hmac-sha1"].includes(algorithm)) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `dns: algorithm ${String(algorithm)} is not supported; use hmac-sha256 (or hmac-sha512)`,
    );
  }
  if (p.secret !== undefined || p.key_secret !== undefined) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `dns: the TSIG secret must not be a parameter (it would be stored with the run); set ${place.env}.${TSIG_SECRET_ENV} in jarvis.yml`,
    );
  }
  const secretText = env[TSIG_SECRET_ENV];
  if (!secretText)
    throw new StepFailure(
      "E_DNS_NO_SECRET",
      `dns: ${TSIG_SECRET_ENV} is not set; add ${place.env}.${TSIG_SECRET_ENV}: \${...} to jarvis.yml`,
    );
  const secret = Buffer.from(secretText, "base64");
  if (secret.length === 0)
    throw new StepFailure(
      "E_DNS_NO_SECRET",
      `dns: ${TSIG_SECRET_ENV} is not base64 (use the secret tsig-keygen printed)`,
    );
  const target: UpdateTarget = {
    server,
    port: num(p, "port", 53, place),
    transport: p.transport === "tcp" ? "tcp" : "udp",
    timeoutMs: num(p, "timeout", 5, place) * 1000,
  };
  return {
    server,
    zone,
    key: { name: keyName, algorithm, secret },
    target,
    ttl: num(p, "ttl", 300, place),
  };
}

function text(p: Record<string, unknown>, key: string, place: SettingsPlace): string {
  const value = p[key];
  if (typeof value !== "string" || value === "") {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `dns: ${place.params}.${key} must be set (a non-empty string) when DNS updates are configured`,
    );
  }
  return value;
}

function num(p: Record<string, unknown>, key: string, fallback: number, place: SettingsPlace): number {
  const value = p[key];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0))
    throw new StepFailure("E_STEP_PARAMS", `dns: ${place.params}.${key} must be a positive number`);
  return value;
}
