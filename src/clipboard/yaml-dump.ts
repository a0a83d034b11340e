/**
 * The one way jarvis writes YAML, with js-yaml (some 10x faster than the `yaml` package on big
 * clipboards). Aliases are written out in full, so any reader takes the text back. The default
 * schema is used for the dump only: it quotes strings that a YAML 1.1 reader in another
 * language (PyYAML, Ruby's Psych) would turn into something else ('yes', 'off', '2001-01-01'),
 * and it writes a Date as a timestamp that the core schema reads back as a string.
 */
import { dump, DEFAULT_SCHEMA } from "js-yaml";

/** Serialize a clipboard as one YAML document; undefined values and functions are left out. */
export function dumpYaml(value: unknown): string {
  return dump(value, { schema: DEFAULT_SCHEMA, noRefs: true, lineWidth: -1, skipInvalid: true });
}
