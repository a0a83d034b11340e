/**
 * Durations in pipeline files: a number of seconds (`30`, `0.5`) or a string with units
 * (`"500ms"`, `"30s"`, `"5m"`, `"1h"`, combined as `"1m30s"`), turned into milliseconds.
 */
import { PipelineError } from "../errors.js";

/** Longest duration accepted; Node timers overflow past ~24.8 days, and no step should run a week. */
export const MAX_DURATION_MS = 7 * 24 * 3600 * 1000;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/**
 * Parse a duration into milliseconds. `where` prefixes the error (e.g. `demo.yml:7: step 2 timeout`),
 * so the message names the file, the line and the field.
 */
export function parseDuration(value: unknown, where: string): number {
  const ms = toMs(value);
  if (ms === undefined) {
    throw new PipelineError(
      "E_PIPELINE_DURATION",
      `${where}: ${describe(value)} is not a duration; write a number of seconds or a string like "500ms", "30s", "5m", "1h" or "1m30s"`,
    );
  }
  if (ms > MAX_DURATION_MS) {
    throw new PipelineError(
      "E_PIPELINE_DURATION",
      `${where}: ${describe(value)} is longer than the limit of 7 days (168h); use a shorter duration`,
    );
  }
  return ms;
}

/** Format milliseconds for people: "500ms", "30s", "5m", "1h30m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}` || "0s";
}

function toMs(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  }
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  // A bare number in a string ("30") means seconds, as the unquoted number would.
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  let total = 0;
  PART.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const match = PART.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? Number.NaN);
    pos = PART.lastIndex;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

function describe(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  if (value === null || value === undefined) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}
