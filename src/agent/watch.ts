/**
 * agent.yml `watch:`: files and folders (recursively) whose changes become `file_changed` events.
 * A burst of writes (an editor saving, a package unpacking) settles into one event per changed
 * file once the path has been quiet for `settleMs`. A watched path that disappears is looked for
 * again every second; when it comes back it is watched again and reported as changed, since
 * whatever is there now is new. Editors that save by renaming a new file over the old one leave a
 * watch on the old inode: a rename of the watched file itself re-arms the watch the same way.
 */
import { existsSync, statSync, watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { join } from "node:path";
import { setInterval as every } from "node:timers/promises";

/** How often a missing watched path is looked for. */
const REAPPEAR_POLL_MS = 1000;
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
  private readonly pending = new Set<string>();
  private settle: NodeJS.Timeout | undefined;
  private polling: AbortController | undefined;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly o: WatchOptions,
  ) {}

  start(): void {
    if (!this.arm()) {
      this.o.log(`watch: ${this.root} does not exist (yet); watching for it to appear`);
      this.pollForReturn();
    }
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.polling?.abort();
    clearTimeout(this.settle);
  }

  /** Watch the path if it is there; false when it is not. */
  private arm(): boolean {
    let directory: boolean;
    try {
      directory = statSync(this.root).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
    const watcher = watch(this.root, { recursive: directory, persistent: false });
    watcher.on("change", (type, name) => this.changed(type, directory, name === null ? "" : String(name)));
    watcher.on("error", (err) => {
      // The path went away under the watch (or became unreadable): look for it again.
      this.o.log(`watch: ${this.root}: ${err.message}; watching for it to come back`);
      this.lost();
    });
    this.watcher = watcher;
    return true;
  }

  private changed(type: string, directory: boolean, name: string): void {
    this.note(directory && name !== "" ? join(this.root, name) : this.root);
    if (type !== "rename") return;
    // The watched path itself renamed or removed: the watch no longer sees it.
    if (!existsSync(this.root)) this.lost();
    else if (!directory) this.rearm();
  }

  private rearm(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (!this.closed && !this.arm()) this.pollForReturn();
  }

  private lost(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (!this.closed) this.pollForReturn();
  }

  private pollForReturn(): void {
    if (this.polling && !this.polling.signal.aborted) return;
    const polling = new AbortController();
    this.polling = polling;
    void (async () => {
      try {
        for await (const _ of every(REAPPEAR_POLL_MS, undefined, { signal: polling.signal, ref: false })) {
          if (this.watcher === undefined && this.arm()) {
            this.note(this.root);
            polling.abort();
          }
        }
      } catch (err) {
        if (!polling.signal.aborted) this.o.log(`watch: ${this.root}: ${(err as Error).message}`);
      }
    })();
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
    if (paths.length === 0 || this.closed) return;
    this.o.onChange(paths.length > MAX_PATHS_PER_BURST ? [this.root] : paths);
  }
}
