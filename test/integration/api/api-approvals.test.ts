/**
 * Approve and deny over the HTTP API against a real `jarvis start`: a pipeline that requires one
 * approval from role leads, started by one token's identity and decided by another's; the
 * requester and people without the role are refused (403). And GET /nodes on a jarvis without a
 * node directory says so.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { designFor } from "../../helpers/jarvis-env.js";
import { eventually } from "../../helpers/net.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";

const CI_SECRET = "ci-secret-0123456789abcdef";
const LEAD_SECRET = "lead-secret-0123456789abcdef";
let jarvis: ApiJarvis;

type Json = Record<string, unknown>;
const as = async (secret: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
  const response = await jarvis.call(path, {
    ...(body === undefined ? {} : { method: "POST" }),
    headers: {
      authorization: `Bearer ${secret}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined || body === null ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Json };
};
/** POST without a body (approve takes none). */
const postEmpty = async (secret: string, path: string): Promise<{ status: number; body: Json }> => {
  const response = await jarvis.call(path, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}` },
  });
  return { status: response.status, body: (await response.json()) as Json };
};

beforeAll(async () => {
  jarvis = await startApiJarvis({
    pipelines: {
      gated: "approval:\n  approvers: role:leads\n  count: 1\n  expires: 30m\nsteps:\n  - ok:first\n",
      quick: "steps:\n  - ok:first\n",
    },
    apiExtra: 'tokens:\n  ci: "${TOKEN_CI}"\n  lead: "${TOKEN_LEAD}"',
    processEnv: { TOKEN_CI: CI_SECRET, TOKEN_LEAD: LEAD_SECRET },
    extraConfig: [
      "acl:",
      "  roles:",
      "    deployer: {commands: [run, status, hosts], hosts: ['*']}",
      "    leads: {commands: [status]}",
      "    approvers: {commands: [approve, deny], hosts: ['*']}",
      "  people:",
      "    ci: {roles: [deployer], identities: ['api:ci']}",
      "    bob: {roles: [leads, approvers], identities: ['api:lead']}",
    ].join("\n"),
  });
  mkdirSync(join(jarvis.env.dir, "designs"));
  for (const host of ["loki", "thor", "odin"])
    writeFileSync(join(jarvis.env.dir, "designs", `${host}.yml`), designFor(host));
}, 120_000);

afterAll(async () => {
  await jarvis?.stop();
});

describe("HTTP API: approvals", () => {
  it("approves a run that awaits approval (it then runs), and denies another with a reason", async () => {
    const started = await as(CI_SECRET, "/runs", { pipeline: "gated", source: "loki.yml" });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ state: "awaiting_approval", approval: { approvers: "role:leads" } });
    const id = String(started.body.id);

    const self = await postEmpty(CI_SECRET, `/runs/${id}/approve`);
    expect(self.status, JSON.stringify(self.body)).toBe(403);
    expect(self.body).toMatchObject({ code: "E_DENIED" });

    const approved = await postEmpty(LEAD_SECRET, `/runs/${id}/approve`);
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({
      verdict: "approve",
      outcome: "approved",
      approvals: 1,
      needed: 1,
      run: { id, state: "queued" },
    });
    const done = await eventually(async () => {
      const run = await as(CI_SECRET, `/runs/${id}`);
      return run.body.state === "succeeded" ? run.body : undefined;
    }, 90_000);
    expect(done).toMatchObject({ approval: { decisions: [{ verdict: "approve", by: "api:lead" }] } });
    const again = await postEmpty(LEAD_SECRET, `/runs/${id}/approve`);
    expect(again.status, JSON.stringify(again.body)).toBe(409);

    const other = await as(CI_SECRET, "/runs", { pipeline: "gated", source: "thor.yml" });
    expect(other.body).toMatchObject({ state: "awaiting_approval" });
    const denied = await as(LEAD_SECRET, `/runs/${String(other.body.id)}/deny`, {
      reason: "not on a Friday",
    });
    expect(denied.status, JSON.stringify(denied.body)).toBe(200);
    expect(denied.body).toMatchObject({ verdict: "deny", outcome: "denied", run: { state: "cancelled" } });
    const after = await as(CI_SECRET, `/runs/${String(other.body.id)}`);
    expect(after.body).toMatchObject({
      error: { code: "E_RUN_DENIED", message: expect.stringContaining("not on a Friday") },
    });
  }, 180_000);

  it("plans with plan_then_apply, then applies once another identity the ACL lets approve approves", async () => {
    const started = await as(CI_SECRET, "/runs?wait=60s", {
      pipeline: "quick",
      source: "odin.yml",
      plan_then_apply: true,
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body).toMatchObject({ state: "succeeded", plan: true, then_apply: true });
    const planId = String(started.body.id);
    const latest = await as(CI_SECRET, "/hosts/odin/runs?limit=1");
    const [apply] = latest.body.runs as Json[];
    expect(apply).toMatchObject({
      state: "awaiting_approval",
      plan: false,
      plan_run: planId,
      approval: { approvers: "acl:approve", count: 1 },
    });
    const id = String(apply!.id);
    expect((await postEmpty(CI_SECRET, `/runs/${id}/approve`)).status).toBe(403);
    const approved = await postEmpty(LEAD_SECRET, `/runs/${id}/approve`);
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    const done = await eventually(async () => {
      const run = await as(CI_SECRET, `/runs/${id}`);
      return run.body.state === "succeeded" ? run.body : undefined;
    }, 90_000);
    expect(done).toMatchObject({
      plan: false,
      plan_run: planId,
      steps: [expect.objectContaining({ state: "ok" })],
    });
    const both = await as(CI_SECRET, "/runs", {
      pipeline: "quick",
      source: "odin.yml",
      plan: true,
      plan_then_apply: true,
    });
    expect(both.status).toBe(400);
  }, 180_000);

  it("says when this jarvis has no node directory to answer GET /nodes from", async () => {
    const nodes = await as(CI_SECRET, "/nodes");
    expect(nodes.status).toBe(501);
    expect(nodes.body).toMatchObject({
      code: "E_NO_NODE_DIRECTORY",
      message: expect.stringContaining("no node store yet"),
    });
  });
});
