/**
 * The backend of a `jarvis` command with --server (or JARVIS_SERVER): every command is one or a
 * few calls to that jarvis's HTTP API as the token's identity (`api:<name>`), audited and checked
 * against its ACL there. Runs are executed by that server; following one reads its NDJSON event
 * stream, resumed after the last event seen when the connection breaks.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { CommandError, RemoteError, RunError } from "../errors.js";
import {
  approvalJsonSchema,
  clipboardJsonSchema,
  diffJsonSchema,
  hostRunsJsonSchema,
  hostsJsonSchema,
  logJsonSchema,
  nodeEventJsonSchema,
  nodeEventsJsonSchema,
  replayedJsonSchema,
  runJsonSchema,
  runPageJsonSchema,
  scheduleJsonSchema,
  schedulesJsonSchema,
  startedJsonSchema,
} from "../api/response-schemas.js";
import type { RunJson, WireRunEvent } from "../api/response-schemas.js";
import { ApiClient } from "./api-client.js";
import { detailFromJson, logLineFromJson, runFromJson, scheduleFromJson } from "./remote-views.js";
import type { CliBackend, StartedRuns } from "./backend.js";
import type { DetailShown } from "./format.js";

/** Reconnections of one event stream before the CLI gives up following (the run goes on). */
const RECONNECTS = 4;
const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;
const FINAL: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/** What a `<host|run|group>` word names on the server (the rule of run-target.ts). */
type Resolved =
  { kind: "run"; run: RunJson } | { kind: "group"; runs: RunJson[] } | { kind: "host"; host: string };

/** A backend talking to the jarvis at `server` with `token`. */
export function remoteBackend(server: string, token: string): CliBackend {
  const api = new ApiClient({ server, token });
  const runPath = (id: string, tail = ""): string => `/runs/${encodeURIComponent(id)}${tail}`;

  const resolve = async (word: string): Promise<Resolved> => {
    if (RUN_ID.test(word)) {
      try {
        return { kind: "run", run: await api.get(runPath(word), runJsonSchema) };
      } catch (err) {
        if (!(err instanceof RemoteError && err.code === "E_RUN_NOT_FOUND")) throw err;
      }
      const members = await api.get("/runs", runPageJsonSchema, { group: word, limit: 500 });
      if (members.runs.length > 0) return { kind: "group", runs: members.runs };
    }
    return { kind: "host", host: word };
  };

  /** The run a word means: the run, or a host's latest; a group is refused as locally. */
  const findRun = async (word: string): Promise<RunJson> => {
    const target = await resolve(word);
    if (target.kind === "run") return target.run;
    if (target.kind === "group")
      throw new CommandError(
        "E_USAGE",
        `${word} is a cluster of ${[...new Set(target.runs.map((r) => r.host))].join(", ")}; name one of its hosts or runs`,
      );
    const { runs } = await api.get(`/hosts/${encodeURIComponent(target.host)}/runs`, hostRunsJsonSchema, {
      limit: 1,
    });
    const latest = runs[0];
    if (!latest)
      throw new RunError(
        "E_RUN_NOT_FOUND",
        `no run for '${word}': name a host that has been deployed or a run id (see: status)`,
      );
    return latest;
  };

  const detail = async (id: string): Promise<DetailShown> =>
    detailFromJson(await api.get(runPath(id), runJsonSchema));

  /** The events of one run after `after` until it ends, resumed when the stream breaks off. */
  const followRun = async (
    id: string,
    after: number,
    onEvent: ((event: WireRunEvent) => void) | undefined,
  ): Promise<DetailShown> => {
    let seq = after;
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const event of api.events(id, seq)) {
          seq = event.seq;
          attempt = 0;
          onEvent?.(event);
        }
      } catch (err) {
        const broken = err instanceof RemoteError && (err.status === 0 || err.status >= 502);
        if (!broken || attempt >= RECONNECTS) {
          if (broken)
            throw new RemoteError(
              "E_REMOTE_DROPPED",
              `lost ${api.server} while following run ${id} (${err.message}); the run goes on there: jarvis --server ${api.server} status ${id}`,
              0,
              { cause: err },
            );
          throw err;
        }
        await sleep(1000 * 2 ** attempt);
        continue;
      }
      // The server ends a run's stream when the run ends; an end without that is a drop too.
      const now = await detail(id);
      if (FINAL.has(now.run.state)) return now;
      if (attempt >= RECONNECTS)
        throw new RemoteError(
          "E_REMOTE_DROPPED",
          `${api.server} kept ending the event stream of run ${id} while it is ${now.run.state}; see: jarvis --server ${api.server} status ${id}`,
          0,
        );
      await sleep(1000 * 2 ** attempt);
    }
  };

  /** Runs the server executes; `after` per run: the last event seen before this start or retry. */
  const started = (runs: RunJson[], after: (id: string) => number = () => 0): StartedRuns => ({
    runs: runs.map(runFromJson),
    finish: (onEvent) => Promise.all(runs.map((r) => followRun(r.run, after(r.run), onEvent))),
  });

  /** The sequence of a finished run's last event, so a retry is followed from there. */
  const lastSeq = async (id: string): Promise<number> => {
    let seq = 0;
    for await (const event of api.events(id, 0)) seq = event.seq;
    return seq;
  };

  return {
    start: async ({ pipeline, source, force, plan, planThenApply }) => {
      const body = await api.post(
        "/runs",
        {
          pipeline,
          source,
          ...(force ? { force } : {}),
          ...(plan ? { plan } : {}),
          ...(planThenApply ? { plan_then_apply: true } : {}),
        },
        startedJsonSchema,
      );
      return started("runs" in body ? body.runs : [body]);
    },
    retry: async (target, { force, clipboardYaml }) => {
      const run = await findRun(target);
      const from = FINAL.has(run.state) ? await lastSeq(run.run) : 0;
      const retried = await api.post(
        runPath(run.run, "/retry"),
        { ...(force ? { force } : {}), ...(clipboardYaml === undefined ? {} : { clipboard: clipboardYaml }) },
        runJsonSchema,
      );
      return started([retried], () => from);
    },
    replay: async (target, onto) => {
      const run = await findRun(target);
      return started((await api.post(runPath(run.run, "/replay"), onto, replayedJsonSchema)).runs);
    },
    cancel: async (target) => {
      const run = await findRun(target);
      return runFromJson(await api.post(runPath(run.run, "/cancel"), {}, runJsonSchema));
    },
    status: async (word) => {
      const target = await resolve(word);
      if (target.kind === "group")
        return { details: await Promise.all(target.runs.map((r) => detail(r.run))), group: true };
      const run = target.kind === "run" ? target.run : await findRun(target.host);
      return { details: [await detail(run.run)], group: false };
    },
    hosts: async ({ limit, after }) => {
      const page = await api.get("/hosts", hostsJsonSchema, { limit, after });
      return { latest: page.hosts.map((h) => runFromJson(h.latest)), next: page.next, total: page.total };
    },
    events: async ({ host, limit, before }) => {
      const path = host === undefined ? "/events" : `/nodes/${encodeURIComponent(host)}/events`;
      const page = await api.get(path, nodeEventsJsonSchema, { limit, before });
      return { events: page.events, next: page.next };
    },
    followEvents: async ({ host, after, signal }, onEvent) => {
      const path = host === undefined ? "/events" : `/nodes/${encodeURIComponent(host)}/events`;
      const what = `the events of ${host ?? "every node"}`;
      // A fixed start, so a stream that breaks off before its first event resumes where it began.
      let seq = after ?? (await api.get(path, nodeEventsJsonSchema, { limit: 1 })).events[0]?.seq ?? 0;
      for (let attempt = 0; ; attempt++) {
        try {
          const query = { follow: 1, format: "ndjson", after: seq };
          for await (const event of api.ndjson(path, query, nodeEventJsonSchema, what, signal)) {
            seq = event.seq;
            attempt = 0;
            onEvent(event);
          }
        } catch (err) {
          if (signal.aborted) return;
          const broken = err instanceof RemoteError && (err.status === 0 || err.status >= 502);
          if (!broken) throw err;
        }
        if (signal.aborted) return;
        // The stream has no end of its own: an end is a drop (the server stopping), resumed after seq.
        if (attempt >= RECONNECTS)
          throw new RemoteError(
            "E_REMOTE_DROPPED",
            `lost ${api.server} while following ${what}; resume with: jarvis --server ${api.server} events${host === undefined ? "" : ` ${host}`} --follow --after ${seq}`,
            0,
          );
        await sleep(1000 * 2 ** attempt, undefined, { signal }).catch((err: unknown) => {
          if (!signal.aborted) throw err;
        });
        if (signal.aborted) return;
      }
    },
    log: async (target) => {
      const run = await findRun(target);
      const { lines } = await api.get(runPath(run.run, "/log"), logJsonSchema);
      return lines.map((line) => logLineFromJson(run, line));
    },
    clipboard: async (target, step) => {
      const run = await findRun(target);
      return (await api.get(runPath(run.run, "/clipboard"), clipboardJsonSchema, { step })).clipboard;
    },
    diff: async (target, step) => {
      const run = await findRun(target);
      return (await api.get(runPath(run.run, "/diff"), diffJsonSchema, { step })).diff;
    },
    history: async (host, { limit, before }) => {
      const page = await api.get(`/hosts/${encodeURIComponent(host)}/runs`, hostRunsJsonSchema, {
        limit,
        before,
      });
      return { runs: page.runs.map(runFromJson), next: page.next };
    },
    schedule: async (command) => {
      const { when } = command;
      const body = {
        pipeline: command.pipeline,
        source: "source" in command ? command.source : command.target,
        ...("at" in when ? { at: when.at } : { cron: when.cron }),
        ...(when.timezone === null ? {} : { timezone: when.timezone }),
        misfire: command.misfire,
        ...(command.force ? { force: true } : {}),
      };
      return scheduleFromJson(await api.post("/schedules", body, scheduleJsonSchema));
    },
    schedules: async () => (await api.get("/schedules", schedulesJsonSchema)).schedules.map(scheduleFromJson),
    unschedule: (id) => api.delete(`/schedules/${encodeURIComponent(id)}`),
    approve: async (target) => {
      const run = await findRun(target);
      const answer = await api.post(runPath(run.run, "/approve"), {}, approvalJsonSchema);
      return { ...answer, run: runFromJson(answer.run) };
    },
    deny: async (target, reason) => {
      const run = await findRun(target);
      const answer = await api.post(runPath(run.run, "/deny"), { reason }, approvalJsonSchema);
      return { ...answer, run: runFromJson(answer.run) };
    },
    close: async () => undefined,
  };
}
