/**
 * The nodes a job command names: after `on`, host names and globs (`web-1 db-*`), or a selector
 * (`where group=web`, or words that are not host names: `group=web`, `os.family=debian`). Globs
 * and selectors are resolved over the node directory before the ACL sees the hosts.
 */
import { CommandError, JobError } from "../errors.js";
import { globMatch } from "./acl.js";
import { selectNodes } from "../inventory/select-nodes.js";
import type { NodeDirectory } from "../inventory/node-view.js";
import type { BatchSize, JobTargets } from "../jobs/job.js";

/** A host name or a glob over host names: nothing a selector needs (`=`, `<`, `>`, `!`). */
const HOST_OR_GLOB = /^[A-Za-z0-9*?._-]+$/u;

/** The targets of the words after `on`. */
export function jobTargetsOf(words: readonly string[]): JobTargets {
  if (words.length === 0)
    throw new CommandError("E_USAGE", "name the nodes after 'on': hosts, globs or where <selector>");
  if (words[0]?.toLowerCase() === "where") {
    if (words.length === 1)
      throw new CommandError("E_USAGE", "'where' needs a selector, e.g. where group=web");
    return { words: [], where: words.slice(1).join(" ") };
  }
  if (words.every((w) => HOST_OR_GLOB.test(w))) return { words: [...words] };
  return { words: [], where: words.join(" ") };
}

/** `--batch N` or `--batch N%`. */
export function batchOf(text: string): BatchSize {
  const m = /^([0-9]{1,6})(%?)$/u.exec(text);
  const n = Number(m?.[1] ?? 0);
  if (!m || n < 1 || (m[2] && n > 100))
    throw new CommandError("E_USAGE", `'${text.slice(0, 20)}' is not a batch size; give N or N% (1-100)`);
  return m[2] ? { percent: n } : { count: n };
}

/** The hosts, in order: names as given, globs over the known nodes, selectors over their facts. */
export async function resolveJobHosts(
  directory: NodeDirectory | undefined,
  targets: JobTargets,
): Promise<string[]> {
  const needsDirectory = targets.where !== undefined || targets.words.some((w) => /[*?]/u.test(w));
  if (needsDirectory && !directory)
    throw new JobError(
      "E_JOB_NO_TARGETS",
      "globs and selectors need the agents' node store (agents: in jarvis.yml)",
    );
  const hosts: string[] = [];
  if (targets.where !== undefined)
    hosts.push(...(await selectNodes(directory!, targets.where)).map((n) => n.host));
  const known = needsDirectory ? (await directory!.list()).map((n) => n.host).sort() : [];
  for (const word of targets.words) {
    if (/[*?]/u.test(word)) hosts.push(...known.filter((host) => globMatch(word, host)));
    else hosts.push(word);
  }
  const unique = [...new Set(hosts)];
  if (unique.length === 0)
    throw new JobError("E_JOB_NO_TARGETS", "no node matches the job's targets; see 'hosts'");
  return unique;
}
