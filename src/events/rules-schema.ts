/**
 * jarvis.yml `rules:`: which agents' events start which pipeline on the node they came from.
 *
 *   rules:
 *     - name: nginx-changed
 *       on: {event: file_changed, path: "/etc/nginx/*", where: "group=web"}
 *       run: reconfigure
 *       debounce: 30s
 *       announce: ["irc:#ops"]
 *
 * Checked when jarvis.yml is loaded: unknown keys, a selector that does not parse, a duration
 * that is none and a name used twice are refused with the file and line.
 */
import { z } from "zod";
import { ConfigError, PipelineError, SelectorError } from "../errors.js";
import { EVENT_KIND } from "../agent/protocol.js";
import { globToRegExp } from "../agent/agent-config.js";
import { parseDuration } from "../pipeline/duration.js";
import { parseSelector } from "../inventory/selector-parser.js";
import type { Selector } from "../inventory/selector-parser.js";
import type { DocPath } from "../schema/schema-problem.js";

/** Without `debounce:`, a rule fires at most once per node in this long. */
export const DEFAULT_DEBOUNCE_MS = 30_000;

const ruleSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, {
    error: "must be a short name (letters, digits, _.-): the runs it starts are requested by rule:<name>",
  }),
  on: z.strictObject({
    event: z
      .string()
      .regex(EVENT_KIND, { error: "must be an event kind, e.g. file_changed or service_down" }),
    /** A glob (`*`: any text, `/` included) on the event's `path`. */
    path: z.string().min(1).optional(),
    /** Globs on other fields of the event's data, e.g. `{probe: nginx}`. */
    data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    /** A selector over the node's facts and groups, as in `hosts where`. */
    where: z.string().min(1).optional(),
  }),
  run: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: "must be the name of a pipeline" }),
  /** The design to run on, `{host}` replaced by the node; default: the node's last design, else cn=<node>. */
  source: z.string().min(1).optional(),
  debounce: z.union([z.number(), z.string()]).optional(),
  /** Rooms (`<network>:<room>`) told when the rule fires; the run's progress goes to the first. */
  announce: z
    .array(
      z
        .string()
        .regex(/^[a-z][a-z0-9_-]*:\S+$/, { error: "must be a room as <network>:<room>, e.g. irc:#ops" }),
    )
    .default([]),
});

/** `rules:` as written; unknown keys are refused. */
export const rulesSchema = z.array(ruleSchema, { error: "must be a list of rules" }).nullish();

/** A rule as jarvis applies it. */
export interface EventRule {
  name: string;
  event: string;
  path: { glob: string; re: RegExp } | undefined;
  data: { key: string; glob: string; re: RegExp }[];
  where: { text: string; selector: Selector } | undefined;
  pipeline: string;
  source: string | undefined;
  debounceMs: number;
  announce: string[];
}

export function buildRules(
  rules: z.output<typeof rulesSchema>,
  where: (path: DocPath) => string,
): EventRule[] {
  const seen = new Set<string>();
  return (rules ?? []).map((r, i) => {
    if (seen.has(r.name)) {
      throw new ConfigError(
        "E_CONFIG_FIELD",
        `${where(["rules", i, "name"])}: rule name '${r.name}' is used twice; give each rule its own name`,
      );
    }
    seen.add(r.name);
    return {
      name: r.name,
      event: r.on.event,
      path: r.on.path === undefined ? undefined : { glob: r.on.path, re: globToRegExp(r.on.path) },
      data: Object.entries(r.on.data ?? {}).map(([key, value]) => ({
        key,
        glob: String(value),
        re: globToRegExp(String(value)),
      })),
      where:
        r.on.where === undefined ? undefined : selectorAt(r.on.where, where(["rules", i, "on", "where"])),
      pipeline: r.run,
      source: r.source,
      debounceMs:
        r.debounce === undefined
          ? DEFAULT_DEBOUNCE_MS
          : durationAt(r.debounce, where(["rules", i, "debounce"])),
      announce: r.announce,
    };
  });
}

function selectorAt(text: string, at: string): { text: string; selector: Selector } {
  try {
    return { text, selector: parseSelector(text) };
  } catch (err) {
    if (err instanceof SelectorError) throw new ConfigError("E_CONFIG_FIELD", `${at}: where: ${err.message}`);
    throw err;
  }
}

function durationAt(value: number | string, at: string): number {
  try {
    return parseDuration(value, `${at}: debounce`);
  } catch (err) {
    if (err instanceof PipelineError) throw new ConfigError("E_CONFIG_FIELD", err.message);
    throw err;
  }
}
