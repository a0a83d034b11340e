/**
 * From a design reference (`examples/loki.yml`, `https://...`, `gist:ID`, `cn=loki`) to a run's
 * first clipboard: fetch through the first source that accepts the ref, parse safely, validate.
 * `jarvis validate` goes through loadDesignsText too, so what it accepts is what a run accepts.
 */
import { DesignError, SourceError } from "../errors.js";
import {
  MAX_CLUSTER_HOSTS,
  validateDesign,
  validateDesignKeys,
  validateInstance,
  withDesignDefaults,
} from "./design.js";
import { planCluster } from "./cluster.js";
import { DEFAULT_DESIGN_MAX_BYTES } from "./sources/design-source.js";
import type { DesignSource, FetchedDesign, FileAccess } from "./sources/design-source.js";
import { dumpYaml, parseYamlMapping } from "./yaml.js";
import type { ParsedYaml } from "./yaml.js";

/** A design ready to start a run. */
export interface LoadedDesign {
  /** The clipboard: the design with defaults filled in (`instance.provider: local`). */
  clipboard: Record<string, unknown>;
  /** The same clipboard as YAML, as it is stored for the run. */
  yaml: string;
  /** `instance.hostname`. */
  host: string;
  /** Where it came from, as shown in messages (credentials removed). */
  origin: string;
}

/** Options of loadDesign. */
export interface LoadDesignOptions {
  signal?: AbortSignal;
  /** Largest design parsed (default 16 MiB, designs.max_bytes); sources apply the same limit first. */
  maxBytes?: number;
  /** Which local files the requester may name; "designs-dirs" unless the front says otherwise. */
  fileAccess?: FileAccess;
}

/** Fetch, parse and validate the design `ref` names; throws SourceError, YamlError or DesignError. */
export async function loadDesign(
  ref: string,
  sources: DesignSource[],
  options: LoadDesignOptions = {},
): Promise<LoadedDesign> {
  const fetched = await fetchDesign(ref, sources, options);
  return loadDesignText(fetched.text, fetched.origin, { maxBytes: options.maxBytes });
}

/** One host of a loaded design, with the hosts whose runs must succeed before its run starts. */
export interface LoadedMember extends LoadedDesign {
  after: string[];
}

/**
 * Like loadDesign, but a design may be a cluster (`instances:`): one single-host design per
 * member, in dependency order, each validated where it stands in the file.
 */
export async function loadDesigns(
  ref: string,
  sources: DesignSource[],
  options: LoadDesignOptions = {},
): Promise<LoadedMember[]> {
  const fetched = await fetchDesign(ref, sources, options);
  return loadDesignsText(fetched.text, fetched.origin, { maxBytes: options.maxBytes });
}

/** A single-host or cluster design given as text, split into its hosts and validated. */
export function loadDesignsText(
  text: string | Buffer,
  origin: string,
  options: { maxBytes?: number } = {},
): LoadedMember[] {
  return loadParsedDesigns(
    parseYamlMapping(text, origin, { maxBytes: options.maxBytes ?? DEFAULT_DESIGN_MAX_BYTES }),
  );
}

/** The same for a design already parsed (`jarvis validate` parses first to tell designs from pipelines). */
export function loadParsedDesigns(parsed: ParsedYaml): LoadedMember[] {
  const origin = parsed.source;
  if (parsed.value.instances === undefined) return [{ ...loadParsed(parsed), after: [] }];
  validateDesignKeys(parsed);
  const instances = parsed.value.instances;
  // Checked before planning, whose ordering is quadratic in the number of hosts.
  if (Array.isArray(instances) && instances.length > MAX_CLUSTER_HOSTS) {
    throw new DesignError(
      "E_DESIGN_LIMIT",
      `${origin}:${parsed.lineOf(["instances"]) ?? 1}: instances lists ${instances.length} hosts, over the limit of ${MAX_CLUSTER_HOSTS} per design; split the cluster into several designs`,
    );
  }
  const members = planCluster(parsed.value, origin, parsed.lineOf);
  const indexOf = new Map(
    (instances as Record<string, unknown>[]).map((instance, index) => [instance.hostname, index]),
  );
  return members.map((member) => {
    validateInstance(parsed, ["instances", indexOf.get(member.host) ?? 0], member.design.instance);
    const clipboard = withDesignDefaults(member.design);
    return { clipboard, yaml: dumpYaml(clipboard), host: member.host, origin, after: member.after };
  });
}

/** Parse and validate a design given as text (an inline design or an edited clipboard). */
export function loadDesignText(
  text: string | Buffer,
  origin: string,
  options: { maxBytes?: number } = {},
): LoadedDesign {
  return loadParsed(
    parseYamlMapping(text, origin, { maxBytes: options.maxBytes ?? DEFAULT_DESIGN_MAX_BYTES }),
  );
}

function loadParsed(parsed: ParsedYaml): LoadedDesign {
  const { host } = validateDesign(parsed);
  const clipboard = withDesignDefaults(parsed.value);
  return { clipboard, yaml: dumpYaml(clipboard), host, origin: parsed.source };
}

function fetchDesign(
  ref: string,
  sources: DesignSource[],
  options: LoadDesignOptions,
): Promise<FetchedDesign> {
  const source = sources.find((s) => s.accepts(ref));
  if (!source) {
    throw new SourceError(
      "E_SOURCE_UNKNOWN",
      `'${ref}' is not a design reference jarvis knows; give a file path, an http(s) URL, gist:<id> or cn=<host>`,
    );
  }
  return source.fetch(
    ref,
    options.signal ?? new AbortController().signal,
    options.fileAccess ?? "designs-dirs",
  );
}
