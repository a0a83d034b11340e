/**
 * A job's targets are one selector, whatever they look like (review finding: a word was read as a
 * selector or a host by its shape). The examples, and host lists that name a node jarvis
 * does not know, which are refused instead of silently left out.
 */
import { describe, expect, it } from "vitest";
import { typeChatCommand } from "../../../src/commands/typed-command.js";
import { parseCommand } from "../../../src/commands/command-parser.js";
import { hostsSelectedBy, normalSelectorText, resolveJobHosts } from "../../../src/commands/job-targets.js";
import { fixedNodeDirectory } from "../../../src/inventory/select-nodes.js";
import type { NodeView } from "../../../src/inventory/node-view.js";
import { JobError, SelectorError } from "../../../src/errors.js";

function node(host: string, groups: string[], family: string): NodeView {
  return { host, groups, online: true, lastSeen: null, agentVersion: "1", facts: { os: { family } } };
}

const directory = fixedNodeDirectory([
  node("web-1", ["web"], "debian"),
  node("web-2", ["web"], "debian"),
  node("db-1", ["db"], "redhat"),
  node("mail.example.test", ["mail"], "debian"),
]);

function typed(line: string) {
  const parsed = parseCommand(line);
  if (parsed.kind !== "command") throw new Error(parsed.kind === "error" ? parsed.message : "ignored");
  return typeChatCommand(parsed.command.verb, parsed.command.args, parsed.command.text);
}

async function hostsOf(line: string): Promise<string[]> {
  const command = typed(line);
  if (!("targets" in command)) throw new Error(`${line}: no targets`);
  return resolveJobHosts(directory, command.targets);
}

describe("job targets: one selector grammar", () => {
  it.each([
    ["ping web-*", ["web-1", "web-2"]],
    ['run "apt-get -s upgrade" on os.family=debian', ["mail.example.test", "web-1", "web-2"]],
    ["service nginx restarted on group=web --batch 2", ["web-1", "web-2"]],
    ["ping web-1 db-*", ["db-1", "web-1"]],
    ["ping where group=db", ["db-1"]],
    ["ping web-* and not web-2", ["web-1"]],
    // A dotted host name is a host, not a fact path read by its shape.
    ["ping mail.example.test", ["mail.example.test"]],
    ['execute "true" on group="web"', ["web-1", "web-2"]],
  ])("%s", async (line, hosts) => {
    expect(await hostsOf(line)).toEqual(hosts);
  });

  it("keeps the selector as typed, quotes included, and the batch apart", () => {
    expect(typed('service nginx restarted on os.family="debian" and group=web --batch 50%')).toEqual({
      verb: "service",
      name: "nginx",
      state: "restarted",
      targets: { words: [], where: 'os.family="debian" and group=web' },
      batch: { percent: 50 },
    });
  });

  it("refuses a host list that names an unknown node, rather than leaving it out", async () => {
    await expect(hostsOf("ping web-1 web-9")).rejects.toThrow(JobError);
    await expect(hostsOf("ping web-1 web-9")).rejects.toThrow(/web-9: no such node/);
    await expect(hostsOf("ping group=nosuch")).rejects.toThrow(/no node matches/);
  });

  it("reads a mixed line through the selector parser, which names the column", async () => {
    // Before: `web-1 group=web` was read as a selector because one word was not host-shaped.
    await expect(hostsOf("ping web-1 group=web")).rejects.toThrow(SelectorError);
    await expect(hostsOf("ping web-1 group=web")).rejects.toThrow(
      /expected 'and', 'or' or the end, found 'group' at column 7/,
    );
    expect(() => typed("ping web-1 --batch 2 db-1")).toThrow(/--batch N comes last/);
    expect(() => typed("ping where")).toThrow(/name the nodes after 'on'/);
  });
});

describe("a page of jobs by selector", () => {
  it("keeps a selector as chat's `on` and the API store it, so either finds the other's jobs", () => {
    for (const text of ["group=web", "  group=web ", "where group=web", "WHERE  group=web"])
      expect(normalSelectorText(text)).toBe("group=web");
    expect(typed("ping where  group=web ")).toMatchObject({ targets: { where: "group=web" } });
    // Quotes and inner spacing are the selector's own.
    expect(normalSelectorText(' os.family = "deb ian" ')).toBe('os.family = "deb ian"');
    expect(normalSelectorText("whereabouts=x")).toBe("whereabouts=x");
  });

  it("resolves the hosts a selector matches now, none being an answer, and names a bad column", async () => {
    expect(await hostsSelectedBy(directory, "os.family=debian and not group=mail")).toEqual([
      "web-1",
      "web-2",
    ]);
    expect(await hostsSelectedBy(directory, "group=nobody")).toEqual([]);
    await expect(hostsSelectedBy(directory, "group=web and")).rejects.toMatchObject({
      code: "E_USAGE",
      message: expect.stringMatching(/column 14/),
    });
    await expect(hostsSelectedBy(undefined, "group=web")).rejects.toBeInstanceOf(JobError);
  });
});
