/**
 * The HTTP API server `jarvis start` runs next to the bot: fastify 5 with zod schemas (the
 * project's one schema library; see README "HTTP API") validating requests and producing
 * /openapi.json. Every request but /health, /openapi.json and the web page's own paths (src/web/)
 * needs a token (api-tokens.ts, or the page's cookie);
 * every command goes through the dispatcher; every failure is `{code, message}`.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { readFileSync } from "node:fs";
import Fastify from "fastify";
import type { FastifyError, FastifyServerFactory } from "fastify";
import fastifySwagger from "@fastify/swagger";
import fastifyCookie from "@fastify/cookie";
import { jsonSchemaTransform, serializerCompiler } from "fastify-type-provider-zod";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ApiError, ConfigError, errorMessage } from "../errors.js";
import { Dispatcher } from "../commands/dispatcher.js";
import { redactorForConfig } from "../clipboard/config-redactor.js";
import type { JarvisConfig } from "../config.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { ConnectionState } from "../bot/connection-state.js";
import type { NodeDirectory } from "../inventory/node-view.js";
import { zodValidator } from "./api-validator.js";
import { httpFailure } from "./http-errors.js";
import { loadApiTokens } from "./api-tokens.js";
import { FeedHub } from "./feed-hub.js";
import type { ClusterView } from "../cluster/cluster-view.js";
import { StepDurations } from "./step-durations.js";
import { registerRunRoutes } from "./run-routes.js";
import { registerScheduleRoutes } from "./schedule-routes.js";
import type { ScheduleBookStore } from "../schedule/schedule-book.js";
import type { NodeEventStore } from "../store/node-event-store.js";
import { registerEventRoutes } from "./event-routes.js";
import { registerServiceRoutes } from "./service-routes.js";
import { registerHostRoutes } from "./host-routes.js";
import { registerNodeEventRoutes } from "./node-event-routes.js";
import { NodeEventWatch } from "./node-event-watch.js";
import { registerRunDecisionRoutes } from "./run-decision-routes.js";
import type { ApiApp, ApiContext } from "./api-context.js";
import { registerJobRoutes } from "./job-routes.js";
import type { JobDesk } from "../commands/job-execute.js";
import { registerWebRoutes } from "../web/web-routes.js";
import { assertCookieWriteAllowed, cookieSecret, isWebPath } from "../web/web-auth.js";

/** Paths open without a token. */
const OPEN_PATHS: ReadonlySet<string> = new Set(["/health", "/openapi.json"]);

/** What the server needs of jarvis. */
export interface ApiHost {
  config: JarvisConfig;
  control: RunControl;
  /** Where GET /nodes looks (Jarvis.nodes); absent, it answers E_NO_NODE_DIRECTORY. */
  nodes?: NodeDirectory | undefined;
  /** Where schedules are kept; absent, /schedules answers that this jarvis keeps none. */
  store?: ScheduleBookStore & NodeEventStore;
  /** Jobs on the agents (Jarvis.jobs); absent, /jobs answers E_JOB_NO_CONTROLLER. */
  jobs?: JobDesk | undefined;
}

/** Options for startApiServer. */
export interface ApiServerOptions {
  /** Each chat network's state now (the bot's adapters); default none. */
  chatStates?: () => ReadonlyMap<string, ConnectionState>;
  /** The cluster view for /health (replicas, workers, network holders); absent: no cluster. */
  cluster?: () => Promise<ClusterView>;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** A listening API server. */
export interface ApiServer {
  /** Base URL, e.g. http://127.0.0.1:8642. */
  url: string;
  /** The page's address with the local operator token, when jarvis made one (a secret: print it once). */
  pageUrlWithToken: string | undefined;
  /** Where the local operator token is kept, when jarvis made one. */
  localTokenFile: string | undefined;
  /** Stop listening and drop open connections (event streams included). */
  close(): Promise<void>;
}

/** Build the app (routes registered, not listening). */
export async function buildApiApp(
  jarvis: ApiHost,
  options: ApiServerOptions = {},
): Promise<{ app: ApiApp; context: ApiContext; tokens: ReturnType<typeof loadApiTokens> }> {
  const { config, control, nodes } = jarvis;
  if (!config.api.enabled) throw new Error("buildApiApp: the API is off (api: false)");
  const api = config.api;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const tokens = loadApiTokens(config, options.env);
  const redactor = redactorForConfig(config);
  const durations = new StepDurations();
  const context: ApiContext = {
    dispatcher: new Dispatcher({
      control,
      acl: config.chat.acl,
      log,
      redactor,
      ...(nodes !== undefined ? { nodes } : {}),
      ...(jarvis.store ? { schedules: jarvis.store, nodeEvents: jarvis.store } : {}),
      ...(jarvis.jobs ? { jobs: jarvis.jobs } : {}),
    }),
    jobs: jarvis.jobs,
    nodeEvents: jarvis.store
      ? { store: jarvis.store, watch: new NodeEventWatch(jarvis.store, log) }
      : undefined,
    redactor,
    control,
    hub: new FeedHub(control, redactor, log, (event) => durations.observe(event)),
    durations,
    chatStates: options.chatStates ?? (() => new Map()),
    cluster: options.cluster,
    log,
  };
  const tls = api.tls ? { cert: readTls(api.tls.cert, "cert"), key: readTls(api.tls.key, "key") } : undefined;
  const serverFactory: FastifyServerFactory = (handler) =>
    tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  const app = Fastify({
    bodyLimit: api.bodyLimit,
    forceCloseConnections: true,
    logger: false,
    serverFactory,
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(zodValidator);
  app.setSerializerCompiler(serializerCompiler);
  // Built apps are closed by app.close() alone in tests: the shared follower of events goes with it.
  app.addHook("onClose", async () => context.nodeEvents?.watch.close());
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: "jarvis",
        version: "1",
        description: "jarvis's HTTP API: every chat command as an authenticated call",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  await app.register(fastifyCookie);

  app.addHook("onRequest", async (request, reply) => {
    const path = request.url.split("?")[0] ?? "";
    if (OPEN_PATHS.has(path)) return;
    const header = request.headers.authorization;
    const queryToken =
      request.method === "GET" ? new URL(request.url, "http://x").searchParams.get("token") : null;
    const fromCookie = !header?.startsWith("Bearer ") && queryToken === null;
    const secret = header?.startsWith("Bearer ")
      ? header.slice(7).trim()
      : (queryToken ?? cookieSecret(request));
    const principal = secret ? tokens.authenticate(secret) : undefined;
    // The page's own paths answer a visitor without a token with the sign-in form.
    if (!principal && isWebPath(path)) return;
    if (principal && fromCookie) assertCookieWriteAllowed(request);
    if (!principal) {
      void reply.header("www-authenticate", "Bearer");
      throw new ApiError(
        "E_API_UNAUTHORIZED",
        secret
          ? "this API token is not valid; check the token (api.tokens in jarvis.yml, or the api-token file under the state directory)"
          : "no API token; send Authorization: Bearer <token>",
      );
    }
    request.principal = principal;
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const failure = fastifyFailure(error, api.bodyLimit) ?? httpFailure(error, redactor, log);
    return reply.code(failure.status).send(failure.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      code: "E_API_NOT_FOUND",
      message: `no endpoint ${request.method} ${request.url.split("?")[0] ?? ""}; see /openapi.json`,
    }),
  );

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  registerRunRoutes(app, context);
  registerScheduleRoutes(app, context);
  registerEventRoutes(app, context);
  registerServiceRoutes(app, context);
  registerHostRoutes(app, context);
  registerNodeEventRoutes(app, context);
  registerRunDecisionRoutes(app, context);
  registerJobRoutes(app, context);
  await registerWebRoutes(app, context, {
    acl: config.chat.acl,
    authenticate: (secret) => tokens.authenticate(secret),
    failure: (error) => httpFailure(error, redactor, log),
  });
  return { app, context, tokens };
}

/** Start the API server on `api.listen`. */
export async function startApiServer(jarvis: ApiHost, options: ApiServerOptions = {}): Promise<ApiServer> {
  const { config } = jarvis;
  if (!config.api.enabled) throw new Error("startApiServer: the API is off (api: false)");
  const { app, context, tokens } = await buildApiApp(jarvis, options);
  await context.hub.start();
  try {
    await app.listen({ host: config.api.host, port: config.api.port });
  } catch (err) {
    context.hub.close();
    context.nodeEvents?.watch.close();
    throw new ConfigError(
      "E_API_LISTEN",
      `the API cannot listen on ${config.api.host}:${config.api.port}: ${errorMessage(err)}; change api.listen in jarvis.yml, or set api: false`,
      { cause: err },
    );
  }
  const address = app.server.address();
  const port = address && typeof address === "object" ? address.port : config.api.port;
  const host = config.api.host.includes(":") ? `[${config.api.host}]` : config.api.host;
  const url = `${config.api.tls ? "https" : "http"}://${host}:${port}`;
  return {
    url,
    pageUrlWithToken: tokens.localToken ? `${url}/?token=${tokens.localToken}` : undefined,
    localTokenFile: tokens.localTokenFile,
    async close() {
      context.hub.close();
      await app.close();
    },
  };
}

/** fastify's own refusals (body parsing and size), in jarvis's words; undefined for the rest. */
function fastifyFailure(
  error: FastifyError,
  bodyLimit: number,
): { status: number; body: { code: string; message: string } } | undefined {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return {
        status: 413,
        body: {
          code: "E_API_BODY_TOO_LARGE",
          message: `the request body is over ${bodyLimit} bytes (api.body_limit); send a large design by reference (source), not inline`,
        },
      };
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { status: 400, body: { code: "E_API_INPUT", message: "body: is not valid JSON" } };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return {
        status: 415,
        body: { code: "E_API_INPUT", message: "body: send JSON, with content-type: application/json" },
      };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return {
        status: 400,
        body: { code: "E_API_INPUT", message: "body: its length does not match content-length" },
      };
    default:
      // A JSON syntax error or prototype poisoning from the body parser.
      if (error.statusCode === 400 && !(error instanceof ApiError) && error.code === undefined)
        return { status: 400, body: { code: "E_API_INPUT", message: "body: is not valid JSON" } };
      return undefined;
  }
}

function readTls(path: string, what: "cert" | "key"): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      "E_CONFIG_FIELD",
      `api.tls.${what}: cannot read ${path}: ${errorMessage(err)}; fix the path in jarvis.yml`,
      { cause: err },
    );
  }
}
