/**
 * The web page in a real browser (Debian's headless Chromium through playwright-core) against a
 * real listening `jarvis start`: sign-in, a run followed live without reloading, a failed step's
 * clipboard and diff, a retry and a replay onto another host from the page, buttons only for roles that allow them, the cookie's
 * CSRF guard, and the headers. Each page is saved as a screenshot under test-results/web/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { designFor, repoRoot } from "../../helpers/jarvis-env.js";
import { startApiJarvis } from "../../helpers/api-jarvis.js";
import type { ApiJarvis } from "../../helpers/api-jarvis.js";

const OPS_SECRET = "ops-secret-0123456789abcdef";
const VIEWER_SECRET = "viewer-secret-0123456789abcdef";
const SHOTS = join(repoRoot, "test-results", "web");
/** The machine running the tests is busy: every wait for the page is generous. */
const WAIT = { timeout: 90_000 };

let jarvis: ApiJarvis;
let browser: Browser;

const asOps = (path: string, init: RequestInit = {}): Promise<Response> =>
  jarvis.call(path, { ...init, headers: { ...init.headers, authorization: `Bearer ${OPS_SECRET}` } });

async function startRun(pipeline: string, source: string, wait = ""): Promise<{ id: string; state: string }> {
  const response = await asOps(`/runs${wait}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pipeline, source }),
  });
  expect(response.status).toBeLessThan(300);
  return (await response.json()) as { id: string; state: string };
}

async function signedIn(secret: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${jarvis.url}/`);
  await page.fill("#token", secret);
  await page.click("#sign-in");
  await page.waitForSelector("h1:has-text('Overview')", WAIT);
  return { context, page };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, name), fullPage: true });

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  jarvis = await startApiJarvis({
    pipelines: {
      slow: "steps:\n  - ok:first\n  - gate:open-slow\n  - sleepy:1\n",
      held: "steps:\n  - ok:first\n  - gate:open-held\n",
      fragile: "steps:\n  - ok:first\n  - latch:fixed\n  - sleepy:0\n",
      brittle: "steps:\n  - ok:first\n  - latch:never\n",
    },
    apiExtra: 'tokens:\n  ops: "${TOKEN_OPS}"\n  viewer: "${TOKEN_VIEWER}"',
    processEnv: { TOKEN_OPS: OPS_SECRET, TOKEN_VIEWER: VIEWER_SECRET },
    extraConfig: [
      "acl:",
      "  roles:",
      "    deployer: {commands: [run, retry, cancel, replay], hosts: ['*']}",
      "    reader: {commands: [status]}",
      "  people:",
      "    ops: {roles: [deployer], identities: ['api:ops']}",
      "    viewer: {roles: [reader], identities: ['api:viewer']}",
    ].join("\n"),
  });
  mkdirSync(join(jarvis.env.dir, "designs"));
  for (const host of ["loki", "thor", "odin", "frey"])
    writeFileSync(join(jarvis.env.dir, "designs", `${host}.yml`), designFor(host));
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await jarvis?.stop();
});

describe("the web page", () => {
  it("signs in with a token through the form, keeps it in an HttpOnly SameSite=Strict cookie, and signs out", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${jarvis.url}/`);
    await page.waitForSelector("#token", WAIT);
    await shot(page, "sign-in.png");
    await page.fill("#token", "not-a-token-at-all-0123456789");
    await page.click("#sign-in");
    await page.waitForSelector("#sign-in-problem", WAIT);
    await page.fill("#token", OPS_SECRET);
    await page.click("#sign-in");
    await page.waitForSelector("h1:has-text('Overview')", WAIT);
    expect(await page.textContent("#who")).toBe("api:ops");
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: "jarvis_token", httpOnly: true, sameSite: "Strict" });
    await page.click("#sign-out");
    await page.waitForSelector("#token", WAIT);
    expect(await context.cookies()).toEqual([]);
    await context.close();
  });

  it("takes the token from the address jarvis start prints, then drops it from the address", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${jarvis.url}/?token=${encodeURIComponent(OPS_SECRET)}`);
    await page.waitForSelector("h1:has-text('Overview')", WAIT);
    expect(page.url()).toBe(`${jarvis.url}/`);
    await context.close();
  });

  it("follows a running run on its page and on the overview without reloading", async () => {
    const run = await startRun("slow", "loki.yml");
    const { context, page } = await signedIn(OPS_SECRET);
    await page.waitForSelector(`#runs tr[data-run="${run.id}"]`, WAIT);
    await page.click(`#runs tr[data-run="${run.id}"] a`);
    await page.waitForSelector('#timeline tr[data-step="2"][data-state="running"]', WAIT);
    await page.waitForSelector("#log:has-text('waiting for open-slow')", WAIT);
    await page.waitForSelector("#cancel", WAIT);
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    await shot(page, "run-running.png");
    writeFileSync(join(jarvis.env.dir, "open-slow"), "");
    await page.waitForSelector('#timeline tr[data-step="2"][data-state="ok"]', WAIT);
    await page.waitForSelector('#run-state:has-text("succeeded")', WAIT);
    await page.waitForSelector("#log:has-text('sleeping 1 s')", WAIT);
    expect(await page.evaluate(() => "notReloaded" in window)).toBe(true);
    expect(await page.locator("#cancel").count()).toBe(0);

    const held = await startRun("held", "thor.yml");
    await page.goto(`${jarvis.url}/`);
    await page.waitForSelector(`#runs tr[data-run="${held.id}"] td.state-running`, WAIT);
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    await shot(page, "overview.png");
    writeFileSync(join(jarvis.env.dir, "open-held"), "");
    await page.waitForSelector(`#runs tr[data-run="${held.id}"] td.state-succeeded`, WAIT);
    await page.waitForSelector(`#hosts tr[data-host="thor"] td.state-succeeded`, WAIT);
    expect(await page.evaluate(() => "notReloaded" in window)).toBe(true);
    await context.close();
  });

  it("shows a failed step's error as text, its clipboard and diff, and retries it from the page", async () => {
    const run = await startRun("fragile", "odin.yml", "?wait=120s");
    expect(run.state).toBe("failed");
    const { context, page } = await signedIn(OPS_SECRET);
    await page.goto(`${jarvis.url}/run/${run.id}`);
    const failure = page.locator('#timeline tr[data-failure="2"]');
    await failure.waitFor(WAIT);
    // The step's error line has markup in it: shown as text, never as an element.
    expect(await failure.textContent()).toContain('<b id="injected">fixed</b> is missing');
    expect(await page.locator("#injected").count()).toBe(0);
    await page.click('#timeline tr[data-step="2"] a.clipboard-link');
    await page.waitForSelector('#inspect[data-kind="clipboard"][data-step="2"]', WAIT);
    expect(await page.textContent("#inspect-text")).toContain("hostname: odin");
    await page.click('#timeline tr[data-step="1"] a.diff-link');
    await page.waitForSelector('#inspect[data-kind="diff"][data-step="1"]', WAIT);
    expect(await page.textContent("#inspect-text")).toContain("fixture_ok");
    await page.click('#timeline tr[data-step="2"] a.diff-link');
    await page.waitForSelector('#inspect[data-kind="diff"][data-step="2"]', WAIT);
    await shot(page, "run-failed.png");

    writeFileSync(join(jarvis.env.dir, "fixed"), "");
    await page.click("#retry");
    await page.waitForSelector('#run-state:has-text("succeeded")', WAIT);
    await page.waitForSelector('#timeline tr[data-step="3"][data-state="ok"]', WAIT);
    expect(await page.locator("#retry").count()).toBe(0);
    await shot(page, "run-retried.png");

    // The same pipeline again on another host, from the page; the new run's page is linked.
    await page.fill("#replay-hosts", "thor");
    await page.click("#replay");
    const replayed = page.locator("#replay-result a.replayed");
    await replayed.waitFor(WAIT);
    expect(await replayed.textContent()).toMatch(/^thor \(run \S+\)$/);
    await replayed.click();
    await page.waitForSelector("h1:has-text('thor · fragile')", WAIT);
    await page.waitForSelector('#run-state:has-text("succeeded")', WAIT);
    await shot(page, "run-replayed.png");
    await context.close();
  });

  it("shows no buttons to a role that may not use them, and refuses a cookie's cross-origin write", async () => {
    const run = await startRun("brittle", "frey.yml", "?wait=120s");
    expect(run.state).toBe("failed");
    const { context, page } = await signedIn(VIEWER_SECRET);
    await page.goto(`${jarvis.url}/run/${run.id}`);
    await page.waitForSelector("#timeline", WAIT);
    expect(await page.locator("#retry, #cancel, #replay-form").count()).toBe(0);
    await context.close();

    const cookie = { cookie: `jarvis_token=${OPS_SECRET}`, "content-type": "application/json" };
    const path = `${jarvis.url}/runs/${run.id}/retry`;
    const foreign = await fetch(path, {
      method: "POST",
      headers: { ...cookie, origin: "http://evil.example" },
      body: "{}",
    });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: "E_API_CROSS_ORIGIN" });
    const noOrigin = await fetch(path, { method: "POST", headers: cookie, body: "{}" });
    expect(noOrigin.status).toBe(403);
    const fromThePage = await fetch(path, {
      method: "POST",
      headers: { ...cookie, origin: jarvis.url },
      body: "{}",
    });
    expect(fromThePage.status).toBe(202);
  });

  it("serves HTML and the module with a strict CSP, the right types and cache headers", async () => {
    const page = await fetch(`${jarvis.url}/`, { headers: { cookie: `jarvis_token=${OPS_SECRET}` } });
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(page.headers.get("referrer-policy")).toBe("same-origin");
    const body = await page.text();
    const script = /src="(\/static\/app\.js\?v=[^"]+)"/.exec(body)?.[1];
    expect(script).toBeDefined();
    expect(body).not.toMatch(/<script>|<script(?![^>]*src=)[^>]*>/);
    const js = await fetch(`${jarvis.url}${script ?? ""}`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toContain("immutable");
    // Without a token the API stays closed; the page offers the form.
    expect((await fetch(`${jarvis.url}/runs`)).status).toBe(401);
    expect(await (await fetch(`${jarvis.url}/`)).text()).toContain('id="token"');
  });
});
