/**
 * From a design reference (`examples/loki.yml`, `https://...`, `gist:ID`, `cn=loki`) to a run's
 * first clipboard: fetch through the first source that accepts the ref, parse safely, validate.
 */
import { SourceError } from "../errors.js";
import { validateDesign, validateInstance, withDesignDefaults } from "./design.js";
import { planCluster } from "./cluster.js";
import { DEFAULT_DESIGN_MAX_BYTES } from "./sources/design-source.js";
import type { DesignSource } from "./sources/design-source.js";
import { dumpYaml, parseYamlMapping } from "./yaml.js";

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
  /** Largest design parsed (default 16 MiB); sources apply the configured limit first. */
  maxBytes?: number;
}

/** Fetch, parse and validate the design `ref` names; throws SourceError, YamlError or DesignError. */
export async function loadDesign(
  ref: string,
  sources: DesignSource[],
  options: LoadDesignOptions = {},
): Promise<LoadedDesign> {
  const source = sources.find((s) => s.accepts(ref));
  if (!source) {
    throw new SourceError(
      "E_SOURCE_UNKNOWN",
      `'${ref}' is not a design reference jarvis knows; give a file path, an http(s) URL, gist:<id> or cn=<host>`,
    );
  }
  const fetched = await source.fetch(ref, options.signal ?? new AbortController().signal);
  // The source already held the document to its configured size limit (designs.max_bytes).
  return loadDesignText(fetched.text, fetched.origin, {
    maxBytes: options.maxBytes ?? Math.max(DEFAULT_DESIGN_MAX_BYTES, byteLength(fetched.text)),
  });
}

function byteLength(text: string | Buffer): number {
  return typeof text === "string" ? Buffer.byteLength(text) : text.length;
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
  const source = sources.find((s) => s.accepts(ref));
  if (!source) return [{ ...(await loadDesign(ref, sources, options)), after: [] }];
  const fetched = await source.fetch(ref, options.signal ?? new AbortController().signal);
  // The source already held the document to its configured size limit (designs.max_bytes).
  const limits = {
    maxBytes: options.maxBytes ?? Math.max(DEFAULT_DESIGN_MAX_BYTES, byteLength(fetched.text)),
  };
  const parsed = parseYamlMapping(fetched.text, fetched.origin, limits);
  if (parsed.value.instances === undefined)
    return [{ ...loadDesignText(fetched.text, fetched.origin, limits), after: [] }];
  const members = planCluster(parsed.value, fetched.origin, parsed.lineOf);
  const instances = parsed.value.instances as unknown[];
  return members.map((member) => {
    const index = instances.findIndex((i) => (i as Record<string, unknown>).hostname === member.host);
    validateInstance(parsed, ["instances", index], member.design.instance);
    const clipboard = withDesignDefaults(member.design);
    return {
      clipboard,
      yaml: dumpYaml(clipboard),
      host: member.host,
      origin: fetched.origin,
      after: member.after,
    };
  });
}

/** Parse and validate a design given as text (an inline design or an edited clipboard). */
export function loadDesignText(
  text: string | Buffer,
  origin: string,
  options: { maxBytes?: number } = {},
): LoadedDesign {
  const parsed = parseYamlMapping(text, origin, { maxBytes: options.maxBytes ?? DEFAULT_DESIGN_MAX_BYTES });
  const { host } = validateDesign(parsed);
  const clipboard = withDesignDefaults(parsed.value);
  return { clipboard, yaml: dumpYaml(clipboard), host, origin };
}
