/**
 * Designs from local files. An operator at the CLI may name any path (relative to the working
 * directory, or absolute). A chat or API user may only name a file inside `designs.dirs`: the
 * path is resolved (`..`, then every symlink with realpath) and must still lie inside one of
 * those directories, compared by whole path segments; anything else is refused before it is
 * opened, so neither its contents nor whether it exists reach the requester.
 */
import { realpath } from "node:fs/promises";
import { isAbsolute, resolve, sep } from "node:path";
import { SourceError } from "../../errors.js";
import { readFileBounded } from "../../io/bounded-read.js";
import { DEFAULT_DESIGN_MAX_BYTES } from "./design-source.js";
import type { DesignSource, FetchedDesign, FileAccess } from "./design-source.js";

/** Options of the file source. */
export interface FileSourceOptions {
  /** Directory relative paths are taken from (default: the working directory). */
  baseDir?: string;
  maxBytes?: number;
  /** The only directories "designs-dirs" requesters may read from (absolute paths). */
  designsDirs?: string[];
}

/** Anything shaped like `scheme://...` or `scheme:...` that another source should have taken. */
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The file source: refuses directories, devices, missing and oversized files with clear errors. */
export class FileSource implements DesignSource {
  readonly name = "file";
  private readonly baseDir: string;
  private readonly maxBytes: number;
  private readonly designsDirs: string[];

  constructor(options: FileSourceOptions = {}) {
    this.baseDir = options.baseDir ?? process.cwd();
    this.maxBytes = options.maxBytes ?? DEFAULT_DESIGN_MAX_BYTES;
    this.designsDirs = (options.designsDirs ?? []).map((dir) => resolve(dir));
  }

  accepts(ref: string): boolean {
    return ref.trim() !== "" && !OTHER_SCHEME.test(ref) && !/^(gist:|cn=)/i.test(ref);
  }

  async fetch(
    ref: string,
    signal: AbortSignal,
    fileAccess: FileAccess = "designs-dirs",
  ): Promise<FetchedDesign> {
    signal.throwIfAborted();
    const limits = { maxBytes: this.maxBytes, what: "design file", shownAs: ref };
    if (fileAccess === "any") {
      return { text: await readFileBounded(resolve(this.baseDir, ref), limits), origin: ref };
    }
    const path = await this.inDesignsDirs(ref);
    // The path is fully resolved: a symlink swapped in since realpath is refused, not followed.
    return { text: await readFileBounded(path, { ...limits, noFollow: true }), origin: ref };
  }

  /**
   * The real path of `ref` inside a designs dir. A relative ref is looked up in each designs dir
   * in order, then from the working directory (so `examples/loki.yml` works from jarvis's
   * checkout); a candidate outside every dir is never touched.
   */
  private async inDesignsDirs(ref: string): Promise<string> {
    if (ref.includes("\0")) throw this.refusal(ref);
    const realDirs = await realDirectories(this.designsDirs);
    const allowed = [...new Set([...this.designsDirs, ...realDirs])];
    const candidates = isAbsolute(ref)
      ? [resolve(ref)]
      : [...this.designsDirs.map((dir) => resolve(dir, ref)), resolve(this.baseDir, ref)];
    let inside = false;
    for (const candidate of candidates) {
      if (!allowed.some((dir) => isInside(candidate, dir))) continue;
      inside = true;
      let real: string;
      try {
        real = await realpath(candidate);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        if (code === "ELOOP") {
          throw new SourceError(
            "E_SOURCE_UNREADABLE",
            `design file ${ref} is a symbolic link that loops; point it at a file`,
            { cause: err },
          );
        }
        throw new SourceError("E_SOURCE_UNREADABLE", `design file ${ref} cannot be read (${code ?? "?"})`, {
          cause: err,
        });
      }
      // A symlink inside a designs dir that points out of every one of them.
      if (!realDirs.some((dir) => isInside(real, dir))) throw this.refusal(ref);
      return real;
    }
    if (!inside) throw this.refusal(ref);
    throw new SourceError(
      "E_SOURCE_NOT_FOUND",
      `design file ${ref} does not exist in the designs directories (${this.designsDirs.join(", ")}); check the name`,
    );
  }

  private refusal(ref: string): SourceError {
    return new SourceError(
      "E_SOURCE_FORBIDDEN",
      `design file ${ref} is not inside the designs directories (${this.designsDirs.join(", ") || "none configured"}); from chat or the API, name a design there, or ask an operator to add its directory to designs.dirs in jarvis.yml`,
    );
  }
}

/** The real paths of the dirs that exist (a missing dir allows nothing). */
async function realDirectories(dirs: string[]): Promise<string[]> {
  const real = await Promise.all(dirs.map(realDirectory));
  return real.filter((path): path is string => path !== undefined);
}

async function realDirectory(dir: string): Promise<string | undefined> {
  try {
    return await realpath(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw new SourceError("E_SOURCE_UNREADABLE", `designs directory ${dir} cannot be read (${code ?? "?"})`, {
      cause: err,
    });
  }
}

/** Whether `path` lies under `dir`, by whole path segments (`/srv/designs-old` is not in `/srv/designs`). */
function isInside(path: string, dir: string): boolean {
  const prefix = dir.endsWith(sep) ? dir : `${dir}${sep}`;
  return path.startsWith(prefix);
}
