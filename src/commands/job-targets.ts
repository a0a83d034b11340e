/**
 * The nodes a job goes to. Chat's words after `on` are one selector (src/inventory/selector-parser.ts),
 * whatever they look like: `web-*`, `web-1 db-2`, `group=web`, `os.family=debian and online=true`;
 * a leading `where` may say so. The HTTP API's `targets` list holds host names and globs only,
 * each read by the same rule as a bare host in a selector. Both are resolved over the node
 * directory (the nodes whose agents have reported, online or not) before the ACL sees the hosts.
 */
import { CommandError, JobError, SelectorError } from "../errors.js";
import { hostPattern, parseSelector } from "../inventory/selector-parser.js";
import type { Selector } from "../inventory/selector-parser.js";
import { globMatch } from "../inventory/selector-match.js";
import { selectNodes } from "../inventory/select-nodes.js";
import type { NodeDirectory } from "../inventory/node-view.js";
import type { BatchSize, JobTargets } from "../jobs/job.js";

/**
 * A selector as a job keeps it: trimmed, without a leading `where`. A page of jobs by selector
 * looks for the text normalised alike, however it was typed.
 */
export function normalSelectorText(text: string): string {
  const trimmed = text.trim();
  return /^where(\s+|$)/iu.exec(trimmed) ? trimmed.slice(5).trim() : trimmed;
}

/** The targets of the text after `on`, as typed: one selector. */
export function jobTargetsOf(text: string): JobTargets {
  const where = normalSelectorText(text);
  if (where === "")
    throw new CommandError(
      "E_USAGE",
      "name the nodes after 'on': hosts or globs (web-*), or a selector (group=web)",
    );
  return { words: [], where };
}

/** `--batch N` or `--batch N%`. */
export function batchOf(text: string): BatchSize {
  const m = /^([0-9]{1,6})(%?)$/u.exec(text);
  const n = Number(m?.[1] ?? 0);
  if (!m || n < 1 || (m[2] && n > 100))
    throw new CommandError("E_USAGE", `'${text.slice(0, 20)}' is not a batch size; give N or N% (1-100)`);
  return m[2] ? { percent: n } : { count: n };
}

/** The one selector `targets` stand for: the selector, or the host list, or either. */
export function targetSelector(targets: JobTargets): Selector {
  const parts: Selector[] = [];
  if (targets.where !== undefined) parts.push(parseSelector(targets.where));
  if (targets.words.length > 0)
    parts.push({ kind: "hosts", patterns: targets.words.map((w) => ({ text: hostPattern(w), column: 1 })) });
  const [only] = parts;
  if (parts.length === 1 && only) return only;
  if (parts.length === 0) throw new CommandError("E_USAGE", "a job needs targets: hosts or a selector");
  return { kind: "or", terms: parts };
}

/**
 * The hosts a selector matches now, in host order (none is an answer: a page of their jobs is
 * empty); a selector that does not parse is the caller's input to fix, its column named.
 */
export async function hostsSelectedBy(
  directory: NodeDirectory | undefined,
  where: string,
): Promise<string[]> {
  if (!directory)
    throw new JobError(
      "E_JOB_NO_TARGETS",
      "selectors need the agents' node store: configure agents: in jarvis.yml (docs/agents.md)",
    );
  let selector: Selector;
  try {
    selector = parseSelector(where);
  } catch (error) {
    if (error instanceof SelectorError) throw new CommandError("E_USAGE", error.message, { cause: error });
    throw error;
  }
  return (await selectNodes(directory, selector)).map((n) => n.host);
}

/**
 * The hosts, in host order. A list of hosts (`ping web-1 db-*`) names every one of them: a name
 * or glob that matches no known node is an error, not a silent omission; a selector picks what it
 * matches.
 */
export async function resolveJobHosts(
  directory: NodeDirectory | undefined,
  targets: JobTargets,
): Promise<string[]> {
  const selector = targetSelector(targets);
  if (!directory)
    throw new JobError(
      "E_JOB_NO_TARGETS",
      "jobs need the agents' node store: configure agents: in jarvis.yml (docs/agents.md)",
    );
  const hosts = (await selectNodes(directory, selector)).map((n) => n.host);
  if (selector.kind === "hosts") {
    const missing = selector.patterns.filter((p) => !hosts.some((host) => globMatch(p.text, host)));
    if (missing.length > 0)
      throw new JobError(
        "E_JOB_NO_TARGETS",
        `${missing.map((p) => p.text).join(", ")}: no such node; jobs go to nodes whose agent has reported at least once (see hosts)`,
      );
  }
  if (hosts.length === 0)
    throw new JobError("E_JOB_NO_TARGETS", "no node matches the job's targets; see 'hosts'");
  return hosts;
}
