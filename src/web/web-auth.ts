/**
 * How the web page signs people in: the API token kept in an HttpOnly, SameSite=Strict cookie
 * (the browser never hands it to scripts, nor sends it with a request another site starts), read
 * by the API's auth hook like a bearer token. A state-changing request authenticated by the cookie
 * must also carry an Origin equal to the server's own: SameSite=Strict is the first guard, the
 * Origin check the second, for browsers or proxies that do not honour SameSite.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "../errors.js";

/** The cookie's name. */
export const TOKEN_COOKIE = "jarvis_token";

/** Paths that answer without a token: the page shows the sign-in form instead of a 401. */
export function isWebPath(path: string): boolean {
  return (
    path === "/" ||
    path === "/sign-in" ||
    path === "/sign-out" ||
    path === "/favicon.ico" ||
    path.startsWith("/static/") ||
    /^\/run\/[^/]+$/.test(path)
  );
}

/** The token the cookie carries, if any. */
export function cookieSecret(request: FastifyRequest): string | undefined {
  const value = request.cookies[TOKEN_COOKIE];
  return value === undefined || value === "" ? undefined : value;
}

const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether the request's Origin header names this very server. */
export function isSameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (typeof origin !== "string" || typeof host !== "string") return false;
  return origin === `${request.protocol}://${host}`;
}

/** Refuse a cookie-authenticated state change that another origin (or none) sent. */
export function assertCookieWriteAllowed(request: FastifyRequest): void {
  if (SAFE_METHODS.has(request.method) || isSameOrigin(request)) return;
  throw new ApiError(
    "E_API_CROSS_ORIGIN",
    "a state-changing request signed in by the page's cookie must come from the page itself (Origin); scripts and tools send Authorization: Bearer <token> instead",
  );
}

/** Keep `secret` in the cookie (HttpOnly, SameSite=Strict; Secure when served over TLS). */
export function setTokenCookie(request: FastifyRequest, reply: FastifyReply, secret: string): void {
  void reply.setCookie(TOKEN_COOKIE, secret, {
    path: "/",
    httpOnly: true,
    sameSite: "strict",
    secure: request.protocol === "https",
  });
}

/** Forget the token. */
export function clearTokenCookie(request: FastifyRequest, reply: FastifyReply): void {
  void reply.clearCookie(TOKEN_COOKIE, {
    path: "/",
    httpOnly: true,
    sameSite: "strict",
    secure: request.protocol === "https",
  });
}
