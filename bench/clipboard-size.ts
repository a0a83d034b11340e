/**
 * Clipboard size: a 5 MB clipboard through 20 trivial steps; time per step against js-yaml's own
 * parse and dump of the same YAML, measured in the same run (the least any step protocol over
 * YAML has to pay), and against the `yaml` package's parse and dump (the hot path until js-yaml).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { load, dump, CORE_SCHEMA } from "js-yaml";
import { parse, stringify } from "yaml";
import { dumpYaml } from "../src/clipboard/yaml.js";
import { benchJarvis, median, report, timed } from "./lib.js";

const STEPS = 20;
const who = { identity: "bench", origin: "bench" };

/** Run the clipboard-size benchmark and print its figures. */
export async function benchClipboardSize(): Promise<void> {
  // Each step adds a key, so every output is new: parsed, checked and stored like real work.
  const pipeline = `steps:\n${Array.from({ length: STEPS }, (_, i) => `  - stamp:${i}\n`).join("")}`;
  const { jarvis, dir, cleanup } = await benchJarvis({ big: pipeline });
  try {
    const inventory: Record<string, unknown> = {};
    for (let i = 0; i < 50_000; i++) {
      inventory[`pkg${i}`] = {
        version: `1.${i}.0`,
        arch: "amd64",
        description: "a package of the host's inventory",
      };
    }
    const yaml = dumpYaml({ instance: { hostname: "bigloki" }, inventory });
    const design = join(dir, "bigloki.yml");
    writeFileSync(design, yaml);
    // The median of three, after a warm-up: the machine is shared.
    const jsYamlRounds: number[] = [];
    for (let round = 0; round <= 3; round++) {
      const ms = await timed(async () => {
        dump(load(yaml, { schema: CORE_SCHEMA }), { noRefs: true, lineWidth: -1 });
      });
      if (round > 0) jsYamlRounds.push(ms);
    }
    const floor = median(jsYamlRounds);
    const yamlPackage = await timed(async () => {
      stringify(parse(yaml, { schema: "core", uniqueKeys: false }), {
        aliasDuplicateObjects: false,
        lineWidth: 0,
      });
    });
    const measured = await timed(async () => {
      const run = await jarvis.control.start("big", design, who, { foreground: true });
      const final = await jarvis.engine.execute(run.id);
      if (final.state !== "succeeded") throw new Error(`bench run failed: ${final.error?.message}`);
    });
    console.log(`clipboard of ${(Buffer.byteLength(yaml) / 1024 / 1024).toFixed(1)} MB`);
    report(`per step, ${STEPS} steps (vs js-yaml parse+dump)`, measured / STEPS, floor, "ms", "<= 1.5x");
    report("  `yaml` package parse+dump (vs js-yaml)", yamlPackage, floor, "ms", "for reference");
  } finally {
    await cleanup();
  }
}
