/**
 * Designs from GitHub gists: `gist:<id>` or `gist:<id>/<filename>`, read through the GitHub REST
 * API (GET /gists/{id}) with the same HTTP limits as the url source.
 */
import { SourceError } from "../../errors.js";
import { displayUrl, httpGet } from "./url-source.js";
import type { HttpLimits } from "./url-source.js";
import type { DesignSource, FetchedDesign } from "./design-source.js";

/** Where and how gists are read. */
export interface GistSourceOptions extends HttpLimits {
  /** API base URL (default https://api.github.com; a GitHub Enterprise or test server otherwise). */
  api?: string;
  /** Sent as `Authorization: Bearer`; needed for secret gists and higher rate limits. Never printed. */
  token?: string;
}

/** The public GitHub API. */
export const DEFAULT_GIST_API = "https://api.github.com";

interface GistFile {
  filename?: unknown;
  raw_url?: unknown;
  truncated?: unknown;
  content?: unknown;
  size?: unknown;
}

/** The gist source. */
export class GistSource implements DesignSource {
  readonly name = "gist";
  private readonly api: string;

  constructor(private readonly options: GistSourceOptions = {}) {
    this.api = (options.api ?? DEFAULT_GIST_API).replace(/\/+$/, "");
  }

  accepts(ref: string): boolean {
    return /^gist:/i.test(ref);
  }

  async fetch(ref: string, signal: AbortSignal): Promise<FetchedDesign> {
    const match = /^gist:([A-Za-z0-9]+)(?:\/([^/]+))?$/i.exec(ref.trim());
    if (!match) {
      throw new SourceError(
        "E_SOURCE_REF",
        `${ref}: not a gist reference; write gist:<id> or gist:<id>/<file.yml>`,
      );
    }
    const id = match[1]!;
    const wanted = match[2];
    const headers: Record<string, string> = {
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
      "user-agent": "jarvis",
    };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const apiUrl = `${this.api}/gists/${id}`;
    const response = await httpGet(apiUrl, { ...this.options, headers, signal }).catch((err: unknown) => {
      if (err instanceof SourceError && err.code === "E_SOURCE_NOT_FOUND") {
        const hint = this.options.token ? "check the id" : "check the id; a secret gist needs GITHUB_TOKEN";
        throw new SourceError(
          "E_SOURCE_NOT_FOUND",
          `gist:${id} not found at ${displayUrl(apiUrl)}; ${hint}`,
          { cause: err },
        );
      }
      throw err;
    });
    const files = parseFiles(response.body, id);
    const file = pickFile(files, id, wanted);
    const name = typeof file.filename === "string" ? file.filename : (wanted ?? "?");
    const origin = `gist:${id}/${name}`;
    if (file.truncated !== true && typeof file.content === "string") {
      return { text: file.content, origin };
    }
    // GitHub cuts `content` of large files; the whole file is at raw_url.
    if (typeof file.raw_url !== "string") {
      throw new SourceError(
        "E_SOURCE_FORMAT",
        `${origin}: the API gave neither the content nor a raw_url for this file`,
      );
    }
    const sameOrigin = safeOrigin(file.raw_url) === safeOrigin(this.api);
    const raw = await httpGet(file.raw_url, { ...this.options, headers: sameOrigin ? headers : {}, signal });
    return { text: raw.body, origin };
  }
}

function parseFiles(body: Buffer, id: string): Record<string, GistFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new SourceError(
      "E_SOURCE_FORMAT",
      `gist:${id}: the API answer is not JSON; is sources.gist.api a GitHub API URL?`,
      { cause: err },
    );
  }
  const files = parsed && typeof parsed === "object" ? (parsed as { files?: unknown }).files : undefined;
  if (!files || typeof files !== "object" || Array.isArray(files)) {
    throw new SourceError(
      "E_SOURCE_FORMAT",
      `gist:${id}: the API answer has no 'files' mapping; is sources.gist.api a GitHub API URL?`,
    );
  }
  return files as Record<string, GistFile>;
}

function pickFile(files: Record<string, GistFile>, id: string, wanted: string | undefined): GistFile {
  const names = Object.keys(files);
  if (wanted !== undefined) {
    const file = Object.hasOwn(files, wanted) ? files[wanted] : undefined;
    if (!file) {
      throw new SourceError(
        "E_SOURCE_NOT_FOUND",
        `gist:${id} has no file ${wanted}; it has: ${names.join(", ") || "no files"}`,
      );
    }
    return file;
  }
  const yamls = names.filter((n) => /\.ya?ml$/i.test(n));
  if (yamls.length === 1) return files[yamls[0]!]!;
  if (yamls.length === 0) {
    throw new SourceError(
      "E_SOURCE_NOT_FOUND",
      `gist:${id} has no .yml or .yaml file; it has: ${names.join(", ") || "no files"}`,
    );
  }
  throw new SourceError(
    "E_SOURCE_AMBIGUOUS",
    `gist:${id} has several YAML files (${yamls.join(", ")}); name one, e.g. gist:${id}/${yamls[0]}`,
  );
}

function safeOrigin(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
