/**
 * The overview: every host with its latest run (a page of the store's per-host index, so it does
 * not depend on how many runs there are), and the newest runs. Rows of runs that are still
 * going carry `data-follow`, which the client module follows through the API's event stream to
 * redraw this section in place.
 */
import { html } from "./html.js";
import type { SafeHtml } from "./html.js";
import { formatTime, layout } from "./page-layout.js";
import type { Viewer } from "./page-layout.js";
import type { WebAssets } from "./web-assets.js";
import type { HostEntry, HostPage, RunView } from "../store/run-store.js";

/** Runs that may still change. */
export function isActive(run: RunView): boolean {
  return run.state === "queued" || run.state === "running";
}

function where(run: RunView): string {
  if (run.stepIndex < 0) return `0/${run.totalSteps}`;
  return `${run.stepIndex + 1}/${run.totalSteps} ${run.stepName ?? ""}`.trim();
}

function stateCell(state: string): SafeHtml {
  return html`<td class="state state-${state}">${state}</td>`;
}

function runRow(run: RunView): SafeHtml {
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

function hostRow({ host, latest, runCount }: HostEntry): SafeHtml {
  return html`<tr data-host="${host}">
    <td>${host}</td>
    ${stateCell(latest.state)}
    <td><a href="/run/${encodeURIComponent(latest.id)}">${latest.pipeline}</a></td>
    <td>${where(latest)}</td>
    <td>${runCount}</td>
    <td>${formatTime(latest.finishedAt ?? latest.startedAt ?? latest.createdAt)}</td>
  </tr>`;
}

/** The live part of the overview (the client swaps it for a fresh copy when a run changes). */
export function overviewSection(hosts: HostPage, runs: readonly RunView[]): SafeHtml {
  return html`<section id="live" data-live="overview">
    <h2>Hosts <span class="meta">(${hosts.total})</span></h2>
    ${
      hosts.hosts.length === 0
        ? html`<p class="meta">
            No runs yet: start one with <code>jarvis run deploy &lt;source&gt;</code> or POST /runs.
          </p>`
        : html`<table id="hosts">
            <thead>
              <tr>
                <th>Host</th>
                <th>State</th>
                <th>Pipeline</th>
                <th>Step</th>
                <th>Runs</th>
                <th>Last change</th>
              </tr>
            </thead>
            <tbody>
              ${hosts.hosts.map(hostRow)}
            </tbody>
          </table>`
    }
    ${
      hosts.next !== null
        ? html`<p><a id="more-hosts" href="/?after=${encodeURIComponent(hosts.next)}">More hosts</a></p>`
        : null
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
export function overviewPage(
  assets: WebAssets,
  viewer: Viewer,
  hosts: HostPage,
  runs: readonly RunView[],
): SafeHtml {
  return layout(
    assets,
    "Overview",
    viewer,
    html`<h1>Overview</h1>
      ${overviewSection(hosts, runs)}`,
  );
}
