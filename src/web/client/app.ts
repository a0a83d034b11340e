/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The page's only script (served as /static/app.js; no framework, no bundler). The server renders
 * every page; this module keeps the `#live` section current by following the API's event stream of
 * each run shown (EventSource, which resumes by itself with Last-Event-ID) and, when a run changes,
 * fetching the same page again and swapping in its fresh `#live` section. Markup only ever comes
 * from the server's escaping templates; text from events is set as textContent.
 */

/** Browsers keep about 6 connections per server: leave room for the page's own requests. */
const MAX_STREAMS = 4;
/** New runs have no stream to announce them; the overview looks for them this often. */
const OVERVIEW_REFRESH_MS = 10_000;

const streams = new Map<string, EventSource>();
let refreshing = false;
let refreshAgain = false;

/** Fetch this page again and swap in its `#live` section; one fetch at a time, coalesced. */
async function refresh(): Promise<void> {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      const response = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return;
      const fresh = new DOMParser()
        .parseFromString(await response.text(), "text/html")
        .getElementById("live");
      const current = document.getElementById("live");
      if (fresh && current) {
        current.replaceWith(document.adoptNode(fresh));
        wire();
      }
    } while (refreshAgain);
  } finally {
    refreshing = false;
  }
}

const REFRESHING_EVENTS = [
  "run-queued",
  "run-started",
  "run-cancel-requested",
  "step-started",
  "step-retry",
  "step-finished",
  "run-finished",
] as const;

/** Follow one run's events; `onLog` gets its log lines (run page only). */
function follow(runId: string, onLog?: (event: MessageEvent<string>) => void): void {
  if (streams.has(runId) || streams.size >= MAX_STREAMS) return;
  const source = new EventSource(`/runs/${encodeURIComponent(runId)}/events`);
  streams.set(runId, source);
  // A run-finished may be an earlier attempt's (a retried run replays it from the backlog), so the
  // stream is closed by wire() once the fresh page says the run is over, not by the event itself.
  for (const type of REFRESHING_EVENTS) source.addEventListener(type, () => void refresh());
  if (onLog) source.addEventListener("step-log", onLog);
}

function stop(runId: string): void {
  streams.get(runId)?.close();
  streams.delete(runId);
}

interface StepLogEvent {
  seq: number;
  step: { name: string };
  attempt: number;
  line: string;
}

function isStepLog(value: unknown): value is StepLogEvent {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<StepLogEvent>;
  return typeof v.seq === "number" && typeof v.line === "string" && typeof v.step?.name === "string";
}

/** The run page's log: rebuilt from the stream's backlog, then appended to as lines come. */
function followLog(): (event: MessageEvent<string>) => void {
  const log = document.getElementById("log");
  let cleared = false;
  let lastSeq = 0;
  return (event) => {
    const data: unknown = JSON.parse(event.data);
    if (!log || !isStepLog(data) || data.seq <= lastSeq) return;
    if (!cleared) {
      // The server rendered the log as it was; the stream replays it from the start.
      log.textContent = "";
      cleared = true;
    }
    lastSeq = data.seq;
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(document.createTextNode(`[${data.step.name}#${data.attempt}] ${data.line}\n`));
    if (stick) log.scrollTop = log.scrollHeight;
    log.dataset.seq = String(lastSeq);
  };
}

async function act(button: HTMLButtonElement): Promise<void> {
  const runId = button.dataset.run ?? "";
  const action = button.dataset.action ?? "";
  const problem = document.getElementById("action-problem");
  button.disabled = true;
  const response = await fetch(`/runs/${encodeURIComponent(runId)}/${action}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  if (!response.ok) {
    const body: unknown = await response.json().catch(() => ({}));
    const message =
      typeof body === "object" && body !== null && "message" in body && typeof body.message === "string"
        ? body.message
        : `${action} failed (${response.status})`;
    if (problem) {
      problem.textContent = message;
      problem.hidden = false;
    }
    button.disabled = false;
    return;
  }
  stop(runId);
  await refresh();
}

interface ReplayAnswer {
  runs: { id: string; host: string }[];
}

function isReplayAnswer(value: unknown): value is ReplayAnswer {
  if (typeof value !== "object" || value === null || !("runs" in value) || !Array.isArray(value.runs))
    return false;
  return value.runs.every(
    (run: unknown) =>
      typeof run === "object" &&
      run !== null &&
      "id" in run &&
      typeof run.id === "string" &&
      "host" in run &&
      typeof run.host === "string",
  );
}

/** The problem line under the actions shows `message`. */
function showProblem(message: string): void {
  const problem = document.getElementById("action-problem");
  if (problem) {
    problem.textContent = message;
    problem.hidden = false;
  }
}

/** POST /runs/{id}/replay with the hosts typed; link each new run's page. */
async function replay(form: HTMLFormElement): Promise<void> {
  const input = form.querySelector<HTMLInputElement>("#replay-hosts");
  const result = form.querySelector<HTMLElement>("#replay-result");
  const button = form.querySelector<HTMLButtonElement>("button");
  const hosts = (input?.value ?? "").split(/[\s,]+/).filter((h) => h !== "");
  if (hosts.length === 0 || !result) return;
  if (button) button.disabled = true;
  try {
    const response = await fetch(`/runs/${encodeURIComponent(form.dataset.run ?? "")}/replay`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hosts }),
    });
    const body: unknown = await response.json();
    if (!response.ok || !isReplayAnswer(body)) {
      showProblem(
        typeof body === "object" && body !== null && "message" in body && typeof body.message === "string"
          ? body.message
          : `replay failed (${response.status})`,
      );
      return;
    }
    result.textContent = "replayed: ";
    for (const run of body.runs) {
      const link = document.createElement("a");
      link.href = `/run/${encodeURIComponent(run.id)}`;
      link.className = "replayed";
      link.textContent = `${run.host} (run ${run.id})`;
      result.append(link, " ");
    }
  } finally {
    if (button) button.disabled = false;
  }
}

/** Hook up what the current `#live` section shows: streams of active runs, action buttons. */
function wire(): void {
  const live = document.getElementById("live");
  if (!live) return;
  const active = new Set<string>();
  if (live.dataset.live === "run") {
    const runId = live.dataset.run ?? "";
    const state = live.dataset.state;
    if (state === "queued" || state === "running") {
      active.add(runId);
      follow(runId, followLog());
    }
  } else {
    for (const row of live.querySelectorAll<HTMLElement>("[data-follow]")) {
      active.add(row.dataset.follow ?? "");
      follow(row.dataset.follow ?? "");
    }
  }
  // The server ends a finished run's stream; EventSource would reconnect to it for ever.
  for (const runId of [...streams.keys()]) if (!active.has(runId)) stop(runId);
  for (const button of live.querySelectorAll<HTMLButtonElement>("button[data-action]")) {
    button.addEventListener("click", () => void act(button));
  }
  const replayForm = live.querySelector<HTMLFormElement>("#replay-form");
  replayForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    void replay(replayForm);
  });
}

wire();
if (document.getElementById("live")?.dataset.live === "overview") {
  setInterval(() => void refresh(), OVERVIEW_REFRESH_MS);
}
