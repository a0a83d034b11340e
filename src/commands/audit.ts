/**
 * The audit trail: every command and every refusal, from every front, with identity, network,
 * room, decision and resulting run id. Command text is recorded with URL credentials and
 * secret-looking query parameters masked, so the audit log never holds a secret.
 */
import { errorMessage } from "../errors.js";
import type { AuditRecord, RunControl } from "../pipeline/run-control.js";

/** Append one entry; a store failure is reported and does not stop the front. */
export async function audit(
  control: Pick<RunControl, "recordAudit">,
  record: AuditRecord,
  report: (line: string) => void,
): Promise<void> {
  try {
    await control.recordAudit({ ...record, command: maskSecrets(record.command) });
  } catch (err) {
    report(
      `audit: could not record "${maskSecrets(record.command).slice(0, 60)}" by ${record.identity}: ${errorMessage(err)}; check the store (store.path in jarvis.yml)`,
    );
  }
}

/** Mask `user:password@` in URLs and the values of token/password/secret/key query parameters. */
export function maskSecrets(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, "$1***@")
    .replace(
      /([?&](?:access_token|token|password|passwd|secret|api_key|key|sig|signature)=)[^&\s]+/gi,
      "$1***",
    );
}
