/**
 * The one way jarvis reads a file someone named (a design, a clipboard, a pipeline, jarvis.yml):
 * only regular files, never more than a limit, with typed errors that say what to fix. A device
 * (/dev/zero, /dev/urandom) would otherwise be read without end, a FIFO would block the open
 * itself, and raw ENOENT/EISDIR/ELOOP would surface as internal errors.
 *
 * The kind is checked with stat before the file is opened (opening a FIFO blocks, opening some
 * devices acts on them), then again with fstat on what was opened, since the path may have been
 * swapped in between; O_NONBLOCK makes even that swapped-in FIFO return at once.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { SourceError } from "../errors.js";

/** How one file is read. */
export interface BoundedReadOptions {
  /** Largest file accepted, in bytes. */
  maxBytes: number;
  /** What the file is to the operator, for messages: "design file", "pipeline file", ... */
  what: string;
  /** The path as the operator gave it, for messages (default: `path`). */
  shownAs?: string;
  /** Refuse a symlink as the last part of the path (for a path already resolved by realpath). */
  noFollow?: boolean;
}

const CHUNK_BYTES = 64 * 1024;

function openFlags(options: BoundedReadOptions): number {
  return (
    constants.O_RDONLY |
    constants.O_NONBLOCK |
    constants.O_NOCTTY |
    (options.noFollow ? constants.O_NOFOLLOW : 0)
  );
}

/** Read the file at `path`; throws SourceError (E_SOURCE_NOT_FOUND, _NOT_A_FILE, _TOO_LARGE, _UNREADABLE). */
export async function readFileBounded(path: string, options: BoundedReadOptions): Promise<Buffer> {
  checkKind(path, await stat(path).catch(rethrow(path, options)), options);
  const handle = await open(path, openFlags(options)).catch(rethrow(path, options));
  try {
    checkKind(path, await handle.stat(), options);
    const collected = new BoundedChunks(path, options);
    for (let chunk = collected.next(); ; chunk = collected.next()) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (!collected.take(chunk, bytesRead)) return collected.all();
    }
  } finally {
    await handle.close();
  }
}

/** The same for callers that cannot wait (loading jarvis.yml before anything else starts). */
export function readFileBoundedSync(path: string, options: BoundedReadOptions): Buffer {
  try {
    checkKind(path, statSync(path), options);
  } catch (err) {
    rethrow(path, options)(err);
  }
  let fd: number;
  try {
    fd = openSync(path, openFlags(options));
  } catch (err) {
    return rethrow(path, options)(err);
  }
  try {
    checkKind(path, fstatSync(fd), options);
    const collected = new BoundedChunks(path, options);
    for (let chunk = collected.next(); ; chunk = collected.next()) {
      if (!collected.take(chunk, readSync(fd, chunk, 0, chunk.length, null))) return collected.all();
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The chunks read so far, for the async and the sync reader alike: each chunk asks at most one
 * byte past the limit, so a file that grew (or a device) is refused without reading further.
 */
class BoundedChunks {
  private readonly chunks: Buffer[] = [];
  private total = 0;

  constructor(
    private readonly path: string,
    private readonly options: BoundedReadOptions,
  ) {}

  next(): Buffer {
    return Buffer.alloc(Math.min(CHUNK_BYTES, this.options.maxBytes + 1 - this.total));
  }

  /** Keep what a read put in `chunk`; false at the end of the file. */
  take(chunk: Buffer, bytesRead: number): boolean {
    if (bytesRead === 0) return false;
    this.chunks.push(chunk.subarray(0, bytesRead));
    this.total += bytesRead;
    if (this.total > this.options.maxBytes) throw grewTooLarge(this.path, this.options);
    return true;
  }

  all(): Buffer {
    return Buffer.concat(this.chunks, this.total);
  }
}

function checkKind(path: string, info: Stats, options: BoundedReadOptions): void {
  const shown = options.shownAs ?? path;
  if (info.isDirectory()) {
    throw new SourceError(
      "E_SOURCE_NOT_A_FILE",
      `${shown} is a directory; name the ${options.what} in it (e.g. ${shown.replace(/\/$/, "")}/loki.yml)`,
    );
  }
  if (!info.isFile()) {
    throw new SourceError(
      "E_SOURCE_NOT_A_FILE",
      `${shown} is not a regular file (a device, socket or pipe); name a ${options.what}`,
    );
  }
  if (info.size > options.maxBytes) {
    throw new SourceError(
      "E_SOURCE_TOO_LARGE",
      `${shown} is ${info.size} bytes, over the ${options.what} size limit of ${options.maxBytes} bytes; is this the right file? (docs/limits.md says how to raise the limit)`,
    );
  }
}

function grewTooLarge(path: string, options: BoundedReadOptions): SourceError {
  return new SourceError(
    "E_SOURCE_TOO_LARGE",
    `${options.shownAs ?? path} grew past the ${options.what} size limit of ${options.maxBytes} bytes while being read`,
  );
}

/** Turn a failed stat/open into the typed error; JarvisErrors pass through. */
function rethrow(path: string, options: BoundedReadOptions): (err: unknown) => never {
  return (err) => {
    if (err instanceof SourceError) throw err;
    throw fsError(path, options, err as NodeJS.ErrnoException);
  };
}

function fsError(path: string, options: BoundedReadOptions, err: NodeJS.ErrnoException): SourceError {
  const { what, shownAs: shown = path } = options;
  switch (err.code) {
    case "ENOENT":
    case "ENOTDIR":
      return new SourceError(
        "E_SOURCE_NOT_FOUND",
        `${what} ${shown} does not exist${shown === path ? "" : ` (looked for ${path})`}; check the path`,
        { cause: err },
      );
    case "EACCES":
    case "EPERM":
      return new SourceError(
        "E_SOURCE_UNREADABLE",
        `${what} ${shown} cannot be read (permission denied); check its mode and owner`,
        { cause: err },
      );
    case "ELOOP":
      return new SourceError(
        "E_SOURCE_UNREADABLE",
        `${what} ${shown} is a symbolic link that loops (or a link where none is allowed); point it at a file`,
        { cause: err },
      );
    case "ENAMETOOLONG":
      return new SourceError("E_SOURCE_UNREADABLE", `${what} path is too long; check the path`, {
        cause: err,
      });
    default:
      return new SourceError(
        "E_SOURCE_UNREADABLE",
        `${what} ${shown} cannot be read (${err.code ?? err.message})`,
        {
          cause: err,
        },
      );
  }
}
