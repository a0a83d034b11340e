/** Commands for people writing designs, pipelines and steps: validate, step. */
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { parseYamlMapping, dumpYaml } from "../clipboard/yaml.js";
import { loadParsedDesigns } from "../clipboard/load-design.js";
import { readFileBounded } from "../io/bounded-read.js";
import { redactorForConfig } from "../clipboard/config-redactor.js";
import { diffClipboards, formatDiff } from "../clipboard/diff.js";
import { parsePipeline } from "../pipeline/pipeline-file.js";
import { createStepCatalog } from "../pipeline/step-catalog.js";
import { prepareStep } from "../pipeline/step-environment.js";
import { runStepAttempt } from "../pipeline/step-runner.js";
import { JarvisError } from "../errors.js";
import { EXIT } from "./exit-codes.js";
import { defineCommand, usageError } from "./command.js";
import type { CliCommand } from "./command.js";

/** validate, step. */
export const toolCommands: Record<string, CliCommand> = {
  validate: defineCommand({
    usage: "validate <pipeline-or-design-file>",
    summary: "check a pipeline or design file; errors name the line and the field",
    options: {},
    run: async (ctx) => {
      const [file] = ctx.args;
      if (!file || ctx.args.length > 1) throw usageError("validate takes one file");
      const config = ctx.config();
      // Designs are the larger kind; parsePipeline holds a pipeline to its own, smaller limit.
      const { maxBytes } = config.designs;
      const text = await readFileBounded(file, { maxBytes, what: "design or pipeline file" });
      const parsed = parseYamlMapping(text, file, { maxBytes });
      if ("steps" in parsed.value) {
        const pipeline = parsePipeline(text, file, createStepCatalog({ stepsDirs: config.steps.dirs }));
        ctx.out(
          `${file}: pipeline ${pipeline.name} is valid (${pipeline.steps.length} steps, ${pipeline.onFailure.length} on_failure)`,
        );
        return EXIT.ok;
      }
      // The same checks as a run's, clusters (`instances:`) included.
      const members = loadParsedDesigns(parsed);
      ctx.out(
        members.length === 1 && parsed.value.instances === undefined
          ? `${file}: design of host ${members[0]!.host} is valid`
          : `${file}: cluster design of ${members.length} hosts is valid (in order: ${members.map((m) => m.host).join(", ")})`,
      );
      return EXIT.ok;
    },
  }),
  step: defineCommand({
    usage: "step <module:task> [--clipboard FILE] [--with JSON] [--output FILE]",
    summary:
      "run one step alone on a clipboard (a design or saved snapshot); print the new clipboard and the diff",
    options: {
      clipboard: { type: "string" },
      with: { type: "string" },
      output: { type: "string", short: "o" },
    },
    run: async (ctx) => {
      const [uses] = ctx.args;
      if (!uses || ctx.args.length > 1) throw usageError("step takes one module:task");
      const config = ctx.config();
      const { maxBytes } = config.designs;
      const input =
        ctx.flags.clipboard !== undefined
          ? (await readFileBounded(ctx.flags.clipboard, { maxBytes, what: "clipboard file" })).toString(
              "utf8",
            )
          : "{}\n";
      const clipboard = parseYamlMapping(input, ctx.flags.clipboard ?? "empty clipboard", { maxBytes }).value;
      let params: Record<string, unknown> = {};
      if (ctx.flags.with !== undefined) {
        try {
          params = JSON.parse(ctx.flags.with) as Record<string, unknown>;
        } catch (e) {
          throw usageError(`--with must be a JSON object: ${(e as Error).message}`);
        }
        if (!params || typeof params !== "object" || Array.isArray(params))
          throw usageError("--with must be a JSON object");
      }
      const resolver = createStepCatalog({ stepsDirs: config.steps.dirs });
      const [module = "", task = ""] = uses.split(":");
      const reason = resolver.check(module, task);
      if (reason) throw new JarvisError("E_STEP_UNKNOWN", `${uses}: ${reason}`);
      const prepared = prepareStep(config, resolver, { uses, with: params }, clipboard, "");
      const redactor = redactorForConfig(config).learn([clipboard, params]);
      const result = await runStepAttempt({
        step: uses,
        command: prepared.command.command,
        args: prepared.command.args,
        env: prepared.env,
        cwd: config.baseDir,
        input,
        timeoutMs: 10 * 60_000,
        maxOutputBytes: 64 * 1024 * 1024,
        onLine: (line) => ctx.err(`  ${redactor.text(line)}`),
      });
      if (result.kind !== "ok") {
        const message =
          result.kind === "failed"
            ? `${redactor.text(result.error.message)}${result.retryable ? " (retryable)" : ""}`
            : "cancelled";
        ctx.err(`jarvis step: ${uses} failed: ${message}`);
        return EXIT.runFailed;
      }
      const after = result.clipboard ?? clipboard;
      if (ctx.flags.output !== undefined)
        writeFileSync(ctx.flags.output, result.output ?? input, { mode: 0o600 });
      ctx.out(dumpYaml(redactor.value(after)).trimEnd());
      ctx.err(
        `--- diff (${basename(uses)}, ${result.durationMs} ms)\n${formatDiff(diffClipboards(clipboard, after), redactor.learn(after))}`,
      );
      return EXIT.ok;
    },
  }),
};
