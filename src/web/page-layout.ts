/**
 * The frame every page shares, and the headers every page is sent with: a strict
 * Content-Security-Policy (scripts and styles only from this server, as files: no inline script
 * or style anywhere), no framing, no referrer to other sites (a `?token=` address must not leak;
 * `no-referrer` would also make Chromium send `Origin: null` on the page's own form posts, which the
 * CSRF check refuses), and no caching of pages that show a run's data.
 */
import type { FastifyReply } from "fastify";
import { html } from "./html.js";
import type { SafeHtml } from "./html.js";
import type { WebAssets } from "./web-assets.js";

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** Headers for anything the page serves (pages and assets alike). */
export function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
    .header("referrer-policy", "same-origin")
    .header("cross-origin-opener-policy", "same-origin");
}

/** Send a page: HTML, never cached (it shows live, per-identity data). */
export function sendPage(reply: FastifyReply, status: number, page: SafeHtml): FastifyReply {
  return securityHeaders(reply)
    .code(status)
    .header("cache-control", "no-store")
    .type("text/html; charset=utf-8")
    .send(page.text);
}

/** What the frame shows of who is signed in. */
export interface Viewer {
  identity: string;
}

/** A whole document around `body`. */
export function layout(
  assets: WebAssets,
  title: string,
  viewer: Viewer | undefined,
  body: SafeHtml,
): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · jarvis</title>
        <link rel="stylesheet" href="${assets.cssUrl}" />
        <script type="module" src="${assets.scriptUrl}"></script>
      </head>
      <body>
        <header class="bar">
          <a class="brand" href="/">jarvis</a>
          ${
            viewer
              ? html`<span class="who" id="who">${viewer.identity}</span>
                  <form method="post" action="/sign-out" class="sign-out">
                    <button type="submit" id="sign-out">Sign out</button>
                  </form>`
              : null
          }
        </header>
        <main>${body}</main>
      </body>
    </html> `;
}

/** "1.2 s", "3 min 4 s", or "" when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A time as ISO 8601 (UTC), or "" when unknown. */
export function formatTime(ms: number | null): string {
  return ms === null ? "" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
