/**
 * Bounded backoff shared by the cloud providers: API calls that were throttled or hit a server
 * error are tried again a bounded number of times inside the step, and waits for a state
 * (provisioning -> running) poll with growing delays up to a deadline. When the bounds run out the
 * error stays `retryable`, so the step exits 75 and the pipeline's own retries take over.
 */
import { ProviderError, ThrottledError } from "../errors.js";

/** A clipboard, as steps see it (a YAML mapping). */
type Clipboard = Record<string, unknown>;

/** How hard a provider tries before giving the failure back to the pipeline. */
export interface RetryPolicy {
  /** Total attempts of one API call (at least 1). */
  attempts: number;
  /** Delay before the second attempt; doubles with each further one. */
  baseMs: number;
  /** Upper bound of any single delay, also of a server's Retry-After. */
  maxMs: number;
}

/** Bounds for waiting on a host's state. */
export interface WaitPolicy {
  /** Give up after this long. */
  timeoutMs: number;
  /** First delay between polls; doubles up to `maxMs`. */
  pollMs: number;
  maxMs: number;
}

/** Read a number parameter (from JARVIS_PARAMS) with a default; bad values name the parameter. */
export function numberParam(
  params: Record<string, unknown>,
  name: string,
  fallback: number,
  min = 0,
): number {
  const value = params[name];
  if (value === undefined || value === null) return fallback;
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n) || n < min) {
    throw new ProviderError(
      "E_PROVIDER_PARAM",
      `parameter ${name} must be a number >= ${min}, got ${JSON.stringify(value)}; fix it in the pipeline's 'with' or jarvis.yml modules`,
    );
  }
  return n;
}

/** The retry and wait policies from step parameters (`retries`, `retry_base_ms`, ...). */
export function policiesFrom(params: Record<string, unknown>): { retry: RetryPolicy; wait: WaitPolicy } {
  return {
    retry: {
      attempts: Math.floor(numberParam(params, "api_attempts", 5, 1)),
      baseMs: numberParam(params, "retry_base_ms", 1000),
      maxMs: numberParam(params, "retry_max_ms", 30_000),
    },
    wait: {
      timeoutMs: numberParam(params, "wait_timeout_s", 600) * 1000,
      pollMs: numberParam(params, "poll_ms", 2000, 1),
      maxMs: numberParam(params, "poll_max_ms", 15_000, 1),
    },
  };
}

/** A parameter that maps names to strings (`images: {debian-12: linode/debian12}`). */
export function stringMap(value: unknown, name: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    typeof value !== "object" ||
    Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === "string")
  ) {
    throw new ProviderError(
      "E_PROVIDER_PARAM",
      `parameter ${name} must map names to strings (e.g. debian-12: linode/debian12); fix it in jarvis.yml modules.<provider>.with`,
    );
  }
  return value as Record<string, string>;
}

/** The design with `instance.plan` (a provider plan name) standing in for the numeric `size`. */
export function withPlan(clipboard: Clipboard): Clipboard {
  const raw = clipboard.instance;
  const instance =
    raw && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  return instance && typeof instance.plan === "string" && instance.plan !== ""
    ? { ...clipboard, instance: { ...instance, size: instance.plan } }
    : clipboard;
}

/** Sleep that ends early (rejecting) when the step is told to stop. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Call `fn`, trying again after retryable ProviderErrors with exponential backoff (honouring the
 * server's Retry-After up to `maxMs`). Other errors pass through at once.
 */
export async function withRetry<T>(
  what: string,
  fn: () => Promise<T>,
  policy: RetryPolicy,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<T> {
  let delay = policy.baseMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ProviderError) || !err.retryable) throw err;
      if (attempt >= policy.attempts) {
        throw new ProviderError(
          err.code,
          `${err.message} (gave up on ${what} after ${attempt} attempts; the step can be retried)`,
          { retryable: true },
        );
      }
      const hinted = err instanceof ThrottledError ? err.retryAfterMs : undefined;
      const wait = Math.min(Math.max(delay, hinted ?? 0), policy.maxMs);
      log(`${what}: ${err.message}; attempt ${attempt + 1} of ${policy.attempts} in ${Math.round(wait)} ms`);
      await sleep(wait, signal);
      delay = Math.min(delay * 2, policy.maxMs);
    }
  }
}

/**
 * Poll `probe` until it returns a value, with delays doubling from `pollMs` to `maxMs`, for at
 * most `timeoutMs`. On time-out the error is retryable: a later attempt finds the same host.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  policy: WaitPolicy,
  signal: AbortSignal,
): Promise<T> {
  const deadline = Date.now() + policy.timeoutMs;
  let delay = policy.pollMs;
  // The count bound guards against a clock that does not move (and keeps the loop finite).
  for (let round = 0; round < 10_000; round++) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() + delay > deadline) break;
    await sleep(delay, signal);
    delay = Math.min(delay * 2, policy.maxMs);
  }
  throw new ProviderError(
    "E_PROVIDER_WAIT_TIMEOUT",
    `${what} did not happen within ${Math.round(policy.timeoutMs / 1000)} s; the step can be retried (it finds the same host)`,
    { retryable: true },
  );
}

/** Replace every occurrence of the given secrets in a message; errors of SDKs may echo requests. */
export function scrub(message: string, secrets: readonly (string | undefined)[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join("[redacted]");
  }
  // Authorization headers and signatures, whatever the secret was.
  return out.replace(/(Bearer|Credential=|Signature=)\s*[^\s,"']+/gi, "$1 [redacted]");
}

function abortError(signal: AbortSignal): ProviderError {
  const reason = signal.reason instanceof Error ? signal.reason.message : "stopped";
  return new ProviderError("E_PROVIDER_ABORTED", `provider call abandoned: ${reason}`, { retryable: true });
}
