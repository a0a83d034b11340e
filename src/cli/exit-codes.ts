/** Exit codes of the `jarvis` command, stable for scripts (documented in the README). */
import { JarvisError, errorCode } from "../errors.js";
import {
  ConfigError,
  DesignError,
  PipelineError,
  RemoteError,
  ScheduleError,
  SourceError,
  YamlError,
} from "../errors.js";

/** The exit codes. */
export const EXIT = {
  ok: 0,
  /** The run (or step) failed or was cancelled. */
  runFailed: 1,
  /** The command line was wrong. */
  usage: 2,
  /** A design, pipeline, clipboard or configuration was refused. */
  invalid: 3,
  /** No such host, run, pipeline or file. */
  notFound: 4,
  /** The host is busy or the run is in the wrong state for this. */
  conflict: 5,
  /** The server (--server) could not be reached, broke off, or was not able to answer now. */
  unavailable: 6,
  /** Anything unexpected. */
  internal: 10,
} as const;

const NOT_FOUND = new Set([
  "E_RUN_NOT_FOUND",
  "E_PIPELINE_NOT_FOUND",
  "E_SOURCE_NOT_FOUND",
  "E_CONFIG_MISSING",
  "E_HOST_NOT_FOUND",
  "E_SCHEDULE_NOT_FOUND",
  "E_JOB_UNKNOWN",
  "E_API_NOT_FOUND",
]);
const CONFLICT = new Set(["E_HOST_BUSY", "E_RUN_STATE", "E_RUN_HELD", "E_STORE_NOT_EMPTY", "E_JOB_STATE"]);
/** Refusals and bad input the service answered (the CLI's own are E_USAGE already). */
const USAGE = new Set(["E_USAGE", "E_API_INPUT", "E_DENIED", "E_SELECTOR_SYNTAX", "E_SELECTOR_LIMIT"]);
/** What the operator fixes in jarvis.yml, the service or the targets: not the command line. */
const INVALID = new Set([
  "E_JOB_NO_TARGETS",
  "E_JOB_NO_CONTROLLER",
  "E_API_OFF",
  "E_API_UNAUTHORIZED",
  "E_BUS_KEYS",
  "E_BUS_REFUSED",
]);

/** The exit code for an error a command threw. */
export function exitCodeFor(err: unknown): number {
  const code = errorCode(err);
  if (USAGE.has(code)) return EXIT.usage;
  if (INVALID.has(code)) return EXIT.invalid;
  if (NOT_FOUND.has(code)) return EXIT.notFound;
  if (CONFLICT.has(code)) return EXIT.conflict;
  if (err instanceof RemoteError) return remoteExitCode(err.status);
  if (
    err instanceof YamlError ||
    err instanceof DesignError ||
    err instanceof PipelineError ||
    err instanceof ConfigError ||
    err instanceof SourceError ||
    err instanceof ScheduleError
  ) {
    return EXIT.invalid;
  }
  return err instanceof JarvisError ? EXIT.runFailed : EXIT.internal;
}

/**
 * A server's refusal by its HTTP status, which the server chose by the same error classes a local
 * command would have thrown (src/api/http-errors.ts): 422 for a refused design or pipeline, and a
 * token or role the server refuses is a setting to fix, like a bad jarvis.yml.
 */
function remoteExitCode(status: number): number {
  if (status === 400) return EXIT.usage;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 401 || status === 403 || status === 413 || status === 422 || status === 501)
    return EXIT.invalid;
  if (status === 500) return EXIT.internal;
  return EXIT.unavailable;
}
