/**
 * Clipboard size: a 5 MB clipboard through 20 trivial steps; time per step against parsing and
 * dumping the same YAML once (the least any step protocol over YAML has to pay).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseYamlMapping, dumpYaml } from "../src/clipboard/yaml.js";
import { benchJarvis, report, timed } from "./lib.js";

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
    const floor = await timed(async () => {
      dumpYaml(parseYamlMapping(yaml, "bench").value);
    });
    const measured = await timed(async () => {
      const run = await jarvis.control.start("big", design, who, { foreground: true });
      const final = await jarvis.engine.execute(run.id);
      if (final.state !== "succeeded") throw new Error(`bench run failed: ${final.error?.message}`);
    });
    console.log(`clipboard of ${(Buffer.byteLength(yaml) / 1024 / 1024).toFixed(1)} MB`);
    report(`per step, ${STEPS} steps (vs parse+dump once)`, measured / STEPS, floor, "ms", "close to 1x");
  } finally {
    await cleanup();
  }
}
