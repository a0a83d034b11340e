/** Agents as processes on a real nats-server: heartbeats, facts (and their updates), a ping job. */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../helpers/net.js";
import { startFleet } from "./fleet.js";
import type { Fleet } from "./fleet.js";

const hosts = ["web-1", "web-2", "db-1"];
let fleet: Fleet;

beforeAll(async () => {
  fleet = await startFleet({
    hosts,
    agentYml: (host, dir) => {
      const factsDir = join(dir, "facts.d");
      writeFileSync(join(dir, "role"), "frontend\n");
      const script = `#!/bin/sh\necho "role: $(cat ${join(dir, "role")})"\necho "shards: [1, 2]"\n`;
      mkdirSync(factsDir);
      writeFileSync(join(factsDir, "app.sh"), script);
      chmodSync(join(factsDir, "app.sh"), 0o755);
      return [
        `groups: [${host.split("-")[0]}]`,
        `facts: {static: {datacenter: atlanta}, dir: facts.d, refresh_seconds: 0.5, system: ${host === "web-1"}}`,
        `allow: {operations: [ping, facts, execute]}`,
      ].join("\n");
    },
  });
});
afterAll(async () => fleet?.close());

describe("agents", () => {
  it("come online with their version, groups and facts", async () => {
    const nodes = await eventually(
      async () => {
        const list = await fleet.store.nodes.list();
        return list.length === 3 && list.every((n) => n.online && n.facts.app) ? list : undefined;
      },
      60_000,
      "three nodes online with facts",
    );
    const web1 = nodes.find((n) => n.host === "web-1")!;
    expect(web1.groups).toEqual(["web"]);
    expect(web1.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(web1.facts.datacenter).toBe("atlanta");
    expect(web1.facts.app).toEqual({ role: "frontend", shards: [1, 2] });
    expect(web1.facts.os).toMatchObject({ family: "debian" });
    expect(typeof web1.facts.packages).toBe("object");
    expect(Object.keys(web1.facts.packages as object)).toContain("bash");
    expect(web1.facts.memory).toMatchObject({ mb: expect.any(Number) });
  });

  it("publish facts again when they change, and jarvis keeps the history", async () => {
    writeFileSync(join(fleet.agents.get("db-1")!.dir, "role"), "database\n");
    await eventually(
      async () => {
        const node = await fleet.store.nodes.get("db-1");
        return (node?.facts.app as { role?: string } | undefined)?.role === "database" ? true : undefined;
      },
      60_000,
      "db-1's new role",
    );
    const history = await fleet.store.nodes.factsHistory("db-1", 10);
    expect(history.length).toBeGreaterThanOrEqual(2);
    expect((history[1]!.facts.app as { role: string }).role).toBe("frontend");
  });

  it("answer a ping job, each node acknowledging", async () => {
    const job = await fleet.controller.submit({
      operation: { kind: "ping" },
      hosts,
      targets: { words: hosts },
      options: { timeoutMs: 10_000, ttlMs: 60_000 },
      requester: "test",
    });
    const done = await fleet.controller.waitDone(job.id);
    expect(done.state).toBe("done");
    const { nodes } = await fleet.controller.get(job.id);
    expect(nodes.map((n) => [n.host, n.state, n.message])).toEqual(hosts.map((h) => [h, "ok", "pong"]));
    expect(nodes.every((n) => n.receivedAt !== null)).toBe(true);
  });
});
