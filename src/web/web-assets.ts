/**
 * The page's two static files: the ES module (src/web/client/app.ts, compiled by tsc next to this
 * file; no bundler) and the stylesheet. Each is addressed with its content hash, so it is cached
 * for a year and a new build is fetched at once.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, errorMessage } from "../errors.js";
import { STYLESHEET } from "./stylesheet.js";

/** A file the page loads. */
export interface WebAsset {
  body: string;
  contentType: string;
  hash: string;
}

/** The assets and where the page links them. */
export interface WebAssets {
  script: WebAsset;
  style: WebAsset;
  scriptUrl: string;
  cssUrl: string;
}

/** Read the compiled client module (dist/src/web/client/app.js) and hash both files. */
export function loadWebAssets(): WebAssets {
  const path = join(import.meta.dirname, "client", "app.js");
  let script: string;
  try {
    script = readFileSync(path, "utf8").replace(/\n\/\/# sourceMappingURL=.*\n?$/, "\n");
  } catch (err) {
    throw new ConfigError(
      "E_WEB_ASSETS",
      `the web page's script ${path} is missing (${errorMessage(err)}); run npm run build, then start jarvis from dist/`,
      { cause: err },
    );
  }
  const asset = (body: string, contentType: string): WebAsset => ({
    body,
    contentType,
    hash: createHash("sha256").update(body).digest("base64url").slice(0, 16),
  });
  const js = asset(script, "text/javascript; charset=utf-8");
  const css = asset(STYLESHEET, "text/css; charset=utf-8");
  return {
    script: js,
    style: css,
    scriptUrl: `/static/app.js?v=${js.hash}`,
    cssUrl: `/static/app.css?v=${css.hash}`,
  };
}
