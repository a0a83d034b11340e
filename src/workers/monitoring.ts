/**
 * The `monitoring` step module: `monitoring:suppress` silences the host's alerts in Alertmanager
 * (API v2) for a lease, so monitoring comes back by itself if jarvis dies mid-run;
 * `monitoring:enable` expires that silence (and converges when it is gone already). Settings
 * (jarvis.yml `modules.monitoring`): `with.url`, `lease` (default 2h), `matchers`, `timeout`;
 * optional `env.ALERTMANAGER_TOKEN` (Bearer). Without `url` both tasks say so and do nothing.
 */
import { runStepModule, requireField, StepFailure } from "../step-sdk/define-step.js";
import type { Clipboard, StepContext } from "../step-sdk/define-step.js";
import { parseDuration } from "../pipeline/duration.js";
import { isPlaceholder, placeholderText, withPlaceholders, withPlanEntries } from "../step-sdk/plan.js";

/** Environment variable with an optional bearer token for Alertmanager (or a proxy before it). */
export const ALERTMANAGER_TOKEN_ENV = "ALERTMANAGER_TOKEN";

/** One Alertmanager matcher. */
export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

/**
 * The matchers of the host's silence: `with.matchers` (`{name, value, regex}`, where `{hostname}`
 * and `{fqdn}` in value are filled in), else `instance` matching the host name or fqdn with any port.
 */
export function silenceMatchers(clipboard: Clipboard, params: Record<string, unknown>): Matcher[] {
  const hostname = requireField(clipboard, "instance.hostname", "string") as string;
  const fqdnRaw = (clipboard.instance as Record<string, unknown>).fqdn;
  const fqdn = typeof fqdnRaw === "string" && fqdnRaw !== "" ? fqdnRaw : hostname;
  if (params.matchers === undefined) {
    const names = [...new Set([hostname, fqdn])].map(escapeRegex).join("|");
    return [{ name: "instance", value: `(${names})(:[0-9]+)?`, isRegex: true, isEqual: true }];
  }
  if (!Array.isArray(params.matchers) || params.matchers.length === 0) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      "monitoring: modules.monitoring.with.matchers must be a non-empty list of {name, value, regex}",
    );
  }
  return params.matchers.map((m: unknown, i) => {
    const r = m as Record<string, unknown> | null;
    if (!r || typeof r.name !== "string" || typeof r.value !== "string") {
      throw new StepFailure("E_STEP_PARAMS", `monitoring: matchers[${i}] needs a string name and value`);
    }
    const regex = r.regex === true;
    const fill = (v: string): string => (regex ? escapeRegex(v) : v);
    const value = r.value.replaceAll("{hostname}", fill(hostname)).replaceAll("{fqdn}", fill(fqdn));
    return { name: r.name, value, isRegex: regex, isEqual: r.equal !== false };
  });
}

/** Create (or renew) the host's silence; records `monitoring: {silence_id, ends_at}`. */
export async function suppress(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const api = apiFrom(ctx);
  if (!api) {
    ctx.log("monitoring: not configured (modules.monitoring.with.url in jarvis.yml), skipping");
    return;
  }
  const leaseMs =
    ctx.params.lease === undefined
      ? 2 * 3600_000
      : parseDuration(ctx.params.lease, "monitoring: modules.monitoring.with.lease");
  const matchers = silenceMatchers(clipboard, ctx.params);
  // Renew our own silence when it is still in force, so a re-run does not pile up silences; after a
  // crash between creating it and saving the clipboard, find it by its matchers and author.
  let previous = silenceIdOf(clipboard);
  if (previous === undefined || !inForce(await api.get(previous)))
    previous = await findOwnSilence(api, matchers);
  const renew = previous !== undefined;
  const now = new Date();
  const endsAt = new Date(now.getTime() + leaseMs);
  const hostname = clipboard.instance && (clipboard.instance as Record<string, unknown>).hostname;
  const body = {
    ...(renew ? { id: previous } : {}),
    matchers,
    startsAt: now.toISOString(),
    endsAt: endsAt.toISOString(),
    createdBy: "jarvis",
    comment: `jarvis run ${ctx.runId || "(manual)"}: ${String(hostname)} is being deployed; expires by itself at ${endsAt.toISOString()}`,
  };
  const created = (await api.call("POST", "/api/v2/silences", body)) as { silenceID?: unknown } | undefined;
  const id = created?.silenceID;
  if (typeof id !== "string")
    throw new StepFailure(
      "E_MONITORING_REPLY",
      `monitoring: Alertmanager at ${api.url} answered without a silenceID`,
    );
  ctx.log(
    `monitoring: alerts for ${String(hostname)} silenced until ${endsAt.toISOString()} (silence ${id})`,
  );
  const section =
    clipboard.monitoring && typeof clipboard.monitoring === "object"
      ? (clipboard.monitoring as Record<string, unknown>)
      : {};
  return { ...clipboard, monitoring: { ...section, silence_id: id, ends_at: endsAt.toISOString() } };
}

/** Expire the recorded silence; converges when there is none or it has expired already. */
export async function enable(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard | void> {
  const api = apiFrom(ctx);
  if (!api) {
    ctx.log("monitoring: not configured (modules.monitoring.with.url in jarvis.yml), skipping");
    return;
  }
  const id = silenceIdOf(clipboard);
  if (id === undefined) {
    ctx.log("monitoring: no silence recorded on the clipboard (monitoring.silence_id); nothing to enable");
    return;
  }
  const silence = await api.get(id);
  if (silence && silence.status?.state !== "expired") {
    await api.call("DELETE", `/api/v2/silence/${encodeURIComponent(id)}`);
    ctx.log(`monitoring: silence ${id} removed; alerts are back on`);
  } else {
    ctx.log(`monitoring: silence ${id} already ${silence ? "expired" : "gone"}; alerts are on`);
  }
  const {
    silence_id: _gone,
    ends_at: _end,
    ...rest
  } = (clipboard.monitoring ?? {}) as Record<string, unknown>;
  return { ...clipboard, monitoring: { ...rest, enabled_at: new Date().toISOString() } };
}

/**
 * Plan of suppress: the silence it would create, or the one of jarvis's it would renew (found the
 * way suppress finds it, by reading only); its id and end are placeholders until the real run.
 */
export async function planSuppress(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const api = apiFrom(ctx);
  const step = ctx.step;
  if (!api)
    return withPlanEntries(clipboard, [
      { step, action: "none", target: "monitoring (not configured)", before: null, after: null },
    ]);
  const lease = ctx.params.lease === undefined ? "2h" : ctx.params.lease;
  parseDuration(lease, "monitoring: modules.monitoring.with.lease");
  const matchers = silenceMatchers(clipboard, ctx.params);
  const hostname = requireField(clipboard, "instance.hostname", "string") as string;
  let previous = isPlaceholder(clipboard, "monitoring.silence_id") ? undefined : silenceIdOf(clipboard);
  if (previous === undefined || !inForce(await api.get(previous)))
    previous = await findOwnSilence(api, matchers);
  const target = `alertmanager silence for ${hostname} at ${api.url}`;
  const after = { matchers, lasts: lease, created_by: "jarvis" };
  const placeholder = (what: string): string => placeholderText(what, hostname, step);
  const values: Record<string, string> = { "monitoring.ends_at": placeholder("silence end") };
  if (previous === undefined) values["monitoring.silence_id"] = placeholder("silence id");
  const next = withPlaceholders(
    previous === undefined
      ? clipboard
      : {
          ...clipboard,
          monitoring: { ...(clipboard.monitoring as object | undefined), silence_id: previous },
        },
    values,
  );
  return withPlanEntries(next, [
    previous === undefined
      ? { step, action: "create", target, before: null, after }
      : { step, action: "update", target, before: { id: previous }, after: { id: previous, ...after } },
  ]);
}

/** Plan of enable: the silence it would expire, if one is recorded and still in force. */
export async function planEnable(clipboard: Clipboard, ctx: StepContext): Promise<Clipboard> {
  const api = apiFrom(ctx);
  const step = ctx.step;
  const id = silenceIdOf(clipboard);
  const none = (target: string): Clipboard =>
    withPlanEntries(clipboard, [{ step, action: "none", target, before: null, after: null }]);
  if (!api) return none("monitoring (not configured)");
  if (id === undefined) return none("alertmanager silence (none recorded)");
  const target = `alertmanager silence ${id} at ${api.url}`;
  const planned = isPlaceholder(clipboard, "monitoring.silence_id");
  if (!planned && !inForce(await api.get(id))) return none(target);
  const {
    silence_id: _gone,
    ends_at: _end,
    ...rest
  } = (clipboard.monitoring ?? {}) as Record<string, unknown>;
  const hostname = requireField(clipboard, "instance.hostname", "string") as string;
  const next = withPlaceholders(
    { ...clipboard, monitoring: rest },
    { "monitoring.enabled_at": placeholderText("time alerts come back", hostname, step) },
  );
  return withPlanEntries(next, [{ step, action: "delete", target, before: { id }, after: null }]);
}

interface AlertmanagerApi {
  url: string;
  call(method: string, path: string, body?: unknown): Promise<unknown>;
  get(id: string): Promise<{ status?: { state?: string } } | undefined>;
}

function apiFrom(ctx: StepContext): AlertmanagerApi | undefined {
  const raw = ctx.params.url;
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !/^https?:\/\/[^/]+/.test(raw)) {
    throw new StepFailure(
      "E_STEP_PARAMS",
      `monitoring: modules.monitoring.with.url must be Alertmanager's http(s) URL, e.g. http://alertmanager:9093`,
    );
  }
  const url = raw.replace(/\/+$/, "");
  const timeoutMs = (typeof ctx.params.timeout === "number" ? ctx.params.timeout : 10) * 1000;
  const token = ctx.env[ALERTMANAGER_TOKEN_ENV];
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    let res: Response;
    try {
      res = await fetch(`${url}${path}`, {
        method,
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]),
        redirect: "error",
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new StepFailure(
        "E_MONITORING_UNREACHABLE",
        `monitoring: Alertmanager at ${url} unreachable (${why}); is it running?`,
        { retryable: true },
      );
    }
    const text = (await res.text()).trim();
    if (res.status === 401 || res.status === 403) {
      throw new StepFailure(
        "E_MONITORING_AUTH",
        `monitoring: Alertmanager at ${url} refused jarvis (HTTP ${res.status}); check ${ALERTMANAGER_TOKEN_ENV} in modules.monitoring.env`,
      );
    }
    if (res.status === 404 && method === "GET") return undefined;
    if (!res.ok) {
      throw new StepFailure(
        "E_MONITORING_HTTP",
        `monitoring: ${method} ${path} at ${url} failed: HTTP ${res.status} ${text.slice(0, 300)}`,
        { retryable: res.status >= 500 },
      );
    }
    try {
      return text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new StepFailure(
        "E_MONITORING_REPLY",
        `monitoring: ${method} ${path} at ${url} answered with something that is not JSON: ${text.slice(0, 100)}`,
      );
    }
  };
  return {
    url,
    call,
    get: async (id) =>
      (await call("GET", `/api/v2/silence/${encodeURIComponent(id)}`)) as
        { status?: { state?: string } } | undefined,
  };
}

function inForce(silence: { status?: { state?: string } } | undefined): boolean {
  return ["active", "pending"].includes(String(silence?.status?.state));
}

async function findOwnSilence(api: AlertmanagerApi, matchers: Matcher[]): Promise<string | undefined> {
  const all = (await api.call("GET", "/api/v2/silences")) as
    { id?: string; createdBy?: string; status?: { state?: string }; matchers?: Matcher[] }[] | undefined;
  const key = (ms: Matcher[]): string =>
    JSON.stringify(ms.map((m) => [m.name, m.value, m.isRegex, m.isEqual !== false]).sort());
  const found = (all ?? []).find(
    (s) =>
      s.createdBy === "jarvis" &&
      inForce(s) &&
      Array.isArray(s.matchers) &&
      key(s.matchers) === key(matchers),
  );
  return found?.id;
}

function silenceIdOf(clipboard: Clipboard): string | undefined {
  const m = clipboard.monitoring as Record<string, unknown> | undefined;
  return m && typeof m.silence_id === "string" && m.silence_id !== "" ? m.silence_id : undefined;
}

function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

runStepModule(
  import.meta.url,
  { suppress, enable },
  { plan: { suppress: planSuppress, enable: planEnable } },
);
