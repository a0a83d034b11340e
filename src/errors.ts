/**
 * Every error jarvis raises on purpose. Each has a stable `code` that scripts and tests match on,
 * carries its `cause`, and says in `retryable` whether trying again could help. Across a fork,
 * errors travel as {name, code, message} (see protocol.ts): never rely on instanceof there.
 */

/** Options every jarvis error accepts. */
export interface JarvisErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

/** Base class: a message for people, a stable code for programs. */
export class JarvisError extends Error {
  /** Stable machine-readable code, e.g. `E_YAML_SYNTAX`. */
  readonly code: string;
  /** Whether the same operation might succeed if tried again later. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: JarvisErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A schedule that cannot be made: a bad `at` time, cron pattern or timezone, or no such schedule. */
export class ScheduleError extends JarvisError {}

/** A YAML document that is malformed, too large, a bomb, or not the shape expected. */
export class YamlError extends JarvisError {}

/** A design (host document) that fails validation; the message names file, line and field. */
export class DesignError extends JarvisError {}

/** A design source (file, URL, gist, LDAP) could not deliver the document. */
export class SourceError extends JarvisError {}

/** A pipeline file that is malformed or names a step nobody provides. */
export class PipelineError extends JarvisError {}

/** A step failed: non-zero exit, timeout, bad output. `retryable` follows the step protocol. */
export class StepError extends JarvisError {}

/** The configuration file (jarvis.yml) is missing a value or has a bad one. */
export class ConfigError extends JarvisError {}

/** A run-level refusal or lookup failure: host busy, no such run, wrong state for retry. */
export class RunError extends JarvisError {}

/** The run store failed (SQLite I/O, schema). */
export class StoreError extends JarvisError {}

/** A provider API refused or failed (cloud or local). */
export class ProviderError extends JarvisError {}

/** A chat network failed or refused (connect, auth, send). */
export class ChatError extends JarvisError {}

/** The NATS bus that carries steps to remote workers failed or refused (connect, stream, object store). */
export class BusError extends JarvisError {}

/**
 * A command's words are wrong for what they name (a step number that is not one, a word after the
 * host, a cluster where one run is meant). Code `E_USAGE`: the CLI exits 2, chat answers the
 * message without "error:".
 */
export class CommandError extends JarvisError {}

/**
 * A request the HTTP API refuses before it reaches the dispatcher: no or a wrong token
 * (E_API_UNAUTHORIZED), a body too large (E_API_BODY_TOO_LARGE), a malformed body or parameter
 * (E_API_INPUT, naming the field), an unknown path (E_API_NOT_FOUND).
 */
export class ApiError extends JarvisError {}

/**
 * What a jarvis server (`jarvis --server URL`) answered instead of a result: its `{code, message}`
 * with the HTTP `status`, or no answer at all (`status` 0: E_REMOTE_UNREACHABLE, or
 * E_REMOTE_DROPPED when a followed stream broke off). The CLI picks its exit code from these.
 */
export class RemoteError extends JarvisError {
  readonly status: number;
  constructor(code: string, message: string, status: number, options: JarvisErrorOptions = {}) {
    super(code, message, options);
    this.status = status;
  }
}

/**
 * A failure a step task throws on purpose: its code travels to the parent in the step's final
 * record (protocol.ts STEP_RESULT_FD); `retryable` selects exit 75 (worth retrying) over exit 1.
 */
export class StepFailure extends JarvisError {}

/**
 * A selector (`os.family=debian and packages.apache2<2.4.50`) that does not parse or is too big;
 * `column` (counted from 1) is where the problem is, and the message ends with it.
 */
export class SelectorError extends JarvisError {
  readonly column: number;
  constructor(code: string, message: string, column: number) {
    super(code, `selector: ${message} at column ${column}`);
    this.column = column;
  }
}

/** A Debian version string that dpkg would refuse (bad epoch, empty revision, spaces). */
export class VersionError extends JarvisError {}

/** An agent's configuration, keys or connection to NATS is wrong (`jarvis agent`). */
export class AgentError extends JarvisError {}

/** A remote-execution job was refused or failed as a whole (no such job, bad targets, NATS down). */
export class JobError extends JarvisError {}

/** A DNS UPDATE that failed; `retryable` when the server was unreachable or answered SERVFAIL. */
export class DnsUpdateFailure extends JarvisError {
  constructor(code: string, message: string, retryable: boolean) {
    super(code, message, { retryable });
  }
}

/** A classified LDAP failure; `retryable` when the server could not be reached. */
export class LdapFailure extends JarvisError {
  constructor(code: string, message: string, retryable: boolean) {
    super(code, message, { retryable });
  }
}

/** A provider error that says how long the server asked us to wait (HTTP Retry-After). */
export class ThrottledError extends ProviderError {
  /** The server's requested wait, when it named one. */
  readonly retryAfterMs: number | undefined;
  constructor(code: string, message: string, retryAfterMs: number | undefined) {
    super(code, message, { retryable: true });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * An approve or deny someone may not give: her own run, or without the approver role. Codes
 * E_APPROVAL_SELF, E_APPROVAL_ROLE. Fronts show it as a refusal, and the audit records it denied.
 */
export class ApprovalRefused extends JarvisError {}

/** The one-line message an operator sees for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The stable code of any thrown value (E_INTERNAL for foreign errors). */
export function errorCode(err: unknown): string {
  if (err instanceof JarvisError) return err.code;
  if (err && typeof err === "object" && "code" in err && typeof err.code === "string") return err.code;
  return "E_INTERNAL";
}
