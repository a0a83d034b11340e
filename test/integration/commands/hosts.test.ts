/**
 * `hosts` and `hosts where <selector>` through the dispatcher every front shares: chat (the console
 * adapter, as every network) over a directory jarvis is handed, and the CLI binary over the node
 * file jarvis.yml names for `inventory:query`.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PassThrough } from "node:stream";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { startBot } from "../../../src/bot/bot.js";
import type { Bot } from "../../../src/bot/bot.js";
import { fixedNodeDirectory } from "../../../src/inventory/select-nodes.js";
import type { NodeView } from "../../../src/inventory/node-view.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";

const open: { jarvis: Jarvis; bot?: Bot }[] = [];
afterEach(async () => {
  for (const { jarvis, bot } of open.splice(0)) {
    await bot?.close();
    await jarvis.close();
  }
});

function node(host: string, groups: string[], apache2: string, online = true): NodeView {
  return {
    host,
    groups,
    online,
    lastSeen: online ? Date.now() : null,
    agentVersion: "0.1.0",
    facts: { os: { family: "debian" }, packages: { apache2 }, memory: { mb: 2048 } },
  };
}

async function chat(jarvis: Jarvis): Promise<(line: string, until: string) => Promise<string>> {
  const input = new PassThrough();
  const output = new PassThrough();
  let said = "";
  output.on("data", (chunk: Buffer) => (said += chunk.toString()));
  const bot = await startBot(jarvis, { input, output, interactive: true, log: () => undefined });
  open.push({ jarvis, bot });
  return async (line, until) => {
    const from = said.length;
    input.write(`${line}\n`);
    return eventually(
      () => (said.slice(from).includes(until) ? said.slice(from) : undefined),
      30_000,
      `'${until}' after '${line}' in ${said.slice(from)}`,
    );
  };
}

describe("hosts in chat", () => {
  it("lists the nodes a selector picks, and points at the column of a mistake", async () => {
    const env = makeJarvisEnv();
    const jarvis = await openJarvis(env.config(), {
      nodes: fixedNodeDirectory([
        node("web-2", ["web"], "2.4.57-2"),
        node("web-1", ["web"], "2.4.49-1"),
        node("db-1", ["db"], "2.4.49-1", false),
      ]),
    });
    const say = await chat(jarvis);

    const answer = await say("hosts where os.family=debian and packages.apache2<2.4.50", "node(s)");
    expect(answer).toContain("2 node(s) where os.family=debian and packages.apache2<2.4.50:");
    expect(answer).toMatch(/db-1: offline \(never seen, agent 0\.1\.0, groups db\)/);
    expect(answer).toMatch(/web-1: online \(seen .* ago, agent 0\.1\.0, groups web\)/);
    expect(answer).not.toContain("web-2");

    expect(await say('hosts where group="web" and not host=web-1', "node(s)")).toContain("web-2: online");
    expect(await say("hosts where memory.mb>=", "column")).toContain(
      "selector: expected a value after '>=' at column 12",
    );
    expect(await say("hosts where group=nope", "no nodes")).toContain("no nodes where group=nope");
    expect(await say("hosts", "node(s)")).toContain("3 node(s):");

    const audit = await jarvis.store.listAudit(10);
    expect(audit.map((a) => [a.command, a.decision])).toContainEqual(["hosts where memory.mb>=", "error"]);
  });

  it("says there is no node store when jarvis has none", async () => {
    const env = makeJarvisEnv();
    const jarvis = await openJarvis(env.config());
    const say = await chat(jarvis);
    expect(await say("hosts", "node store")).toContain("hosts: this jarvis has no node store yet");
  });
});

describe("jarvis hosts", () => {
  it("answers --where from the node file jarvis.yml names, as text and JSON; exit 2 on a bad selector", async () => {
    const nodesDir = mkdtempSync(join(tmpdir(), "jarvis-nodes-"));
    const nodeFile = join(nodesDir, "nodes.yml");
    writeFileSync(
      nodeFile,
      [
        "nodes:",
        "  - {host: web-1, groups: [web], online: true, last_seen: 1, facts: {hostname: web-1}}",
        "  - {host: app-1, groups: [app], facts: {hostname: app-1}}",
        "",
      ].join("\n"),
    );
    const env = makeJarvisEnv({
      extraConfig: `modules:\n  inventory:\n    with:\n      directory: {kind: file, path: ${nodeFile}}\n`,
    });
    const text = await env.cli(["hosts", "--where", "hostname=web-*"]);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^web-1: online \(seen .* ago, agent \?, groups web\)\n$/);

    const json = await env.cli(["hosts", "--json"]);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as NodeView[]).map((n) => n.host)).toEqual(["app-1", "web-1"]);

    const bad = await env.cli(["hosts", "--where", "hostname=web-* or"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "selector: expected a host, a fact or 'group' (as in web-*, os.family=debian), found the end at column 18",
    );
  });

  it("exits 3 when no node directory is configured", async () => {
    const env = makeJarvisEnv();
    const result = await env.cli(["hosts"]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain("no node store yet");
  });
});
