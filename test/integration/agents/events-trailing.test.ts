/**
 * Trailing rule firings, on a real store shared by two services: the first event of a burst fires
 * the rule, the events after it within the debounce are held (the latest wins, whichever service
 * kept it), and the held one fires exactly once when the debounce ends, audited and announced like
 * the first. Held events outlive the services that held them: a service that starts fires them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../helpers/net.js";
import { makeJarvisEnv } from "../../helpers/jarvis-env.js";
import type { JarvisEnv } from "../../helpers/jarvis-env.js";
import { openJarvis } from "../../../src/service.js";
import type { Jarvis } from "../../../src/service.js";
import { RuleFirer } from "../../../src/events/rule-firer.js";
import { openNodeFile } from "../../../src/inventory/node-file.js";
import type { NewNodeEvent } from "../../../src/store/node-event-store.js";

let env: JarvisEnv;
const services: Jarvis[] = [];
const firers: RuleFirer[] = [];
const announced: string[] = [];

async function service(execute: boolean): Promise<{ jarvis: Jarvis; firer: RuleFirer }> {
  const jarvis = await openJarvis(env.config(), { execute, pollMs: 200 });
  const firer = new RuleFirer({
    rules: jarvis.config.rules,
    store: jarvis.store,
    control: jarvis.control,
    acl: jarvis.config.chat.acl,
    nodes: await openNodeFile(join(env.dir, "nodes.yml")),
    log: () => undefined,
  });
  firer.onAnnounce((room, line) => announced.push(`${room} ${line}`));
  services.push(jarvis);
  firers.push(firer);
  return { jarvis, firer };
}

function change(id: string, host: string, file: string): NewNodeEvent {
  return { id, host, kind: "file_changed", at: Date.now(), data: { path: `/etc/nginx/${file}` } };
}

beforeAll(() => {
  env = makeJarvisEnv({
    pipelines: { reconfigure: "steps:\n  - ok:reconfigure\n" },
    extraConfig: [
      "rules:",
      "  - name: nginx-changed",
      '    on: {event: file_changed, path: "/etc/nginx/*"}',
      "    run: reconfigure",
      '    source: "{host}.yml"',
      "    debounce: 2s",
      '    announce: ["irc:#ops"]',
      "acl:",
      "  roles:",
      "    reconfigure: {commands: [run], hosts: ['web-*']}",
      "  people:",
      "    rules: {identities: ['rule:nginx-changed'], roles: [reconfigure]}",
    ].join("\n"),
  });
  env.write("nodes.yml", "nodes:\n  - {host: web-1, groups: [web]}\n  - {host: web-2, groups: [web]}\n");
  mkdirSync(join(env.dir, "designs"));
  for (const host of ["web-1", "web-2"])
    writeFileSync(join(env.dir, "designs", `${host}.yml`), `instance: {hostname: ${host}}\n`);
});

afterAll(async () => {
  for (const firer of firers) firer.stop();
  for (const jarvis of services) await jarvis.close();
});

describe("a rule's trailing firing", () => {
  it("fires the last event of a burst once when the debounce ends, whichever of two services held it", async () => {
    const a = await service(true);
    const b = await service(false);
    const events = [
      change("w1-a", "web-1", "a.conf"),
      change("w1-b", "web-1", "b.conf"),
      change("w1-c", "web-1", "c.conf"),
    ];
    for (const e of events) await a.jarvis.store.recordNodeEvent(e);
    expect(await a.firer.consider(events[0]!)).toHaveLength(1);
    // Within the debounce: held, not fired; the later one (kept by the other service) wins.
    expect(await a.firer.consider(events[1]!)).toEqual([]);
    expect(await b.firer.consider(events[2]!)).toEqual([]);

    const firing = await eventually(
      async () => {
        const f = await a.jarvis.store.getRuleFiring("nginx-changed", "web-1");
        return f?.eventId === "w1-c" && f.runId ? f : undefined;
      },
      60_000,
      "the held event's firing",
    );
    const runs = await a.jarvis.store.listRuns({ host: "web-1" });
    expect(runs.map((r) => r.id)).toContain(firing.runId);
    expect(runs).toHaveLength(2);
    expect(await a.jarvis.store.heldRuleEvents()).toEqual([]);
    const started = announced.filter((l) => l.includes("web-1") && l.includes("started"));
    expect(started).toHaveLength(2);
    expect(started[1]).toContain(
      "irc:#ops rule nginx-changed: file_changed /etc/nginx/c.conf on web-1 (the last within the debounce): reconfigure started",
    );
    const audit = (await a.jarvis.control.listAudit(50)).filter(
      (e) => e.identity === "rule:nginx-changed" && e.command.includes("web-1"),
    );
    expect(audit.map((e) => e.decision)).toEqual(["allowed", "allowed"]);
  }, 120_000);

  it("is fired by a service that starts when the services that held it have stopped", async () => {
    const a = await service(true);
    const first = change("w2-a", "web-2", "a.conf");
    const second = change("w2-b", "web-2", "b.conf");
    for (const e of [first, second]) await a.jarvis.store.recordNodeEvent(e);
    expect(await a.firer.consider(first)).toHaveLength(1);
    expect(await a.firer.consider(second)).toEqual([]);
    for (const firer of firers) firer.stop();
    expect(await a.jarvis.store.heldRuleEvents()).toEqual([{ rule: "nginx-changed", host: "web-2" }]);

    const c = await service(true);
    await c.firer.resume();
    const firing = await eventually(
      async () => {
        const f = await c.jarvis.store.getRuleFiring("nginx-changed", "web-2");
        return f?.eventId === "w2-b" && f.runId ? f : undefined;
      },
      60_000,
      "the held event fired by the new service",
    );
    expect((await c.jarvis.store.listRuns({ host: "web-2" })).map((r) => r.id)).toContain(firing.runId);
    expect(await c.jarvis.store.listRuns({ host: "web-2" })).toHaveLength(2);
    expect(await c.jarvis.store.heldRuleEvents()).toEqual([]);
  }, 120_000);
});
