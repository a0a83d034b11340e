/** `jarvis events --follow`: the agents' events as they come, here or through a jarvis server. */
import type { NodeEventJson } from "../api/node-event-json.js";
import { EXIT } from "./exit-codes.js";
import { usageError } from "./command.js";
import type { CommandContext } from "./command.js";
import { withBackend } from "./with-backend.js";

export function nodeEventLine(e: NodeEventJson): string {
  return `${e.received_at} ${e.host} ${e.kind} ${JSON.stringify(e.data)}`;
}

/**
 * `events --follow`: each event from now on (or after `--after SEQ`), oldest first, until SIGINT or
 * SIGTERM; `--json` prints one object a line (with its seq, to resume from).
 */
export function followEvents(
  ctx: CommandContext<{
    json: boolean;
    limit?: string | undefined;
    before?: string | undefined;
    after?: string | undefined;
  }>,
  host: string | undefined,
): Promise<number> {
  if (ctx.flags.limit !== undefined || ctx.flags.before !== undefined)
    throw usageError(
      "--follow takes no --limit or --before: it prints events as they come (--after SEQ resumes)",
    );
  const after = ctx.flags.after === undefined ? undefined : nonNegativeSeq(ctx.flags.after);
  return withBackend(ctx, async (backend) => {
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
      await backend.followEvents({ host, after, signal: stop.signal }, (e) =>
        ctx.out(ctx.flags.json ? JSON.stringify(e) : nodeEventLine(e)),
      );
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    return EXIT.ok;
  });
}

function nonNegativeSeq(raw: string): number {
  if (!/^[0-9]{1,16}$/.test(raw))
    throw usageError(`--after must be an event's seq, got '${raw.slice(0, 20)}'`);
  return Number(raw);
}
