/** What every route of the API server shares. */
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Dispatcher } from "../commands/dispatcher.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { ConnectionState } from "../bot/connection-state.js";
import type { FeedHub } from "./feed-hub.js";
import type { ClusterView } from "../cluster/cluster-view.js";
import type { StepDurations } from "./step-durations.js";
import type { JobDesk } from "../commands/job-execute.js";
import type { Redactor } from "../clipboard/redact.js";
import type { NodeEventStore } from "../store/node-event-store.js";
import type { NodeEventWatch } from "./node-event-watch.js";

/** The fastify instance with zod schemas typing each route's request. */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** The server's shared parts. */
export interface ApiContext {
  /** Every command goes through it: ACL, audit, reply record. */
  dispatcher: Dispatcher;
  /** Read-only uses besides the dispatcher: the feed follower, health and metrics. */
  control: RunControl;
  hub: FeedHub;
  durations: StepDurations;
  /** Each chat network's connection state now (empty when chat is not running here). */
  chatStates: () => ReadonlyMap<string, ConnectionState>;
  /** The cluster's replicas, workers and network holders; undefined without a cluster. */
  cluster: (() => Promise<ClusterView>) | undefined;
  log: (line: string) => void;
  /** Jobs on the agents (the service with `agents:`): /jobs waits on and follows them here. */
  jobs?: JobDesk | undefined;
  /** The agents' kept events, for following them (the dispatcher checks who may, first). */
  nodeEvents?: { store: NodeEventStore; watch: NodeEventWatch } | undefined;
  /** What the API's own renderings (jobs) pass free text through. */
  redactor: Redactor;
}
