/**
 * Field schemas shared by the `chat:` and `acl:` sections, worded like the rest of jarvis.yml's
 * messages ("must be a number, at least 1"). Absent and empty (`key:` with nothing) both mean
 * "use the default".
 */
import { z } from "zod";

// Numbers are accepted where a string is wanted: a YAML `password: 1234` is a number.
export const text = z.preprocess(
  (v) => (typeof v === "number" ? String(v) : v),
  z.string().refine((s) => s.trim() !== "", { error: "must not be empty" }),
);
export const optionalText = text.nullish().transform((v) => v ?? undefined);
export const flag = (fallback: boolean) =>
  z
    .boolean({ error: "must be true or false" })
    .nullish()
    .transform((v) => v ?? fallback);
export const atLeast = (min: number) =>
  z
    .number({ error: `must be a number, at least ${min}` })
    .min(min, { error: `must be a number, at least ${min}` });
export const numberOr = (min: number, fallback: number) =>
  atLeast(min)
    .nullish()
    .transform((v) => v ?? fallback);
