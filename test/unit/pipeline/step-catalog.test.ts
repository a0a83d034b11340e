import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineError } from "../../../src/errors.js";
import { createStepCatalog, splitUses } from "../../../src/pipeline/step-catalog.js";
import { providerOf } from "../../../src/providers/host-address.js";
import { PROVIDER_TASKS } from "../../../src/providers/provider.js";
import { builtinProviders } from "../../../src/providers/registry.js";
import { builtinWorkers } from "../../../src/workers/registry.js";

let root: string;
let one: string;
let two: string;

function script(dir: string, name: string, mode = 0o755, body = "#!/bin/sh\n# a test step\ncat\n"): string {
  const path = join(dir, name);
  writeFileSync(path, body);
  chmodSync(path, mode);
  return path;
}

function refusal(run: () => unknown): PipelineError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineError);
    return err as PipelineError;
  }
  throw new Error("expected a PipelineError");
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "jarvis-steps-"));
  one = join(root, "one");
  two = join(root, "two");
  mkdirSync(one);
  mkdirSync(two);
  script(one, "plain");
  script(
    one,
    "withext.py",
    0o755,
    "#!/usr/bin/python3\n# -*- coding: utf-8 -*-\n# collects facts in Python\n",
  );
  script(one, "noexec", 0o644);
  mkdirSync(join(one, "adir"));
  script(one, "amb.sh");
  script(one, "amb.py");
  script(one, "both");
  script(one, "both.sh");
  script(one, "demo"); // shadowed by the built-in demo module
  script(one, "two.dots.sh");
  script(one, ".hidden");
  script(two, "plain"); // shadowed by the one in the first dir
  script(two, "onlytwo", 0o755, "#!/bin/sh\ncat\n");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("step catalog: built-in modules", () => {
  const catalog = createStepCatalog({ stepsDirs: [] });

  it("resolves a built-in worker to node and its compiled file in dist/", () => {
    const cmd = catalog.resolve("demo:greet", {});
    expect(cmd).toEqual({
      module: "demo",
      task: "greet",
      command: process.execPath,
      args: [resolve("dist/src/workers/demo.js"), "greet"],
      kind: "builtin",
    });
  });

  it("checks built-in tasks", () => {
    expect(catalog.check("demo", "flaky")).toBeUndefined();
    expect(catalog.check("demo", "gret")).toBe(
      "module 'demo' has no task 'gret' (tasks: greet, flaky, slow, fail)",
    );
    expect(refusal(() => catalog.resolve("demo:gret", {})).code).toBe("E_STEP_UNKNOWN");
  });

  it("names the built-in modules and the steps dirs for an unknown module", () => {
    const names = [...Object.keys(builtinWorkers), "provider", ...Object.keys(builtinProviders)].sort();
    expect(catalog.check("dnss", "update")).toBe(
      `no step module 'dnss' (built-in: ${names.join(", ")}; steps dirs: none configured)`,
    );
    const withDirs = createStepCatalog({ stepsDirs: [one, two] });
    expect(withDirs.check("dnss", "update")).toMatch(new RegExp(`steps dirs: ${one}, ${two}\\)$`));
  });

  it("refuses names that could point outside the steps dirs", () => {
    expect(catalog.check("../bin/sh", "x")).toMatch(/not a module name/);
    expect(catalog.check("demo", "../x")).toMatch(/not a task name/);
    expect(splitUses("a/b:c")).toBeUndefined();
    expect(splitUses("demo")).toBeUndefined();
    expect(splitUses("demo:greet")).toEqual({ module: "demo", task: "greet" });
    expect(refusal(() => catalog.resolve("demo", {})).message).toMatch(/not of the form module:task/);
  });
});

describe("step catalog: providers", () => {
  const catalog = createStepCatalog({ stepsDirs: [] });
  const providers = Object.keys(builtinProviders);

  it("accepts the provider tasks at load, whatever the design will say", () => {
    for (const task of PROVIDER_TASKS) expect(catalog.check("provider", task)).toBeUndefined();
    expect(catalog.check("provider", "reboot")).toBe(
      `module 'provider' has no task 'reboot' (tasks: ${PROVIDER_TASKS.join(", ")})`,
    );
  });

  it("takes the provider from the clipboard's instance.provider, default local", () => {
    expect(providerOf({})).toBe("local");
    expect(providerOf({ instance: { hostname: "loki" } })).toBe("local");
    expect(providerOf({ instance: { provider: "linode" } })).toBe("linode");
    expect(providerOf({ instance: "odd" })).toBe("local");
    expect(providers).toContain("local");
    for (const name of providers) {
      const cmd = catalog.resolve("provider:deploy", { instance: { provider: name } });
      expect(cmd.module).toBe(name);
      expect(cmd.task).toBe("deploy");
      expect(cmd.command).toBe(process.execPath);
      expect(cmd.args).toEqual([resolve("dist/src/providers", builtinProviders[name]!.file), "deploy"]);
    }
    expect(catalog.resolve("provider:status", { instance: { hostname: "loki" } }).module).toBe("local");
  });

  it("an unknown provider names the providers there are", () => {
    const err = refusal(() => catalog.resolve("provider:deploy", { instance: { provider: "digitalocean" } }));
    expect(err.code).toBe("E_STEP_UNKNOWN_PROVIDER");
    expect(err.message).toContain(`instance.provider is 'digitalocean'`);
    expect(err.message).toContain(`(providers: ${[...providers].sort().join(", ")})`);
    // Only a real own key counts: an inherited name is not a provider.
    expect(
      refusal(() => catalog.resolve("provider:deploy", { instance: { provider: "constructor" } })).code,
    ).toBe("E_STEP_UNKNOWN_PROVIDER");
  });

  it("named providers are modules of their own", () => {
    expect(catalog.check("local", "deploy")).toBeUndefined();
    expect(catalog.check("local", "boot")).toMatch(/module 'local' has no task 'boot'/);
  });
});

describe("step catalog: external steps", () => {
  const catalog = (): ReturnType<typeof createStepCatalog> => createStepCatalog({ stepsDirs: [one, two] });

  it("resolves an executable `m` or `m.<ext>`, with the task as its argument; any task goes", () => {
    expect(catalog().resolve("plain:whatever", {})).toEqual({
      module: "plain",
      task: "whatever",
      command: join(one, "plain"),
      args: ["whatever"],
      kind: "external",
    });
    expect(catalog().resolve("withext:collect", {}).command).toBe(join(one, "withext.py"));
    expect(catalog().check("withext", "anything.at-all")).toBeUndefined();
  });

  it("the first dir wins, later dirs are searched too", () => {
    expect(catalog().resolve("plain:x", {}).command).toBe(join(one, "plain"));
    expect(catalog().resolve("onlytwo:x", {}).command).toBe(join(two, "onlytwo"));
    expect(createStepCatalog({ stepsDirs: [two, one] }).resolve("plain:x", {}).command).toBe(
      join(two, "plain"),
    );
  });

  it("respects the executable bit and says how to fix it", () => {
    expect(catalog().check("noexec", "x")).toBe(
      `${join(one, "noexec")} is not executable; run: chmod +x ${join(one, "noexec")}`,
    );
    expect(refusal(() => catalog().resolve("noexec:x", {})).code).toBe("E_STEP_UNKNOWN");
    expect(catalog().check("adir", "x")).toMatch(/is not a regular file/);
  });

  it("refuses two extensions of one module, prefers the bare name", () => {
    expect(catalog().check("amb", "x")).toBe(
      `step module 'amb' is ambiguous in ${one}: amb.py, amb.sh; keep one of them`,
    );
    expect(catalog().resolve("both:x", {}).command).toBe(join(one, "both"));
  });

  it("built-in names win over external ones", () => {
    expect(catalog().resolve("demo:greet", {}).kind).toBe("builtin");
    expect(catalog().check("demo", "custom")).toMatch(/module 'demo' has no task 'custom'/);
  });

  it("ignores names with two dots and hidden files", () => {
    expect(catalog().check("two", "x")).toMatch(/no step module 'two'/);
    expect(catalog().check("hidden", "x")).toMatch(/no step module 'hidden'/);
  });

  it("sees steps added and removed after the catalog was built", () => {
    const cat = catalog();
    expect(cat.check("later", "x")).toMatch(/no step module 'later'/);
    const path = script(two, "later.sh");
    expect(cat.resolve("later:x", {}).command).toBe(path);
    rmSync(path);
    expect(cat.check("later", "x")).toMatch(/no step module 'later'/);
  });

  it("lists built-in, provider and external modules with summaries", () => {
    const modules = catalog().modules();
    const byName = new Map(modules.map((m) => [m.name, m]));
    expect(byName.get("demo")).toMatchObject({ kind: "builtin", tasks: ["greet", "flaky", "slow", "fail"] });
    expect(byName.get("provider")).toMatchObject({ kind: "provider", tasks: PROVIDER_TASKS });
    expect(byName.get("local")?.kind).toBe("provider");
    expect(byName.get("plain")).toEqual({
      name: "plain",
      kind: "external",
      tasks: "any",
      summary: "a test step",
    });
    expect(byName.get("withext")?.summary).toBe("collects facts in Python");
    expect(byName.get("onlytwo")?.summary).toBe("external step onlytwo");
    for (const hidden of ["noexec", "adir", "amb", "two", "hidden"])
      expect(byName.has(hidden), hidden).toBe(false);
    expect(modules.filter((m) => m.name === "demo")).toHaveLength(1);
    expect(modules.filter((m) => m.name === "plain")).toHaveLength(1);
    expect(
      modules.every(
        (m) =>
          m.kind !== "builtin" ||
          isAbsolute(
            createStepCatalog({ stepsDirs: [] }).resolve(`${m.name}:${String((m.tasks as string[])[0])}`, {})
              .args[0]!,
          ),
      ),
    ).toBe(true);
  });
});
