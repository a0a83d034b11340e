/**
 * The overview: every host with its latest run, and the newest runs. Rows of runs that are still
 * going carry `data-follow`, which the client module follows through the API's event stream to
 * redraw this section in place.
 */
import { html } from "./html.js";
import type { SafeHtml } from "./html.js";
import { formatTime, layout } from "./page-layout.js";
import type { Viewer } from "./page-layout.js";
import type { WebAssets } from "./web-assets.js";
import type { RunRecord } from "../store/run-store.js";

/** Runs that may still change. */
export function isActive(run: RunRecord): boolean {
  return run.state === "queued" || run.state === "running";
}

function where(run: RunRecord): string {
  if (run.stepIndex < 0) return `0/${run.totalSteps}`;
  return `${run.stepIndex + 1}/${run.totalSteps} ${run.stepName ?? ""}`.trim();
}

function stateCell(state: string): SafeHtml {
  return html`<td class="state state-${state}">${state}</td>`;
}

function runRow(run: RunRecord): SafeHtml {
  return html`<tr data-run="${run.id}" ${isActive(run) ? html` data-follow="${run.id}"` : null}>
    <td><a href="/run/${encodeURIComponent(run.id)}">${run.id}</a></td>
    <td>${run.host}</td>
    <td>${run.pipeline}</td>
    ${stateCell(run.state)}
    <td>${where(run)}</td>
    <td>${run.error?.message ?? ""}</td>
    <td>${run.requestedBy}</td>
    <td>${formatTime(run.createdAt)}</td>
  </tr>`;
}

function hostRow(run: RunRecord): SafeHtml {
  return html`<tr data-host="${run.host}">
    <td>${run.host}</td>
    ${stateCell(run.state)}
    <td><a href="/run/${encodeURIComponent(run.id)}">${run.pipeline}</a></td>
    <td>${where(run)}</td>
    <td>${formatTime(run.finishedAt ?? run.startedAt ?? run.createdAt)}</td>
  </tr>`;
}

/** The live part of the overview (the client swaps it for a fresh copy when a run changes). */
export function overviewSection(runs: readonly RunRecord[]): SafeHtml {
  const latest = new Map<string, RunRecord>();
  for (const run of runs) if (!latest.has(run.host)) latest.set(run.host, run);
  const hosts = [...latest.values()].sort((a, b) => a.host.localeCompare(b.host));
  return html`<section id="live" data-live="overview">
    <h2>Hosts</h2>
    ${
      hosts.length === 0
        ? html`<p class="meta">
            No runs yet: start one with <code>jarvis deploy &lt;source&gt;</code> or POST /runs.
          </p>`
        : html`<table id="hosts">
            <thead>
              <tr>
                <th>Host</th>
                <th>State</th>
                <th>Pipeline</th>
                <th>Step</th>
                <th>Last change</th>
              </tr>
            </thead>
            <tbody>
              ${hosts.map(hostRow)}
            </tbody>
          </table>`
    }
    <h2>Runs</h2>
    <table id="runs">
      <thead>
        <tr>
          <th>Run</th>
          <th>Host</th>
          <th>Pipeline</th>
          <th>State</th>
          <th>Step</th>
          <th>Error</th>
          <th>By</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        ${runs.map(runRow)}
      </tbody>
    </table>
  </section>`;
}

/** The whole overview page. */
export function overviewPage(assets: WebAssets, viewer: Viewer, runs: readonly RunRecord[]): SafeHtml {
  return layout(
    assets,
    "Overview",
    viewer,
    html`<h1>Overview</h1>
      ${overviewSection(runs)}`,
  );
}
