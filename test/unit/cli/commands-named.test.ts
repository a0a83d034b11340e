/**
 * Messages that tell people to run `jarvis <command>` name a command the CLI has (and, for a
 * command with subcommands such as `job` or `agent`, one of them): an error's advice that leads
 * to "unknown command" is worse than none. Read from the string literals of every file under
 * src/, where a command is quoted (`'jarvis x'`, `` `jarvis x` ``, `<code>jarvis x`) or follows a
 * colon or a bar ("see: jarvis log loki", "jarvis approve ID | jarvis deny ID"); elsewhere
 * "jarvis" is mostly prose ("; jarvis takes exactly one").
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { commands } from "../../../src/cli/command-table.js";

const NAMED = /(?:['`>]|[:|] )jarvis ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g;

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** The text of every string and template literal in a file (comments left out). */
function literals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteralLike(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    )
      found.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/**
 * The literal words a command's usage offers after its name (`job ping|facts|run ... | job status
 * ...`), or undefined when what follows the name is free (`run <pipeline> <source>`).
 */
function subcommands(name: string, usage: string): Set<string> | undefined {
  const alternatives = usage.split(/\s\|\s/).map((a) => a.trim().split(/\s+/));
  const fixed = alternatives.some(([first, second]) => first === name && /^[a-z]/.test(second ?? ""));
  if (!fixed) return undefined;
  return new Set(usage.split(/[\s|"'[\]()]+/).filter((w) => /^[a-z][a-z-]*$/.test(w)));
}

describe("commands named in messages", () => {
  it("are commands the CLI knows", () => {
    const wrong: string[] = [];
    let seen = 0;
    for (const file of sourceFiles("src")) {
      for (const text of literals(file)) {
        for (const [, name = "", sub] of text.matchAll(NAMED)) {
          seen += 1;
          const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
          if (!command) {
            wrong.push(`${file}: jarvis ${name} (no such command)`);
            continue;
          }
          const subs = subcommands(name, command.usage);
          if (sub !== undefined && subs && !subs.has(sub))
            wrong.push(`${file}: jarvis ${name} ${sub} (${name} has no ${sub})`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // The scan finds the pointers it is about (chat's "full log: jarvis log loki on the CLI" ...).
    expect(seen).toBeGreaterThan(10);
  });
});
