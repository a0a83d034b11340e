/**
 * The audit trail of the chat front: every command and every refusal, with identity, network,
 * room, decision and resulting run id, goes to the run store. Command text is stored with URL
 * credentials and secret-looking query parameters masked, so the audit log never holds a secret.
 */
import type { AuditEntry, RunStore } from "../store/run-store.js";
import { printable } from "../text/printable.js";

/** What one audit entry records (the time is added here). */
export type AuditRecord = Omit<AuditEntry, "at">;

/** Append one entry; a store failure is reported on stderr and does not stop the bot. */
export async function audit(
  store: RunStore,
  record: AuditRecord,
  report: (line: string) => void = defaultReport,
): Promise<void> {
  try {
    await store.appendAudit({ ...record, command: maskSecrets(record.command), at: Date.now() });
  } catch (err) {
    report(
      `audit: could not record "${record.command.slice(0, 60)}" by ${record.identity}: ${err instanceof Error ? err.message : String(err)}; check the store (store.path in jarvis.yml)`,
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

function defaultReport(line: string): void {
  process.stderr.write(`${printable(line)}\n`);
}
