/**
 * The fast way jarvis reads a clipboard: every step's output in the parent, every step's stdin in
 * the step SDK. js-yaml parses a 5 MB clipboard some 10x faster than the `yaml` package, under
 * the same rules as yaml.ts: core schema (unknown tags refused), duplicate keys refused (js-yaml's
 * default), one document, a mapping at the root, size limit, and a bounded expansion and depth
 * (yaml-limits.ts). What js-yaml reads differently is never taken from it: text that may hold a
 * collection or an alias as a key (js-yaml turns `[a, b]: c` into the key "a,b" without a word)
 * goes to the precise parser, and so does any failure of a document small enough to re-read, so
 * the error names its line the way it does for designs and pipelines.
 *
 * Every step process loads this file, so yaml.ts (and with it the `yaml` package) is imported
 * only when a document needs it.
 */
import { load, CORE_SCHEMA, YAMLException } from "js-yaml";
import { YamlError } from "../errors.js";
import type { ParsedYaml } from "./yaml.js";
import { checkExpansion, checkYamlText, DEFAULT_MAX_YAML_BYTES } from "./yaml-limits.js";

/** Failures of documents up to this size are re-read by the precise parser for their line. */
const PRECISE_REREAD_MAX_BYTES = 1024 * 1024;

/**
 * `? key` (an explicit key), `]:` or `}:` (a flow collection as a key), `*alias :` (an alias as a
 * key). A match inside a quoted string costs only a slower parse.
 */
const MAY_HAVE_COMPLEX_KEY =
  /(?:^|[\s[{,-])\?(?:[ \t\r\n]|$)|[\]}][ \t]*:(?:[ \t\r\n]|$)|\*[^\s,[\]{}]+[ \t]*:(?:[ \t\r\n]|$)/m;

/**
 * Parse text as exactly one YAML mapping, fast. Throws YamlError with the same codes as
 * parseYamlMapping (yaml.ts), plus E_YAML_TOO_DEEP.
 */
export async function parseClipboardYaml(
  input: string | Buffer,
  source: string,
  limits: { maxBytes?: number } = {},
): Promise<Record<string, unknown>> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_YAML_BYTES;
  const text = checkYamlText(input, source, maxBytes);
  if (MAY_HAVE_COMPLEX_KEY.test(text)) return (await preciseParse(text, source, maxBytes)).value;
  let value: unknown;
  try {
    value = load(text, { schema: CORE_SCHEMA, filename: source });
  } catch (err) {
    throw await explainFailure(err, text, source, maxBytes);
  }
  if (value === undefined || value === null) {
    throw new YamlError("E_YAML_EMPTY", `${source}: empty document; expected a YAML mapping`);
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    const kind = Array.isArray(value) ? "a list" : "a scalar";
    throw new YamlError(
      "E_YAML_NOT_MAPPING",
      `${source}:1: the document is ${kind}; expected a mapping (key: value)`,
    );
  }
  try {
    checkExpansion(value, source, maxBytes);
  } catch (err) {
    // The precise parser names the line of a cycle; past the re-read size this answer stands.
    throw (await preciseRefusal(text, source, maxBytes)) ?? err;
  }
  return value as Record<string, unknown>;
}

async function preciseParse(text: string, source: string, maxBytes: number): Promise<ParsedYaml> {
  const { parseYamlMapping } = await import("./yaml.js");
  return parseYamlMapping(text, source, { maxBytes });
}

/** The precise parser's refusal of a document small enough to re-read, if it refuses it. */
async function preciseRefusal(
  text: string,
  source: string,
  maxBytes: number,
): Promise<YamlError | undefined> {
  if (text.length > PRECISE_REREAD_MAX_BYTES) return undefined;
  try {
    await preciseParse(text, source, maxBytes);
  } catch (err) {
    if (err instanceof YamlError) return err;
    throw err;
  }
  return undefined;
}

/** The error to throw for a failed fast parse: the precise parser's when it can afford to look. */
async function explainFailure(
  err: unknown,
  text: string,
  source: string,
  maxBytes: number,
): Promise<YamlError> {
  if (err instanceof RangeError) {
    return new YamlError("E_YAML_TOO_DEEP", `${source}: nested too deeply to read; flatten the document`, {
      cause: err,
    });
  }
  if (!(err instanceof YAMLException)) {
    return new YamlError("E_YAML_SYNTAX", `${source}: ${String(err)}`, { cause: err });
  }
  const precise = await preciseRefusal(text, source, maxBytes);
  if (precise) return precise;
  // Too big to re-read in reasonable time (or the parsers disagree): js-yaml's own position.
  const at = err.mark ? `:${err.mark.line + 1}` : "";
  return new YamlError("E_YAML_SYNTAX", `${source}${at}: ${err.reason}`, { cause: err });
}
