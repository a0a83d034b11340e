/** Ids for runs and clusters: short enough to say in chat, random enough for one jarvis. */
import { randomBytes } from "node:crypto";

/** A new 8-character id of lowercase letters and digits. */
export function newRunId(): string {
  return randomBytes(6).toString("base64url").replace(/[-_]/g, "x").toLowerCase().slice(0, 8);
}
