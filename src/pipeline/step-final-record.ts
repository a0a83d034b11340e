/**
 * The parent's side of a step's final record (protocol.ts STEP_RESULT_FD): collect what the step
 * writes on fd 3, bounded, and believe it only when it is one well-formed record. A step in any
 * language can send it, so it is read as untrusted input: a bad record is ignored (the step
 * then fails by the exit-code rule, as a step that sent none) and the reason is logged.
 */
import { z } from "zod";
import { STEP_CODE_PATTERN } from "../protocol.js";
import type { StepFinalRecord } from "../protocol.js";
import type { Stream } from "node:stream";

/** Most bytes read from fd 3; a record is one short line. */
export const MAX_FINAL_RECORD_BYTES = 16 * 1024;

const MAX_MESSAGE_CHARS = 4096;

const finalRecordSchema = z.object({
  code: z
    .string()
    .max(100)
    .regex(STEP_CODE_PATTERN, "code must be E_ followed by capitals, digits and underscores"),
  message: z.string().trim().min(1, "message is empty").max(MAX_MESSAGE_CHARS),
  retryable: z.boolean().optional(),
});

/** What was made of fd 3: nothing, a record, or why the record written there was ignored. */
export type FinalRecordOutcome =
  { kind: "none" } | { kind: "record"; record: StepFinalRecord } | { kind: "invalid"; problem: string };

/** Start collecting fd 3 of a step; `outcome()` once the step has ended. */
export function collectFinalRecord(stream: Stream | null | undefined): { outcome(): FinalRecordOutcome } {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let overflowed = false;
  stream?.on("data", (chunk: Buffer) => {
    // Keep draining past the limit so a step that writes too much does not block on a full pipe.
    if (overflowed) return;
    bytes += chunk.length;
    if (bytes > MAX_FINAL_RECORD_BYTES) overflowed = true;
    else chunks.push(chunk);
  });
  stream?.on("error", () => {
    // The pipe breaks when the step's last process exits mid-write; what arrived is judged.
  });
  return {
    outcome() {
      if (overflowed) {
        return { kind: "invalid", problem: `more than ${MAX_FINAL_RECORD_BYTES} bytes on fd 3` };
      }
      const lines = Buffer.concat(chunks)
        .toString("utf8")
        .split("\n")
        .filter((line) => line.trim() !== "");
      const last = lines.at(-1);
      return last === undefined ? { kind: "none" } : parseFinalRecord(last);
    },
  };
}

/** Judge one line of fd 3. */
export function parseFinalRecord(line: string): FinalRecordOutcome {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { kind: "invalid", problem: "not one line of JSON" };
  }
  const parsed = finalRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    return { kind: "invalid", problem: `${where}${issue?.message ?? "not a final record"}` };
  }
  // One line for logs and chat, like the last stderr line it replaces.
  const message = parsed.data.message.replace(/\s*\n\s*/g, " ");
  return { kind: "record", record: { ...parsed.data, message } };
}
