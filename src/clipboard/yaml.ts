/**
 * The precise way jarvis reads YAML: the core (safe) schema only, one document, a mapping at the
 * root, bounded in size and in alias expansion, with line numbers for error messages. It is slow
 * on big documents (about 1.5 s a megabyte), so it reads what people write (designs, pipelines,
 * jarvis.yml) and explains why a fast parse failed; clipboards on the hot path go through
 * clipboard-yaml.ts.
 */
import { LineCounter, parseAllDocuments, isAlias, isMap, isNode, isSeq, isPair, isScalar, visit } from "yaml";
import type { Document, Node } from "yaml";
import { YamlError } from "../errors.js";
import { checkExpansion, checkYamlText, DEFAULT_MAX_YAML_BYTES } from "./yaml-limits.js";

export { DEFAULT_MAX_YAML_BYTES };
export { dumpYaml } from "./yaml-dump.js";

/** A mapping parsed from YAML, with what is needed to point at lines in it. */
export interface ParsedYaml {
  value: Record<string, unknown>;
  /** Where the text came from (file path, URL, "stdin", "step linode:deploy"), for messages. */
  source: string;
  /** 1-based line of the node at `path`, or undefined when the path is not in the document. */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

/** Limits applied while parsing. */
export interface YamlLimits {
  /** Largest accepted document in bytes (default 16 MiB). */
  maxBytes?: number;
  /** Most alias dereferences allowed; guards against billion-laughs bombs (default 100). */
  maxAliasCount?: number;
}

/**
 * Parse text as exactly one YAML mapping. Throws YamlError with code E_YAML_TOO_LARGE,
 * E_YAML_BINARY, E_YAML_SYNTAX, E_YAML_MULTIPLE, E_YAML_BOMB, E_YAML_TOO_DEEP, E_YAML_TAG, E_YAML_NOT_MAPPING or
 * E_YAML_EMPTY.
 */
export function parseYamlMapping(
  input: string | Buffer,
  source: string,
  limits: YamlLimits = {},
): ParsedYaml {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_YAML_BYTES;
  const text = checkYamlText(input, source, maxBytes);
  const lineCounter = new LineCounter();
  // resolveKnownTags off: `!!binary`, `!!timestamp`... would otherwise turn into Buffers and Dates
  // that no step in another language round-trips; such tags are refused below instead.
  const docs = parseAllDocuments(text, {
    schema: "core",
    lineCounter,
    prettyErrors: false,
    // The library's own check compares every key with every other (quadratic: minutes for a
    // clipboard with tens of thousands of keys); checkNodes does it with a set instead.
    uniqueKeys: false,
    resolveKnownTags: false,
  });
  if (!Array.isArray(docs)) {
    throw new YamlError("E_YAML_EMPTY", `${source}: empty document; expected a YAML mapping`);
  }
  const nonEmpty = docs.filter((d) => d.contents !== null || d.errors.length > 0);
  if (nonEmpty.length > 1) {
    const second = nonEmpty[1]!;
    const at = second.range ? lineCounter.linePos(second.range[0]).line : "?";
    throw new YamlError(
      "E_YAML_MULTIPLE",
      `${source}:${at}: several YAML documents in one file; jarvis takes exactly one (remove the extra '---')`,
    );
  }
  const doc = nonEmpty[0];
  if (!doc) throw new YamlError("E_YAML_EMPTY", `${source}: empty document; expected a YAML mapping`);
  const firstError = doc.errors[0];
  if (firstError) {
    const line =
      firstError.linePos?.[0]?.line ?? (firstError.pos ? lineCounter.linePos(firstError.pos[0]).line : "?");
    // The parser recurses per nesting level and reports a blown stack as an ordinary error.
    if (/call stack/i.test(firstError.message)) {
      throw new YamlError(
        "E_YAML_TOO_DEEP",
        `${source}:${line}: nested too deeply to read; flatten the document`,
        {
          cause: firstError,
        },
      );
    }
    throw new YamlError("E_YAML_SYNTAX", `${source}:${line}: ${firstLine(firstError.message)}`, {
      cause: firstError,
    });
  }
  const badTag = doc.warnings.find((w) => w.code === "TAG_RESOLVE_FAILED");
  if (badTag) {
    const tag = /tag: (\S+)/.exec(badTag.message)?.[1]?.replace(/^tag:yaml\.org,2002:/, "!!") ?? "?";
    throw new YamlError(
      "E_YAML_TAG",
      `${source}:${lineCounter.linePos(badTag.pos[0]).line}: unsupported tag ${tag}; jarvis reads plain YAML (core schema) only, remove the tag`,
    );
  }
  if (!isMap(doc.contents)) {
    const kind = doc.contents === null ? "nothing" : isSeq(doc.contents) ? "a list" : "a scalar";
    throw new YamlError(
      "E_YAML_NOT_MAPPING",
      `${source}:1: the document is ${kind}; expected a mapping (key: value)`,
    );
  }
  let value: unknown;
  try {
    checkNodes(doc, lineCounter, source);
    value = doc.toJS({ maxAliasCount: limits.maxAliasCount ?? 100 });
    // maxAliasCount counts aliases, not what they expand to: 99 aliases of a 1 MB string pass it.
    checkExpansion(value, source, maxBytes);
  } catch (err) {
    if (err instanceof YamlError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof RangeError) {
      throw new YamlError("E_YAML_TOO_DEEP", `${source}: nested too deeply to read; flatten the document`, {
        cause: err,
      });
    }
    if (/excessive alias/i.test(message)) {
      throw new YamlError(
        "E_YAML_BOMB",
        `${source}: too many alias expansions (a YAML bomb?); refuse to expand: ${message}`,
        { cause: err },
      );
    }
    throw new YamlError("E_YAML_SYNTAX", `${source}: ${message}`, { cause: err });
  }
  return {
    value: value as Record<string, unknown>,
    source,
    lineOf: (path) => lineOfPath(doc, lineCounter, path),
  };
}

/**
 * Refuse what toJS would only report without a line (an alias before its anchor), turn into a
 * cyclic value (an alias inside its own anchor) or silently mangle (a collection as a key, a
 * duplicate key).
 */
function checkNodes(doc: Document, lc: LineCounter, source: string): void {
  const anchors = new Set<string>();
  const lineOf = (node: Node): number | string => (node.range ? lc.linePos(node.range[0]).line : "?");
  visit(doc, {
    Node(_key, node, path) {
      if (isAlias(node)) {
        if (!anchors.has(node.source)) {
          throw new YamlError(
            "E_YAML_SYNTAX",
            `${source}:${lineOf(node)}: alias *${node.source} has no anchor &${node.source} before it`,
          );
        }
        // An alias inside its own anchor makes a cyclic value that no dump or diff can walk.
        if (path.some((p) => isNode(p) && p.anchor === node.source)) {
          throw new YamlError(
            "E_YAML_SYNTAX",
            `${source}:${lineOf(node)}: alias *${node.source} refers to a node that contains it (a cycle)`,
          );
        }
      } else if (node.anchor) {
        anchors.add(node.anchor);
      }
      return undefined;
    },
    Map(_key, map) {
      // visit() calls this instead of Node() for mappings, so record the anchor here too.
      if (map.anchor) anchors.add(map.anchor);
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          throw new YamlError(
            "E_YAML_SYNTAX",
            `${source}:${lineOf(pair.key as Node)}: Map keys must be unique; '${String(key)}' appears twice`,
          );
        }
        seen.add(key);
      }
      return undefined;
    },
    Pair(_key, pair) {
      if (pair.key !== null && !isScalar(pair.key)) {
        const keyNode = pair.key as Node;
        throw new YamlError(
          "E_YAML_SYNTAX",
          `${source}:${lineOf(keyNode)}: a list, mapping or alias used as a key; keys must be plain strings`,
        );
      }
      return undefined;
    },
  });
}

function lineOfPath(doc: Document, lc: LineCounter, path: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let lastLine: number | undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key),
      );
      if (!pair) return lastLine;
      const keyNode = pair.key as Node;
      if (keyNode.range) lastLine = lc.linePos(keyNode.range[0]).line;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key] as Node | undefined;
      if (!item) return lastLine;
      if (item.range) lastLine = lc.linePos(item.range[0]).line;
      node = item;
    } else {
      return lastLine;
    }
  }
  return lastLine;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}
