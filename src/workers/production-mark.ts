/**
 * Whether the clipboard marks a host as serving production: the design's `instance.production`
 * (also filled in from LDAP by the `cn=` source) or the clipboard paths in `with.fields`. Shared
 * by production:check, which refuses, and production:migrate, which moves services first.
 */
import { StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard } from "../step-sdk/define-step.js";

/** Clipboard paths consulted by default. */
export const DEFAULT_PRODUCTION_FIELDS = ["instance.production", "ldap.production"];

/** Whether a value marks production: true, "true"/"yes"/"production" (LDAP attributes are text). */
export function isProduction(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(isProduction);
  if (value === true) return true;
  return (
    typeof value === "string" && ["true", "yes", "production", "prod"].includes(value.trim().toLowerCase())
  );
}

/** The clipboard paths a step consults: `with.fields`, or the defaults. */
export function productionFields(params: Record<string, unknown>): string[] {
  const fields = params.fields === undefined ? DEFAULT_PRODUCTION_FIELDS : params.fields;
  if (!Array.isArray(fields) || !fields.every((f): f is string => typeof f === "string")) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      "production: with.fields must be a list of clipboard paths such as instance.production",
    );
  }
  return fields;
}

/** The first of `fields` that marks the host as production, or undefined. */
export function productionMark(clipboard: Clipboard, fields: readonly string[]): string | undefined {
  return fields.find((path) => isProduction(lookup(clipboard, path)));
}

/** The host's name for messages. */
export function hostnameOf(clipboard: Clipboard): string {
  const instance = clipboard.instance;
  if (instance && typeof instance === "object" && !Array.isArray(instance)) {
    const hostname = (instance as Record<string, unknown>).hostname;
    if (typeof hostname === "string") return hostname;
  }
  return "the host";
}

function lookup(clipboard: Clipboard, path: string): unknown {
  let node: unknown = clipboard;
  for (const part of path.split(".")) {
    node =
      node && typeof node === "object" && !Array.isArray(node) && Object.hasOwn(node, part)
        ? (node as Record<string, unknown>)[part]
        : undefined;
  }
  return node;
}
