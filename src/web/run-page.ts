/**
 * One run: its step timeline (position, name, state, attempts, duration, the failure on the row
 * after the step where it happened), the buttons the viewer's roles allow, the log, and the
 * clipboard after a step or the diff a step made, as the API returns them (redacted).
 */
import { html } from "./html.js";
import type { SafeHtml } from "./html.js";
import { formatDuration, formatTime, layout } from "./page-layout.js";
import type { Viewer } from "./page-layout.js";
import type { WebAssets } from "./web-assets.js";
import type { LogLine, RunRecord, StepRecord } from "../store/run-store.js";

/** What the viewer may do to this run (the API checks again on every request). */
export interface RunActions {
  retry: boolean;
  cancel: boolean;
  /** A role of the viewer has `replay` (on which hosts, the API decides for the hosts entered). */
  replay: boolean;
}

/** The clipboard or diff asked for with ?clipboard=N or ?diff=N, or why it could not be shown. */
export type Inspection =
  { kind: "clipboard" | "diff"; step: number; text: string } | { kind: "problem"; message: string };

/** Everything the run page shows. */
export interface RunView {
  run: RunRecord;
  steps: readonly StepRecord[];
  log: readonly LogLine[];
  actions: RunActions;
  inspection: Inspection | undefined;
}

function runLink(run: RunRecord, query: string): string {
  return `/run/${encodeURIComponent(run.id)}?${query}#inspect`;
}

function stepRows(run: RunRecord, steps: readonly StepRecord[]): SafeHtml[] {
  const mainTotal = steps.filter((s) => !s.onFailure).length;
  let onFailureSeen = 0;
  return steps.map((step) => {
    const position = step.onFailure ? `on failure ${++onFailureSeen}` : `${step.index + 1}/${mainTotal}`;
    const number = step.index + 1;
    const started = step.state !== "pending";
    return html`<tr class="step" data-step="${number}" data-state="${step.state}">
        <td>${position}</td>
        <td><code>${step.name}</code></td>
        <td class="state state-${step.state}">${step.state}</td>
        <td>${step.attempts}</td>
        <td>${formatDuration(step.durationMs)}</td>
        <td>
          ${
            started
              ? html`<a class="clipboard-link" href="${runLink(run, `clipboard=${number}`)}">clipboard</a>
                  <a class="diff-link" href="${runLink(run, `diff=${number}`)}">diff</a>`
              : null
          }
        </td>
      </tr>
      ${
        step.error
          ? html`<tr class="failure" data-failure="${number}">
              <td></td>
              <td colspan="5"><strong>${step.error.code}</strong>: ${step.error.message}</td>
            </tr>`
          : null
      }`;
  });
}

function actionButtons(run: RunRecord, actions: RunActions): SafeHtml | null {
  const retry = actions.retry && (run.state === "failed" || run.state === "cancelled");
  const cancel = actions.cancel && (run.state === "queued" || run.state === "running");
  if (!retry && !cancel) return null;
  return html`<div class="actions">
    ${retry ? html`<button type="button" id="retry" data-action="retry" data-run="${run.id}">Retry from the failed step</button>` : null}
    ${cancel ? html`<button type="button" id="cancel" data-action="cancel" data-run="${run.id}">Cancel</button>` : null}
  </div>`;
}

/** Replay the run on other hosts: their names, separated by spaces or commas. */
function replayForm(run: RunRecord, actions: RunActions): SafeHtml | null {
  if (!actions.replay) return null;
  return html`<form class="actions" id="replay-form" data-run="${run.id}">
    <label
      >Replay on
      <input id="replay-hosts" name="hosts" type="text" required placeholder="thor odin" autocomplete="off"
    /></label>
    <button type="submit" id="replay">Replay</button>
    <span id="replay-result"></span>
  </form>`;
}

/** The live part of the run page (the client swaps it for a fresh copy on each step event). */
export function runSection(view: RunView): SafeHtml {
  const { run, steps, actions } = view;
  return html`<section id="live" data-live="run" data-run="${run.id}" data-state="${run.state}">
    <p>
      State: <span id="run-state" class="state state-${run.state}">${run.state}</span>
      <span class="meta"
        >· started by ${run.requestedBy} from ${run.origin} · source <code>${run.source}</code> · created
        ${formatTime(run.createdAt)}${run.finishedAt !== null ? html` · finished ${formatTime(run.finishedAt)}` : null}</span
      >
    </p>
    ${run.error ? html`<p class="problem" id="run-error"><strong>${run.error.code}</strong>: ${run.error.message}</p>` : null}
    ${actionButtons(run, actions)} ${replayForm(run, actions)}
    <p class="problem" id="action-problem" hidden></p>
    <h2>Steps</h2>
    <table id="timeline">
      <thead>
        <tr>
          <th>#</th>
          <th>Step</th>
          <th>State</th>
          <th>Attempts</th>
          <th>Duration</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${stepRows(run, steps)}
      </tbody>
    </table>
    <p><a class="clipboard-link" href="${runLink(run, "clipboard=0")}">the design as loaded</a></p>
  </section>`;
}

function inspectionSection(inspection: Inspection | undefined): SafeHtml | null {
  if (!inspection) return null;
  if (inspection.kind === "problem")
    return html`<section id="inspect">
      <h2>Clipboard</h2>
      <p class="problem">${inspection.message}</p>
    </section>`;
  const title =
    inspection.kind === "clipboard"
      ? inspection.step === 0
        ? "The design as loaded"
        : `Clipboard after step ${inspection.step}`
      : `What step ${inspection.step} changed`;
  return html`<section id="inspect" data-kind="${inspection.kind}" data-step="${inspection.step}">
    <h2>${title}</h2>
    <pre id="inspect-text">${inspection.text || "(no change)"}</pre>
  </section>`;
}

/** The whole run page. */
export function runPage(assets: WebAssets, viewer: Viewer, view: RunView): SafeHtml {
  const { run, log } = view;
  return layout(
    assets,
    `${run.host} · ${run.pipeline}`,
    viewer,
    html`<h1>${run.host} · ${run.pipeline} <span class="meta">run ${run.id}</span></h1>
      ${runSection(view)} ${inspectionSection(view.inspection)}
      <h2>Log</h2>
      <pre id="log" class="log" data-run="${run.id}">
${log.map((l) => `[${l.step.name}#${l.attempt}] ${l.line}\n`)}</pre>`,
  );
}
