/**
 * What is done to a past or waiting run besides retry and cancel: replay it on other hosts or
 * designs, and approve or deny a run that awaits approval. Each is one typed command through the
 * dispatcher, which checks the ACL (replay as the replayed pipeline's verb on the hosts it goes
 * to; approve/deny by the run's approval rule) and audits it.
 */
import { callDispatcher } from "./api-call.js";
import { runBody } from "./run-routes.js";
import { denyBody, replayBody, runIdParams } from "./api-schemas.js";
import type { ApiApp, ApiContext } from "./api-context.js";
import type { ApiAnswer } from "./api-call.js";

/** Register /runs/{id}/replay, /runs/{id}/approve and /runs/{id}/deny. */
export function registerRunDecisionRoutes(app: ApiApp, ctx: ApiContext): void {
  const { dispatcher } = ctx;

  app.post(
    "/runs/:id/replay",
    {
      schema: {
        summary:
          "The run's pipeline, parameters and force flag again on other hosts' designs or on sources: 201 with the new runs",
        params: runIdParams,
        body: replayBody,
      },
    },
    async (request, reply) => {
      const { hosts, sources } = request.body;
      const { runs } = await callDispatcher(
        dispatcher,
        request,
        {
          verb: "replay",
          target: { run: request.params.id },
          onto: hosts !== undefined ? { hosts } : { sources: sources ?? [] },
        },
        "started",
      );
      return reply.code(201).send({ replayed: request.params.id, runs: runs.map((r) => runBody(r)) });
    },
  );

  app.post(
    "/runs/:id/approve",
    {
      schema: {
        summary: "Approve a run that awaits approval (the token's identity must hold the approver role)",
        params: runIdParams,
      },
    },
    async (request) =>
      approvalBody(
        await callDispatcher(
          dispatcher,
          request,
          { verb: "approve", target: { run: request.params.id } },
          "approval",
        ),
      ),
  );

  app.post(
    "/runs/:id/deny",
    {
      schema: {
        summary: "Deny a run that awaits approval: it is cancelled and the reason recorded",
        params: runIdParams,
        body: denyBody,
      },
    },
    async (request) =>
      approvalBody(
        await callDispatcher(
          dispatcher,
          request,
          { verb: "deny", target: { run: request.params.id }, reason: request.body.reason },
          "approval",
        ),
      ),
  );
}

/** The decision's outcome and the run after it (queued once approved, cancelled once denied). */
function approvalBody(answer: Extract<ApiAnswer, { kind: "approval" }>): Record<string, unknown> {
  return {
    verdict: answer.verdict,
    outcome: answer.outcome,
    approvals: answer.approvals,
    needed: answer.needed,
    run: runBody(answer.run),
  };
}
