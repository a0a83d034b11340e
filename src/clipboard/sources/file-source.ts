/** Designs from local files: a path relative to the working directory (or absolute). */
import { open, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { SourceError } from "../../errors.js";
import { DEFAULT_DESIGN_MAX_BYTES } from "./design-source.js";
import type { DesignSource, FetchedDesign } from "./design-source.js";

/** Options of the file source. */
export interface FileSourceOptions {
  /** Directory relative paths are taken from (default: the working directory). */
  baseDir?: string;
  maxBytes?: number;
}

/** Anything shaped like `scheme://...` or `scheme:...` that another source should have taken. */
const OTHER_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The file source: refuses directories, devices, missing and oversized files with clear errors. */
export class FileSource implements DesignSource {
  readonly name = "file";
  private readonly baseDir: string;
  private readonly maxBytes: number;

  constructor(options: FileSourceOptions = {}) {
    this.baseDir = options.baseDir ?? process.cwd();
    this.maxBytes = options.maxBytes ?? DEFAULT_DESIGN_MAX_BYTES;
  }

  accepts(ref: string): boolean {
    return ref.trim() !== "" && !OTHER_SCHEME.test(ref) && !/^(gist:|cn=)/i.test(ref);
  }

  async fetch(ref: string, signal: AbortSignal): Promise<FetchedDesign> {
    signal.throwIfAborted();
    const path = resolve(this.baseDir, ref);
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw fsError(ref, path, err);
    });
    if (info.isDirectory()) {
      throw new SourceError(
        "E_SOURCE_NOT_A_FILE",
        `${ref} is a directory; name the design file in it (e.g. ${ref.replace(/\/$/, "")}/loki.yml)`,
      );
    }
    if (!info.isFile()) {
      throw new SourceError(
        "E_SOURCE_NOT_A_FILE",
        `${ref} is not a regular file (a device, socket or pipe); name a design file`,
      );
    }
    if (info.size > this.maxBytes) {
      throw new SourceError(
        "E_SOURCE_TOO_LARGE",
        `${ref} is ${info.size} bytes, over the design size limit of ${this.maxBytes} bytes; is this the right file?`,
      );
    }
    // Read at most one byte past the limit: the file may have grown since stat.
    const handle = await open(path, "r").catch((err: NodeJS.ErrnoException) => {
      throw fsError(ref, path, err);
    });
    try {
      const buffer = Buffer.alloc(this.maxBytes + 1);
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > this.maxBytes) {
        throw new SourceError(
          "E_SOURCE_TOO_LARGE",
          `${ref} grew past the design size limit of ${this.maxBytes} bytes while being read`,
        );
      }
      return { text: buffer.subarray(0, filled), origin: ref };
    } finally {
      await handle.close();
    }
  }
}

function fsError(ref: string, path: string, err: NodeJS.ErrnoException): SourceError {
  if (err.code === "ENOENT" || err.code === "ENOTDIR") {
    return new SourceError(
      "E_SOURCE_NOT_FOUND",
      `design file ${ref} does not exist (looked for ${path}); check the path`,
      { cause: err },
    );
  }
  if (err.code === "EACCES" || err.code === "EPERM") {
    return new SourceError(
      "E_SOURCE_UNREADABLE",
      `design file ${ref} cannot be read (permission denied); check its mode and owner`,
      { cause: err },
    );
  }
  return new SourceError("E_SOURCE_UNREADABLE", `design file ${ref} cannot be read: ${err.message}`, {
    cause: err,
  });
}
