/**
 * The secret values of a document: every value under a secret key (all of a list or mapping
 * under one, each line of a multi-line one as well as the whole), and the URL passwords and
 * secret query parameters in any string. The redactor then hides these values wherever they
 * appear, as CI systems mask secrets in logs: a rotated password a step puts on the clipboard is
 * hidden when a later step echoes it, under whatever key or in whatever message.
 */
import { urlSecretSpans } from "./text-masks.js";
import type { SecretKeyTest } from "./secret-keys.js";

/** Shorter values are too common to hide everywhere (`yes`, `22`). */
export const MIN_SECRET_LENGTH = 4;
const MAX_DEPTH = 200;

/** Add the secret values of `value` to `into`. */
export function collectSecrets(value: unknown, isSecretKey: SecretKeyTest, into: Set<string>): void {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, underSecret: boolean, depth: number): void => {
    if (typeof v === "string") {
      if (underSecret) addSecret(v, into);
      else for (const [start, end] of urlSecretSpans(v, isSecretKey)) addSecret(v.slice(start, end), into);
      return;
    }
    if (typeof v === "number" || typeof v === "bigint") {
      if (underSecret) addSecret(String(v), into);
      return;
    }
    if (typeof v !== "object" || v === null || depth > MAX_DEPTH || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) for (const item of v) walk(item, underSecret, depth + 1);
    else for (const [key, item] of Object.entries(v)) walk(item, underSecret || isSecretKey(key), depth + 1);
  };
  walk(value, false, 0);
}

/** The URL passwords and secret query parameter values in `text` (e.g. a run's design source). */
export function collectTextSecrets(text: string, isSecretKey: SecretKeyTest, into: Set<string>): void {
  for (const [start, end] of urlSecretSpans(text, isSecretKey)) addSecret(text.slice(start, end), into);
}

/** A value, and each line of it: a step that prints a private key prints it line by line. */
function addSecret(value: string, into: Set<string>): void {
  const trimmed = value.trim();
  if (trimmed.length >= MIN_SECRET_LENGTH) into.add(trimmed);
  if (!trimmed.includes("\n")) return;
  for (const line of trimmed.split(/\r?\n/)) {
    const part = line.trim();
    if (part.length >= MIN_SECRET_LENGTH) into.add(part);
  }
}
