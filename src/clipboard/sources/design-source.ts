/**
 * One small interface for every place a design can come from (DESIGN.md convention 2): a file,
 * an http(s) URL, a gist, an LDAP entry. Sources are listed explicitly in registry.ts.
 */

/** Largest design any source delivers unless jarvis.yml's `designs.max_bytes` says otherwise. */
export const DEFAULT_DESIGN_MAX_BYTES = 16 * 1024 * 1024;

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
  /** Fetch the document; throws SourceError with a stable code (retryable where it may pass). */
  fetch(ref: string, signal: AbortSignal): Promise<FetchedDesign>;
}
