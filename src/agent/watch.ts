/**
 * agent.yml `watch:`: files and folders (recursively) whose changes become `file_changed` events.
 * A burst of writes (an editor saving, a package unpacking) settles into one event per changed
 * file once the path has been quiet for `settleMs`. Every second (and at once on a rename) the
 * watched path is looked at: one that disappeared is watched again when it comes back, and
 * reported as changed, since whatever is there now is new; one replaced by another inode (editors
 * save by renaming a new file over the old one, and a watch follows the inode) is watched anew.
 */
import { statSync, watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { join } from "node:path";
import { setInterval as every } from "node:timers/promises";

/** How often a watched path is looked at: gone, back, or replaced. */
const CHECK_MS = 1000;
/** Most files one settled burst reports one by one; past it, one event for the watched path. */
export const MAX_PATHS_PER_BURST = 100;

export interface WatchOptions {
  settleMs: number;
  /** The changed paths of one settled burst (absolute; at most MAX_PATHS_PER_BURST). */
  onChange(paths: string[]): void;
  log(line: string): void;
}

export interface Watching {
  close(): void;
}

export function watchPaths(paths: readonly string[], options: WatchOptions): Watching {
  const watchers = paths.map((root) => new PathWatcher(root, options));
  for (const w of watchers) w.start();
  return { close: () => watchers.forEach((w) => w.close()) };
}

class PathWatcher {
  private watcher: FSWatcher | undefined;
  /** The watched path's identity when the watch was made: a different one is a new file or folder. */
  private watchedId: string | undefined;
  private readonly pending = new Set<string>();
  private settle: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly root: string,
    private readonly o: WatchOptions,
  ) {}

  start(): void {
    if (!this.arm()) this.o.log(`watch: ${this.root} does not exist (yet); watching for it to appear`);
    void this.checkEverySecond();
  }

  close(): void {
    this.stopping.abort();
    this.watcher?.close();
    clearTimeout(this.settle);
  }

  /** Watch the path if it is there; false when it is not. */
  private arm(): boolean {
    const found = inode(this.root);
    if (!found) return false;
    const watcher = watch(this.root, { recursive: found.directory, persistent: false });
    watcher.on("change", (type, name) =>
      this.changed(type, found.directory, name === null ? "" : String(name)),
    );
    watcher.on("error", (err) => {
      // The path went away under the watch (or became unreadable): the next check looks again.
      this.o.log(`watch: ${this.root}: ${err.message}; watching for it to come back`);
      this.disarm();
    });
    this.watcher = watcher;
    this.watchedId = found.id;
    return true;
  }

  private disarm(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedId = undefined;
  }

  private changed(type: string, directory: boolean, name: string): void {
    this.note(directory && name !== "" ? join(this.root, name) : this.root);
    if (type === "rename") this.check();
  }

  /**
   * Is the watch still on the path? Removed: drop the watch; back, or replaced by another file or
   * folder (a watch follows the inode, not the name): watch it again and report it changed.
   */
  private check(): void {
    if (this.stopping.signal.aborted) return;
    const now = inode(this.root);
    if (now?.id === this.watchedId) return;
    this.disarm();
    if (now && this.arm()) this.note(this.root);
  }

  /** A recursive watch says nothing when its folder is removed or made again: look, too. */
  private async checkEverySecond(): Promise<void> {
    try {
      for await (const _ of every(CHECK_MS, undefined, { signal: this.stopping.signal, ref: false })) {
        this.check();
      }
    } catch (err) {
      if (!this.stopping.signal.aborted) this.o.log(`watch: ${this.root}: ${(err as Error).message}`);
    }
  }

  /** Remember a changed path and (re)start the quiet period. */
  private note(path: string): void {
    this.pending.add(path);
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.flush(), this.o.settleMs);
  }

  private flush(): void {
    const paths = [...this.pending].sort();
    this.pending.clear();
    if (paths.length === 0 || this.stopping.signal.aborted) return;
    this.o.onChange(paths.length > MAX_PATHS_PER_BURST ? [this.root] : paths);
  }
}

/**
 * A path's identity: its inode number and birth time (a folder removed and made again at once
 * often gets the same inode number back, and a recursive watch says nothing of either).
 */
function inode(path: string): { id: string; directory: boolean } | undefined {
  try {
    const stat = statSync(path);
    return { id: `${stat.ino}:${stat.birthtimeMs}`, directory: stat.isDirectory() };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
