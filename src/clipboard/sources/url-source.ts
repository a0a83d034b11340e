/**
 * Designs from http(s) URLs, and the one bounded HTTP GET every web source shares (the gist
 * source too): a timeout over the whole exchange, a size limit enforced while the body streams,
 * redirects followed by hand so their count is capped and https -> http is refused.
 */
import { SourceError } from "../../errors.js";
import { DEFAULT_DESIGN_MAX_BYTES } from "./design-source.js";
import type { DesignSource, FetchedDesign } from "./design-source.js";

/** Limits for one HTTP GET. */
export interface HttpLimits {
  /** Whole exchange, redirects and body included (default 15 s). */
  timeoutMs?: number;
  /** Largest body accepted (default 1 MiB). */
  maxBytes?: number;
  /** Most redirects followed (default 5). */
  maxRedirects?: number;
}

/** One GET: limits plus headers (sent to the first origin only) and the caller's abort signal. */
export interface HttpGetOptions extends HttpLimits {
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A successful GET: the body and the URL it finally came from. */
export interface HttpResponse {
  body: Buffer;
  url: string;
  contentType: string | undefined;
}

/** Default timeout for design downloads. */
export const DEFAULT_HTTP_TIMEOUT_MS = 15_000;
/** Default redirect cap. */
export const DEFAULT_MAX_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** GET `url` within the limits; throws SourceError (retryable for 5xx, 429, timeouts, network). */
export async function httpGet(url: string, options: HttpGetOptions = {}): Promise<HttpResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_DESIGN_MAX_BYTES;
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const first = parseHttpUrl(url, displayUrl(url));
  const firstHeaders = { ...(options.headers ?? {}) };
  // fetch refuses URLs with user:password; send them as Basic auth, to this origin only.
  if (first.username || first.password) {
    const user = decodeURIComponent(first.username);
    const password = decodeURIComponent(first.password);
    firstHeaders.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    first.username = "";
    first.password = "";
  }
  let current = first;
  try {
    for (let redirects = 0; ; redirects++) {
      // Credentials go to the origin they were meant for, never to where a redirect points.
      const headers = current.origin === first.origin ? firstHeaders : {};
      const response = await fetch(current, { redirect: "manual", signal, headers });
      if (REDIRECTS.has(response.status)) {
        await response.body?.cancel();
        const location = response.headers.get("location");
        if (!location) {
          throw new SourceError(
            "E_SOURCE_HTTP",
            `${displayUrl(current.href)} answered ${response.status} without a Location header`,
          );
        }
        if (redirects >= maxRedirects) {
          throw new SourceError(
            "E_SOURCE_REDIRECT",
            `${displayUrl(url)}: more than ${maxRedirects} redirects (last to ${displayUrl(new URL(location, current).href)}); use the final URL`,
          );
        }
        const next = parseHttpUrl(new URL(location, current).href, displayUrl(current.href));
        if (current.protocol === "https:" && next.protocol === "http:") {
          throw new SourceError(
            "E_SOURCE_REDIRECT",
            `${displayUrl(current.href)} redirects from https to plain http (${displayUrl(next.href)}); refused, use an https URL`,
          );
        }
        current = next;
        continue;
      }
      if (response.status < 200 || response.status > 299) {
        await response.body?.cancel();
        throw statusError(response.status, response.statusText, displayUrl(current.href));
      }
      const body = await readBounded(response, maxBytes, displayUrl(current.href));
      return { body, url: current.href, contentType: response.headers.get("content-type") ?? undefined };
    }
  } catch (err) {
    if (err instanceof SourceError) throw err;
    const where = displayUrl(current.href);
    if (options.signal?.aborted) {
      throw new SourceError("E_SOURCE_ABORTED", `${where}: download cancelled`, { cause: err });
    }
    if (timeout.aborted) {
      throw new SourceError(
        "E_SOURCE_TIMEOUT",
        `${where}: no complete answer within ${timeoutMs} ms; try again or check the server`,
        {
          cause: err,
          retryable: true,
        },
      );
    }
    throw new SourceError(
      "E_SOURCE_UNREACHABLE",
      `${where}: cannot be fetched (${networkReason(err)}); check the address and the network`,
      {
        cause: err,
        retryable: true,
      },
    );
  }
}

/** A URL as shown to people: no user:password, no query (either may carry a token). */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? "?..." : ""}`;
  } catch {
    return "(malformed URL)";
  }
}

/** The url source: `http://` and `https://` refs. */
export class UrlSource implements DesignSource {
  readonly name = "url";

  constructor(private readonly limits: HttpLimits = {}) {}

  accepts(ref: string): boolean {
    return /^https?:\/\//i.test(ref);
  }

  async fetch(ref: string, signal: AbortSignal): Promise<FetchedDesign> {
    const response = await httpGet(ref, { ...this.limits, signal });
    return { text: response.body, origin: displayUrl(ref) };
  }
}

function parseHttpUrl(url: string, where: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new SourceError("E_SOURCE_REF", `${where}: not a valid URL`, { cause: err });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new SourceError(
      "E_SOURCE_REF",
      `${where}: only http and https URLs are fetched, not ${parsed.protocol}`,
    );
  }
  return parsed;
}

async function readBounded(response: Response, maxBytes: number, where: string): Promise<Buffer> {
  const tooLarge = (): SourceError =>
    new SourceError(
      "E_SOURCE_TOO_LARGE",
      `${where}: the document is over the size limit of ${maxBytes} bytes; is this the right URL?`,
    );
  const declared = Number(response.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function statusError(status: number, statusText: string, where: string): SourceError {
  const label = `${status}${statusText ? ` ${statusText}` : ""}`;
  if (status === 404 || status === 410) {
    return new SourceError("E_SOURCE_NOT_FOUND", `${where} answered ${label}; check the URL`);
  }
  if (status === 401 || status === 403) {
    return new SourceError(
      "E_SOURCE_HTTP",
      `${where} answered ${label}; the server refuses access, check credentials`,
    );
  }
  const retryable = status >= 500 || status === 429;
  return new SourceError(
    "E_SOURCE_HTTP",
    `${where} answered ${label}${retryable ? "; the server may recover, try again later" : ""}`,
    {
      retryable,
    },
  );
}

function networkReason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const code = cause && typeof cause === "object" && "code" in cause ? String(cause.code) : undefined;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND") return "unknown host";
  if (code === "ECONNRESET") return "connection reset";
  // Library messages may quote the URL, credentials and all.
  const message = cause instanceof Error ? cause.message : String(cause);
  return message.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s)]+/gi, (u) => displayUrl(u));
}
