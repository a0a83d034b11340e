/**
 * Every failure the API answers, as `{code, message}` with its HTTP status: the typed errors of
 * src/errors.ts and the dispatcher's refusals, mapped by their stable code or class, never by
 * their message. A foreign error is answered as E_INTERNAL without its text (which could hold
 * anything) and logged for the operator.
 */
import {
  ApiError,
  CommandError,
  DesignError,
  PipelineError,
  RunError,
  ScheduleError,
  SourceError,
  StoreError,
  YamlError,
  errorCode,
  errorMessage,
} from "../errors.js";
import type { Redactor } from "../clipboard/redact.js";

/** An error body and its status. */
export interface HttpFailure {
  status: number;
  body: { code: string; message: string };
}

const BY_CODE: Readonly<Record<string, number>> = {
  E_API_UNAUTHORIZED: 401,
  E_API_BODY_TOO_LARGE: 413,
  E_API_NOT_FOUND: 404,
  E_API_INPUT: 400,
  E_API_CROSS_ORIGIN: 403,
  E_DENIED: 403,
  E_RATE_LIMITED: 429,
  E_USAGE: 400,
  E_RUN_NOT_FOUND: 404,
  E_RUN_NO_CLIPBOARD: 404,
  E_RUN_STEP: 400,
  E_HOST_BUSY: 409,
  E_RUN_STATE: 409,
  E_RUN_HELD: 409,
  // The server has no node store to answer from: a setting, not a request, to fix.
  E_NO_NODE_DIRECTORY: 501,
  E_SCHEDULE_NOT_FOUND: 404,
  E_JOB_UNKNOWN: 404,
  E_JOB_STATE: 409,
  // Well-formed, but it picks no node (or names one jarvis does not know).
  E_JOB_NO_TARGETS: 422,
  E_JOB_NO_CONTROLLER: 501,
  E_SELECTOR_SYNTAX: 400,
  E_SELECTOR_LIMIT: 400,
};

/** The status and body for a thrown value; `log` hears about the ones that are jarvis's fault. */
export function httpFailure(error: unknown, redactor: Redactor, log: (line: string) => void): HttpFailure {
  const code = errorCode(error);
  const message = redactor.text(errorMessage(error).split("\n")[0] ?? "");
  const known = BY_CODE[code];
  if (known !== undefined) return { status: known, body: { code, message } };
  if (error instanceof DesignError || error instanceof PipelineError || error instanceof YamlError)
    return { status: 422, body: { code, message } };
  // A design that could not be fetched is the request's problem (wrong path, URL, entry).
  if (error instanceof SourceError) return { status: error.retryable ? 502 : 422, body: { code, message } };
  if (error instanceof CommandError || error instanceof ApiError || error instanceof ScheduleError)
    return { status: 400, body: { code, message } };
  if (error instanceof RunError) return { status: 409, body: { code, message } };
  if (error instanceof StoreError) return { status: 503, body: { code, message } };
  log(`api: internal error: ${message}`);
  return {
    status: 500,
    body: { code: "E_INTERNAL", message: "internal error; the operator finds the details in jarvis's log" },
  };
}
