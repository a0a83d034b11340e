/**
 * A node's whole fact set: built-in system facts, static facts from agent.yml, and the output of
 * each executable in facts.d (JSON or YAML) under the executable's name. Hashed, so the agent
 * publishes only when something changed.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, constants, readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { load } from "js-yaml";
import type { FactValue, Facts } from "../inventory/node-view.js";
import { systemFacts } from "./system-facts.js";

const run = promisify(execFile);

export interface FactSources {
  static: Record<string, unknown>;
  dir: string | undefined;
  system: boolean;
}

/** Collect every fact; a facts.d program that fails is reported under its name as `{error}`. */
export async function collectFacts(sources: FactSources, base?: Facts): Promise<Facts> {
  const facts: Facts = { ...(base ?? (await systemFacts({ system: sources.system }))) };
  for (const [key, value] of Object.entries(sources.static)) facts[key] = toFactValue(value);
  if (sources.dir) Object.assign(facts, await factsDirectory(sources.dir));
  return facts;
}

/** A stable hash of facts: keys sorted, so the same facts always hash the same. */
export function factsHash(facts: Facts): string {
  return createHash("sha256").update(stableJson(facts)).digest("hex").slice(0, 32);
}

async function factsDirectory(dir: string): Promise<Facts> {
  const out: Facts = {};
  const names = await readdir(dir).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  });
  for (const name of names.sort()) {
    const file = join(dir, name);
    if (name.startsWith(".") || !(await executable(file))) continue;
    const key = basename(name).replace(/\.[A-Za-z0-9]+$/, "");
    try {
      const { stdout } = await run(file, [], { timeout: 30_000, maxBuffer: 4 * 1024 * 1024 });
      out[key] = toFactValue(load(stdout, { json: true }));
    } catch (err) {
      out[key] = { error: (err as Error).message.split("\n")[0] ?? "failed" };
    }
  }
  return out;
}

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** YAML may hold dates and other non-JSON values: facts keep only what JSON can say. */
function toFactValue(value: unknown): FactValue {
  return JSON.parse(JSON.stringify(value ?? null)) as FactValue;
}

function stableJson(value: FactValue): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(value[k]!)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
