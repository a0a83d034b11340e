/**
 * The web page at `/`, served by the API server: the overview, a run's page, sign-in and
 * sign-out, and the two static files. Pages get their data the way API routes do, as typed
 * commands through the dispatcher under the viewer's identity (ACL and audit included).
 */
import { z } from "zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { decide, rolesOf } from "../commands/acl.js";
import type { AclPolicy } from "../commands/acl.js";
import { callDispatcher } from "../api/api-call.js";
import type { ApiApp, ApiContext } from "../api/api-context.js";
import type { ApiPrincipal } from "../api/api-tokens.js";
import type { HttpFailure } from "../api/http-errors.js";
import type { RunRecord } from "../store/run-store.js";
import { dumpYaml } from "../clipboard/yaml.js";
import { html } from "./html.js";
import { layout, securityHeaders, sendPage } from "./page-layout.js";
import { overviewPage } from "./overview-page.js";
import { runPage } from "./run-page.js";
import type { Inspection, RunActions } from "./run-page.js";
import { signInPage } from "./sign-in-page.js";
import { clearTokenCookie, isSameOrigin, setTokenCookie } from "./web-auth.js";
import { loadWebAssets } from "./web-assets.js";
import type { WebAsset, WebAssets } from "./web-assets.js";

/** What the page needs besides the API's context. */
export interface WebOptions {
  acl: AclPolicy;
  authenticate: (secret: string) => ApiPrincipal | undefined;
  /** The API's answer for a thrown error (status, code, redacted message). */
  failure: (error: unknown) => HttpFailure;
}

/** How many of the newest runs, and hosts per page, the overview shows. */
const OVERVIEW_RUNS = 50;
const OVERVIEW_HOSTS = 200;

const overviewQuery = z.strictObject({
  token: z.string().optional(),
  after: z.string().min(1).max(253).optional().describe("show hosts after this one (the next page)"),
});
const stepNumber = z.string().regex(/^[0-9]{1,4}$/, { error: "must be a step number" });
const runPageQuery = z.strictObject({
  clipboard: stepNumber.optional(),
  diff: stepNumber.optional(),
  token: z.string().optional(),
});
const runPageParams = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: "must be a run id (letters, digits, - and _)" }),
});
const signInBody = z.strictObject({ token: z.string().min(1).max(4096) });
const assetQuery = z.strictObject({ v: z.string().max(64).optional() });

/** Register the page's routes on the API server. */
export async function registerWebRoutes(app: ApiApp, ctx: ApiContext, options: WebOptions): Promise<void> {
  let assets: WebAssets | undefined;
  // Read on first use, so an API built from sources (unit tests) does not need dist/.
  const web = (): WebAssets => (assets ??= loadWebAssets());
  const hidden = { hide: true } as const;

  const problemPage = (reply: FastifyReply, status: number, message: string, viewer: ApiPrincipal) =>
    sendPage(
      reply,
      status,
      layout(
        web(),
        "Problem",
        viewer,
        html`<h1>Problem</h1>
          <p class="problem">${message}</p>
          <p><a href="/">Overview</a></p>`,
      ),
    );

  const inspect = async (
    request: FastifyRequest,
    target: { run: string },
    query: { clipboard?: string | undefined; diff?: string | undefined },
  ): Promise<Inspection | undefined> => {
    try {
      if (query.clipboard !== undefined) {
        const step = Number(query.clipboard);
        const { value } = await callDispatcher(
          ctx.dispatcher,
          request,
          { verb: "clipboard", target, step },
          "clipboard",
        );
        return { kind: "clipboard", step, text: dumpYaml(value) };
      }
      if (query.diff !== undefined) {
        const step = Number(query.diff);
        const { text } = await callDispatcher(
          ctx.dispatcher,
          request,
          { verb: "diff", target, step },
          "diff",
        );
        return { kind: "diff", step, text };
      }
    } catch (err) {
      return { kind: "problem", message: options.failure(err).body.message };
    }
    return undefined;
  };

  const actionsFor = (principal: ApiPrincipal, run: RunRecord): RunActions => {
    const may = (verb: "retry" | "cancel") =>
      principal.localOperator ||
      decide(options.acl, { identity: principal.identity, verb, host: run.host, configuredRoom: false })
        .allowed;
    // Replay is checked on the hosts it goes to, which the viewer has yet to name: any role of
    // hers with the command shows the form, and the API decides per host.
    const replay =
      principal.localOperator ||
      rolesOf(options.acl, principal.identity).some((name) => {
        const role = options.acl.roles.get(name);
        return role !== undefined && (role.commands === "*" || role.commands.has("replay"));
      });
    return { retry: may("retry"), cancel: may("cancel"), replay };
  };

  const sendAsset = (request: { query: { v?: string | undefined } }, reply: FastifyReply, asset: WebAsset) =>
    securityHeaders(reply)
      .type(asset.contentType)
      .header(
        "cache-control",
        request.query.v === asset.hash ? "public, max-age=31536000, immutable" : "no-cache",
      )
      .header("etag", `"${asset.hash}"`)
      .send(asset.body);
  app.get("/static/app.js", { schema: { ...hidden, querystring: assetQuery } }, (request, reply) =>
    sendAsset(request, reply, web().script),
  );
  app.get("/static/app.css", { schema: { ...hidden, querystring: assetQuery } }, (request, reply) =>
    sendAsset(request, reply, web().style),
  );

  // Browsers ask for it on every page; "nothing here" beats a 401 in their console.
  app.get("/favicon.ico", { schema: hidden }, (_request, reply) =>
    securityHeaders(reply).code(204).header("cache-control", "public, max-age=86400").send(),
  );

  app.get("/", { schema: { ...hidden, querystring: overviewQuery } }, async (request, reply) => {
    const principal = request.principal;
    if (request.query.token !== undefined) {
      // The address `jarvis start` prints: keep the token in the cookie, drop it from the address bar.
      if (!principal)
        return sendPage(reply, 401, signInPage(web(), "The token in that address is not valid."));
      setTokenCookie(request, reply, request.query.token);
      return securityHeaders(reply).header("cache-control", "no-store").redirect("/", 303);
    }
    if (!principal) return sendPage(reply, 200, signInPage(web(), undefined));
    try {
      const after = request.query.after;
      const { page: hosts } = await callDispatcher(
        ctx.dispatcher,
        request,
        { verb: "status", page: { limit: OVERVIEW_HOSTS, ...(after !== undefined ? { after } : {}) } },
        "host-index",
      );
      const { page } = await callDispatcher(
        ctx.dispatcher,
        request,
        { verb: "runs", query: { limit: OVERVIEW_RUNS } },
        "runs",
      );
      return sendPage(reply, 200, overviewPage(web(), principal, hosts, page.runs));
    } catch (err) {
      const failed = options.failure(err);
      return problemPage(reply, failed.status, failed.body.message, principal);
    }
  });

  app.get(
    "/run/:id",
    { schema: { ...hidden, params: runPageParams, querystring: runPageQuery } },
    async (request, reply) => {
      const principal = request.principal;
      if (!principal) return sendPage(reply, 401, signInPage(web(), undefined));
      const target = { run: request.params.id };
      let run: RunRecord;
      let steps;
      try {
        const { details } = await callDispatcher(
          ctx.dispatcher,
          request,
          { verb: "status", target },
          "status",
        );
        const [detail] = details;
        if (!detail) return problemPage(reply, 404, `There is no run ${request.params.id}.`, principal);
        ({ run, steps } = detail);
      } catch (err) {
        const failed = options.failure(err);
        return problemPage(reply, failed.status, failed.body.message, principal);
      }
      const { lines } = await callDispatcher(ctx.dispatcher, request, { verb: "log", target }, "log");
      const inspection = await inspect(request, target, request.query);
      return sendPage(
        reply,
        200,
        runPage(web(), principal, {
          run,
          steps,
          log: lines,
          actions: actionsFor(principal, run),
          inspection,
        }),
      );
    },
  );

  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<ZodTypeProvider>();
    // Forms post urlencoded bodies; only these two routes accept them.
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 8192 },
      (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(String(body))));
      },
    );
    scope.post("/sign-in", { schema: { ...hidden, body: signInBody } }, async (request, reply) => {
      // A sign-in another site posts would sign the victim in as the attacker.
      if (!isSameOrigin(request))
        return sendPage(reply, 403, signInPage(web(), "Sign in from this page itself."));
      const secret = request.body.token.trim();
      if (!options.authenticate(secret))
        return sendPage(reply, 401, signInPage(web(), "That token is not valid."));
      setTokenCookie(request, reply, secret);
      return securityHeaders(reply).header("cache-control", "no-store").redirect("/", 303);
    });
    scope.post("/sign-out", { schema: hidden }, async (request, reply) => {
      clearTokenCookie(request, reply);
      return securityHeaders(reply).header("cache-control", "no-store").redirect("/", 303);
    });
  });
}
