/** A throwaway jarvis setup for tests: a temp dir with jarvis.yml, pipelines, designs and a store. */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawn, execFile } from "node:child_process";
import { loadConfig } from "../../src/config.js";
import type { ChildProcess } from "node:child_process";
import type { JarvisConfig } from "../../src/config.js";

/** The repository root. */
export const repoRoot = resolve(import.meta.dirname, "../..");
/** The compiled CLI (tests run after `npm run build`). */
export const cliPath = join(repoRoot, "dist/src/cli/main.js");

/** What makeJarvisEnv builds. */
export interface JarvisEnv {
  dir: string;
  configPath: string;
  config(): JarvisConfig;
  /** Write a file relative to the env dir; returns its path. */
  write(name: string, text: string): string;
  /** Run the CLI to completion. */
  cli(
    args: string[],
    options?: { env?: NodeJS.ProcessEnv },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Start the CLI without waiting (for `start`, or to kill it mid-run). */
  spawnCli(args: string[], options?: { env?: NodeJS.ProcessEnv }): ChildProcess;
}

/** Options: extra jarvis.yml text (appended) and pipelines by name. */
export interface JarvisEnvOptions {
  pipelines?: Record<string, string>;
  extraConfig?: string;
  leaseSeconds?: number;
  /**
   * The `api:` section as YAML lines under it (e.g. `listen: 127.0.0.1:4711`); absent: `api: false`,
   * so tests that start jarvis never contend for the default port 8642.
   */
  api?: string;
  /** The `store:` section (default: a SQLite file in the env dir), e.g. `store:\n  url: postgres://...`. */
  store?: string;
}

/** A fresh temp dir with jarvis.yml using the fixture steps, the repo's steps and pipelines. */
export function makeJarvisEnv(options: JarvisEnvOptions = {}): JarvisEnv {
  const dir = mkdtempSync(join(tmpdir(), "jarvis-test-"));
  mkdirSync(join(dir, "pipelines"));
  for (const [name, text] of Object.entries(options.pipelines ?? {}))
    writeFileSync(join(dir, "pipelines", `${name}.yml`), text);
  const configPath = join(dir, "jarvis.yml");
  writeFileSync(
    configPath,
    [
      options.store ?? `store:\n  path: ${join(dir, "jarvis.sqlite")}`,
      `steps:\n  dirs: [${join(repoRoot, "test/fixtures/steps")}, ${join(repoRoot, "steps")}]`,
      `pipelines:\n  dirs: [${join(dir, "pipelines")}, ${join(repoRoot, "pipelines")}]`,
      `engine:\n  lease_seconds: ${options.leaseSeconds ?? 5}`,
      options.api === undefined ? "api: false" : `api:\n${options.api.replace(/^/gm, "  ")}`,
      options.extraConfig ?? "",
    ].join("\n"),
  );
  const env = (extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
    ...process.env,
    JARVIS_CONFIG: configPath,
    ...extra,
  });
  return {
    dir,
    configPath,
    config: () => loadConfig(configPath),
    write(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cli(args, opts = {}) {
      return new Promise((resolvePromise) => {
        execFile(
          process.execPath,
          [cliPath, ...args],
          { cwd: dir, env: env(opts.env), maxBuffer: 64 * 1024 * 1024 },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
            resolvePromise({ code, stdout, stderr });
          },
        );
      });
    },
    spawnCli(args, opts = {}) {
      return spawn(process.execPath, [cliPath, ...args], {
        cwd: dir,
        env: env(opts.env),
        stdio: ["ignore", "pipe", "pipe"],
      });
    },
  };
}

/** A minimal valid design for host `name`. */
export function designFor(name: string, extra = ""): string {
  return `instance:\n  hostname: ${name}\n  provider: local\n${extra}`;
}
