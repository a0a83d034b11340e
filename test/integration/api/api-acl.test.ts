/**
 * Configured API tokens: each is the identity api:<name> in the same acl as chat; a role that does
 * not allow a command gets 403 naming the role it needs, and the audit trail records both.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { designFor } from "../../helpers/jarvis-env.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";

const CI_SECRET = "ci-secret-0123456789abcdef";
const VIEWER_SECRET = "viewer-secret-0123456789abcdef";
let jarvis: ApiJarvis;

beforeAll(async () => {
  jarvis = await startApiJarvis({
    pipelines: { quick: "steps:\n  - ok:first\n" },
    apiExtra: 'tokens:\n  ci: "${TOKEN_CI}"\n  viewer: "${TOKEN_VIEWER}"',
    processEnv: { TOKEN_CI: CI_SECRET, TOKEN_VIEWER: VIEWER_SECRET },
    extraConfig: [
      "acl:",
      "  roles:",
      "    deployer: {commands: [run, deploy, retry, cancel, audit], hosts: ['*']}",
      "    reader: {commands: [status]}",
      "  people:",
      "    ci: {roles: [deployer], identities: ['api:ci']}",
      "    viewer: {roles: [reader], identities: ['api:viewer']}",
    ].join("\n"),
  });
  mkdirSync(join(jarvis.env.dir, "designs"));
  writeFileSync(join(jarvis.env.dir, "designs", "loki.yml"), designFor("loki"));
}, 120_000);

afterAll(async () => {
  await jarvis?.stop();
});

const as = (secret: string, path: string, init: RequestInit = {}): Promise<Response> =>
  jarvis.call(path, { ...init, headers: { ...init.headers, authorization: `Bearer ${secret}` } });

describe("HTTP API: tokens and the acl", () => {
  it("lets each token do what its roles allow, and 403s the rest naming the role needed", async () => {
    expect(jarvis.stderr()).not.toContain(CI_SECRET);
    const body = JSON.stringify({ pipeline: "quick", source: "loki.yml" });
    const json = { "content-type": "application/json" };
    const denied = await as(VIEWER_SECRET, "/runs", { method: "POST", headers: json, body });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({
      code: "E_DENIED",
      message: expect.stringContaining("needs role deployer"),
    });
    const allowed = await as(CI_SECRET, "/runs", { method: "POST", headers: json, body });
    expect(allowed.status).toBe(201);
    expect(await allowed.json()).toMatchObject({ host: "loki", requested_by: "api:ci" });
    // Read-only commands are open to listed identities.
    expect((await as(VIEWER_SECRET, "/runs")).status).toBe(200);
    const audit = (await (await as(CI_SECRET, "/audit?identity=api:viewer")).json()) as {
      entries: { decision: string; command: string }[];
    };
    expect(audit.entries).toEqual(
      expect.arrayContaining([expect.objectContaining({ decision: "denied", command: "POST /runs" })]),
    );
    expect((await fetch(`${jarvis.url}/runs`, { headers: { authorization: "Bearer x" } })).status).toBe(401);
  }, 60_000);
});
