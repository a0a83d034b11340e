/**
 * The backend of a `jarvis` command without --server: this machine's configuration and store,
 * every command through the dispatcher as the local operator (`cli:<user>`). Foreground runs are
 * executed in this process while their progress is read back from the store's feed, the same feed
 * that shows a run executed by another process.
 */
import { errorMessage } from "../errors.js";
import { openJarvis } from "../service.js";
import { nodeEventJson } from "../api/node-event-json.js";
import { dispatch, cliRequester } from "./command.js";
import type { CommandContext } from "./command.js";
import type { Jarvis } from "../service.js";
import type { TypedCommand } from "../commands/typed-command.js";
import type { RunEvent } from "../pipeline/run-events.js";
import type { RunRecord } from "../store/run-store.js";
import type { CliBackend, StartedRuns } from "./backend.js";
import type { DetailShown } from "./format.js";

/** Open this machine's jarvis for one command. */
export async function openLocalBackend(ctx: CommandContext<unknown>): Promise<CliBackend> {
  const jarvis = await openJarvis(ctx.config());
  const ask = <K extends Parameters<typeof dispatch>[3]>(command: TypedCommand, kind: K) =>
    dispatch(jarvis, ctx, command, kind);

  /** Runs about to be created: the feed's sequence now, so their events are read from here on. */
  const starting = async (create: () => Promise<RunRecord[]>): Promise<StartedRuns> => {
    const fromSeq = await jarvis.control.latestSeq();
    const runs = await create();
    return {
      runs,
      finish: (onEvent) =>
        executeHere(jarvis, ctx, fromSeq, runs, () => jarvis.control.executeAll(runs), onEvent),
    };
  };

  return {
    start: ({ pipeline, source, force, plan, planThenApply, foreground }) =>
      starting(
        async () =>
          (
            await ask(
              {
                verb: "run",
                pipeline,
                source,
                force,
                foreground,
                plan,
                ...(planThenApply ? { planThenApply } : {}),
              },
              "started",
            )
          ).runs,
      ),
    retry: (target, { force, foreground, clipboardYaml }) =>
      starting(async () => [
        (
          await ask(
            {
              verb: "retry",
              target,
              force,
              foreground,
              ...(clipboardYaml === undefined ? {} : { clipboardYaml }),
            },
            "retrying",
          )
        ).run,
      ]),
    replay: (target, onto, foreground) =>
      starting(async () => (await ask({ verb: "replay", target, onto, foreground }, "started")).runs),
    cancel: async (target) => (await ask({ verb: "cancel", target }, "cancelling")).run,
    status: async (target) => {
      const { details, target: resolved } = await ask({ verb: "status", target }, "status");
      return { details, group: resolved.kind === "group" };
    },
    hosts: async ({ limit, after }) => {
      const { page } = await ask(
        { verb: "status", page: { limit, ...(after === undefined ? {} : { after }) } },
        "host-index",
      );
      return { latest: page.hosts.map((h) => h.latest), next: page.next, total: page.total };
    },
    events: async ({ host, limit, before }) => {
      const reply = await ask(
        {
          verb: "node-events",
          limit,
          ...(host === undefined ? {} : { host }),
          ...(before === undefined ? {} : { before }),
        },
        "node-events",
      );
      return { events: reply.events.map(nodeEventJson), next: reply.next };
    },
    followEvents: async ({ host, after, signal }, onEvent) => {
      // Checked and audited as a read of the same events.
      await ask({ verb: "node-events", limit: 1, ...(host === undefined ? {} : { host }) }, "node-events");
      const from = after ?? (await jarvis.store.latestNodeEventSeq());
      for await (const event of jarvis.store.followNodeEvents(from, {
        ...(host === undefined ? {} : { host }),
        signal,
      }))
        onEvent(nodeEventJson(event));
    },
    log: async (target) => (await ask({ verb: "log", target }, "log")).lines,
    clipboard: async (target, step) =>
      (await ask({ verb: "clipboard", target, ...(step === undefined ? {} : { step }) }, "clipboard")).value,
    diff: async (target, step) => (await ask({ verb: "diff", target, step }, "diff")).text,
    history: async (host, { limit, before }) => {
      const reply = await ask(
        { verb: "history", host, limit, ...(before === undefined ? {} : { before }) },
        "history",
      );
      return { runs: reply.runs, next: reply.next };
    },
    schedule: async (command) => (await ask(command, "scheduled")).schedule,
    schedules: async () => (await ask({ verb: "schedules" }, "schedules")).schedules,
    unschedule: async (id) => void (await ask({ verb: "unschedule", id }, "unscheduled")),
    approve: async (target) => await ask({ verb: "approve", target }, "approval"),
    deny: async (target, reason) => await ask({ verb: "deny", target, reason }, "approval"),
    close: () => jarvis.close(),
  };
}

/**
 * Execute runs in the foreground (`execute`), handing their events from the store's feed to
 * `onEvent` while they go; `fromSeq` is the feed's sequence from before the runs were started or
 * retried. Resolves to each run as it ended.
 */
export async function executeHere(
  jarvis: Jarvis,
  ctx: CommandContext<unknown>,
  fromSeq: number,
  runs: readonly Pick<RunRecord, "id">[],
  execute: () => Promise<RunRecord[]>,
  onEvent: ((event: RunEvent) => void) | undefined,
): Promise<DetailShown[]> {
  const ids = new Set(runs.map((r) => r.id));
  const query = runs.length === 1 ? { runId: runs[0]!.id } : {};
  let seq = fromSeq;
  const hand = (event: RunEvent): void => {
    seq = event.seq;
    if (ids.has(event.runId)) onEvent?.(event);
  };
  const stop = new AbortController();
  const printing = onEvent
    ? (async () => {
        for await (const event of jarvis.control.follow(seq, { ...query, signal: stop.signal })) hand(event);
      })()
    : Promise.resolve();
  // Ctrl-C cancels the runs properly (their steps' groups are killed, on_failure steps run).
  const onSignal = (): void => {
    for (const id of ids)
      jarvis.control
        .cancel(id, cliRequester())
        .catch((err: unknown) => ctx.err(`run ${id} not cancelled: ${errorMessage(err)}`));
  };
  process.once("SIGINT", onSignal);
  try {
    const finals = await execute();
    stop.abort();
    await printing;
    // What the follower had not polled yet when the runs ended.
    if (onEvent) for (const event of await jarvis.control.readEvents(seq, query)) hand(event);
    return (await Promise.all(finals.map((f) => jarvis.control.status(f.id)))).flat();
  } finally {
    stop.abort();
    process.off("SIGINT", onSignal);
  }
}
