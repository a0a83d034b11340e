/**
 * One small interface for every place a design can come from (DESIGN.md convention 2): a file,
 * an http(s) URL, a gist, an LDAP entry. Sources are listed explicitly in registry.ts.
 */

/** Largest design any source delivers unless `designs.max_bytes` in jarvis.yml says otherwise. */
export const DEFAULT_DESIGN_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Which local files a requester may have read as a design. The CLI is run by an operator on
 * jarvis's machine, who may name any path ("any"); chat and API users may only name files in
 * `designs.dirs` ("designs-dirs"), or they could read the bot's keys, database and /etc/shadow.
 */
export type FileAccess = "any" | "designs-dirs";

/** What a source hands back: the raw document and where it came from (for `file:line` messages). */
export interface FetchedDesign {
  text: string | Buffer;
  /** A printable name of the document, free of credentials: a path, a URL, `gist:ID/file.yml`. */
  origin: string;
}

/** A place designs are loaded from. */
export interface DesignSource {
  /** Short name for messages and `jarvis pipelines`: file, url, gist, ldap. */
  readonly name: string;
  /** Whether `ref` (what the operator typed after `deploy`) is for this source. */
  accepts(ref: string): boolean;
  /**
   * Fetch the document; throws SourceError with a stable code (retryable where it may pass).
   * `fileAccess` is the requester's (default "designs-dirs"): only the file source has files to guard.
   */
  fetch(ref: string, signal: AbortSignal, fileAccess?: FileAccess): Promise<FetchedDesign>;
}
