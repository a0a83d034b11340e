/**
 * Which program runs a step `module:task`: a built-in worker (src/workers/registry.ts), a provider
 * (src/providers/registry.ts, or the pseudo-module `provider` chosen by the design's
 * `instance.provider`), or an executable `module` / `module.<ext>` in a steps directory.
 * Built-in names win over external ones. The steps directories are read on every lookup (a cheap
 * readdir), so a step dropped in while jarvis runs is found without a restart.
 */
import { accessSync, constants, closeSync, openSync, readSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PipelineError } from "../errors.js";
import { PROVIDER_TASKS } from "../providers/provider.js";
import { DEFAULT_PROVIDER, providerOf } from "../providers/host-address.js";
import { builtinProviders } from "../providers/registry.js";
import { builtinWorkers } from "../workers/registry.js";
import type { BuiltinModule } from "../workers/registry.js";
import { PROVIDER_MODULE } from "./pipeline.js";
import { checkStepParams } from "./step-params.js";
import type { StepCatalog } from "./pipeline.js";

/** How to start one step: `command args...`, with the task as the last argument. */
export interface StepCommand {
  module: string;
  task: string;
  command: string;
  args: string[];
  kind: "builtin" | "external";
}

/** One module as `jarvis pipelines` and the README list it. */
export interface ModuleInfo {
  name: string;
  kind: "builtin" | "provider" | "external";
  tasks: readonly string[] | "any";
  summary: string;
}

/** A StepCatalog that can also say how to start a step and list what exists. */
export interface StepResolver extends StepCatalog {
  /** The command for `uses` on this clipboard; throws PipelineError when nothing provides it. */
  resolve(uses: string, clipboard: Record<string, unknown>): StepCommand;
  /** Every module there is, built-in first, then providers, then external ones. */
  modules(): ModuleInfo[];
}

/** Options for createStepCatalog. */
export interface StepCatalogOptions {
  /** Directories searched, in order, for external step executables. */
  stepsDirs: string[];
}

/** Allowed module and task names; keeps `uses` from pointing outside the steps directories. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const TASK = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Split `module:task`, or undefined when `uses` is not of that form. */
export function splitUses(uses: string): { module: string; task: string } | undefined {
  const at = uses.indexOf(":");
  if (at < 0) return undefined;
  const module = uses.slice(0, at);
  const task = uses.slice(at + 1);
  return NAME.test(module) && TASK.test(task) ? { module, task } : undefined;
}

/** Build the catalog over the built-in registries and the given steps directories. */
export function createStepCatalog(options: StepCatalogOptions): StepResolver {
  const stepsDirs = [...options.stepsDirs];
  const workersDir = compiledDir("workers");
  const providersDir = compiledDir("providers");

  const builtin = (module: string): { mod: BuiltinModule; dir: URL; provider: boolean } | undefined => {
    if (Object.hasOwn(builtinWorkers, module))
      return { mod: builtinWorkers[module]!, dir: workersDir, provider: false };
    if (Object.hasOwn(builtinProviders, module))
      return { mod: builtinProviders[module]!, dir: providersDir, provider: true };
    return undefined;
  };
  const tasksOf = (b: { mod: BuiltinModule; provider: boolean }): readonly string[] =>
    b.provider && b.mod.tasks.length === 0 ? PROVIDER_TASKS : b.mod.tasks;

  const unknownModule = (module: string): string => {
    const names = [...Object.keys(builtinWorkers), PROVIDER_MODULE, ...Object.keys(builtinProviders)].sort();
    const dirs = stepsDirs.length ? stepsDirs.join(", ") : "none configured";
    return `no step module '${module}' (built-in: ${names.join(", ")}; steps dirs: ${dirs})`;
  };

  const check = (module: string, task: string): string | undefined => {
    if (!NAME.test(module)) return `'${module}' is not a module name (letters, digits, '_' and '-')`;
    if (!TASK.test(task)) return `'${task}' is not a task name (letters, digits, '_', '-' and '.')`;
    if (module === PROVIDER_MODULE) {
      return (PROVIDER_TASKS as readonly string[]).includes(task)
        ? undefined
        : `module '${PROVIDER_MODULE}' has no task '${task}' (tasks: ${PROVIDER_TASKS.join(", ")})`;
    }
    const b = builtin(module);
    if (b) {
      const tasks = tasksOf(b);
      return tasks.includes(task)
        ? undefined
        : `module '${module}' has no task '${task}' (tasks: ${tasks.join(", ")})`;
    }
    const found = findExternal(stepsDirs, module);
    if (found.kind === "found") return undefined;
    if (found.kind === "problem") return found.reason;
    return unknownModule(module);
  };

  const resolve = (uses: string, clipboard: Record<string, unknown>): StepCommand => {
    const parts = splitUses(uses);
    if (!parts) {
      throw new PipelineError(
        "E_STEP_UNKNOWN",
        `step '${uses}' is not of the form module:task (e.g. demo:greet)`,
      );
    }
    let { module } = parts;
    const { task } = parts;
    if (module === PROVIDER_MODULE) {
      module = providerOf(clipboard);
      if (!Object.hasOwn(builtinProviders, module)) {
        const known = Object.keys(builtinProviders).sort();
        throw new PipelineError(
          "E_STEP_UNKNOWN_PROVIDER",
          `step ${uses}: the design's instance.provider is '${module}', but there is no such provider ` +
            `(providers: ${known.length ? known.join(", ") : "none"}); fix instance.provider in the design`,
        );
      }
    }
    const b = builtin(module);
    if (b) {
      const reason = check(module, task);
      if (reason) throw new PipelineError("E_STEP_UNKNOWN", `step ${uses}: ${reason}`);
      const file = fileURLToPath(new URL(b.mod.file, b.dir));
      return { module, task, command: process.execPath, args: [file, task], kind: "builtin" };
    }
    // One directory scan per external step: this runs for every step of every run.
    const found = findExternal(stepsDirs, module);
    if (found.kind === "problem") throw new PipelineError("E_STEP_UNKNOWN", `step ${uses}: ${found.reason}`);
    if (found.kind === "none")
      throw new PipelineError("E_STEP_UNKNOWN", `step ${uses}: ${unknownModule(module)}`);
    return { module, task, command: found.path, args: [task], kind: "external" };
  };

  const modules = (): ModuleInfo[] => {
    const out: ModuleInfo[] = [];
    for (const [name, mod] of Object.entries(builtinWorkers))
      out.push({ name, kind: "builtin", tasks: mod.tasks, summary: mod.summary });
    out.push({
      name: PROVIDER_MODULE,
      kind: "provider",
      tasks: PROVIDER_TASKS,
      summary: `the provider the design names in instance.provider (default ${DEFAULT_PROVIDER})`,
    });
    for (const [name, mod] of Object.entries(builtinProviders)) {
      out.push({
        name,
        kind: "provider",
        tasks: mod.tasks.length ? mod.tasks : PROVIDER_TASKS,
        summary: mod.summary,
      });
    }
    const taken = new Set(out.map((m) => m.name));
    for (const dir of stepsDirs) {
      for (const name of listDir(dir).sort()) {
        const module = moduleName(name);
        if (!module || taken.has(module)) continue;
        const found = findExternal([dir], module);
        if (found.kind !== "found") continue;
        taken.add(module);
        out.push({ name: module, kind: "external", tasks: "any", summary: summaryOf(found.path) });
      }
    }
    return out;
  };

  return { check, checkParams: checkStepParams, resolve, modules };
}

type External = { kind: "found"; path: string } | { kind: "problem"; reason: string } | { kind: "none" };

/** Find `module` or `module.<ext>` in the first steps directory that has one. */
function findExternal(dirs: readonly string[], module: string): External {
  for (const dir of dirs) {
    const names = listDir(dir).filter((n) => n === module || moduleName(n) === module);
    if (names.length === 0) continue;
    // The bare name wins; two extensions of one module in one directory is a mistake to point at.
    const name = names.includes(module) ? module : names.length === 1 ? names[0]! : undefined;
    if (name === undefined) {
      return {
        kind: "problem",
        reason: `step module '${module}' is ambiguous in ${dir}: ${names.sort().join(", ")}; keep one of them`,
      };
    }
    const path = join(dir, name);
    try {
      if (!statSync(path).isFile())
        return {
          kind: "problem",
          reason: `${path} is not a regular file; a step module must be an executable file`,
        };
      accessSync(path, constants.X_OK);
    } catch {
      return { kind: "problem", reason: `${path} is not executable; run: chmod +x ${path}` };
    }
    return { kind: "found", path };
  }
  return { kind: "none" };
}

/** `name` minus one extension (`pyfacts.py` -> `pyfacts`), or undefined for hidden and odd names. */
function moduleName(file: string): string | undefined {
  const dot = file.indexOf(".");
  const base = dot < 0 ? file : file.slice(0, dot);
  if (dot >= 0 && file.indexOf(".", dot + 1) >= 0) return undefined;
  return NAME.test(base) ? base : undefined;
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** First comment line after the shebang of a script, as its one-line summary. */
function summaryOf(path: string): string {
  let head = "";
  try {
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.alloc(2048);
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return `external step ${basename(path)}`;
  }
  for (const line of head.split("\n").slice(0, 10)) {
    const m = /^\s*(?:#|\/\/)(?!!)\s*(.+)$/.exec(line);
    if (m?.[1] && !/-\*-|^\s*$/.test(m[1])) return m[1].trim();
  }
  return `external step ${basename(path)}`;
}

/**
 * The directory of the compiled built-in modules. Steps are forked with plain `node`, no
 * TypeScript loader, so when this file runs from source (under vitest) point at its dist/ twin.
 */
function compiledDir(sub: "workers" | "providers"): URL {
  const here = new URL(".", import.meta.url);
  if (!import.meta.url.endsWith(".ts")) return new URL(`../${sub}/`, here);
  const path = fileURLToPath(here);
  const srcAt = path.lastIndexOf("/src/");
  if (srcAt < 0) return new URL(`../${sub}/`, here);
  return pathToFileURL(`${path.slice(0, srcAt)}/dist/src/${sub}/`);
}
