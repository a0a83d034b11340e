/**
 * RunControl on top of the engine and the store: what `deploy`, `status`, `retry` ... mean,
 * whichever front asks. Everything it returns to people is redacted.
 */
import { CommandError, RunError } from "../errors.js";
import { dumpYaml, parseYamlMapping } from "../clipboard/yaml.js";
import { redactorForConfig } from "../clipboard/config-redactor.js";
import { diffClipboards, formatDiff } from "../clipboard/diff.js";
import { loadDesigns, loadDesignsText } from "../clipboard/load-design.js";
import { newRunId } from "../store/ids.js";
import { resolveTarget, runTarget } from "./run-target.js";
import { checkVoter, planApplyApproval, requiredApproval } from "./approvals.js";
import type { Voter } from "./approvals.js";
import { replayRun } from "./replay.js";
import type { ReplayOnto } from "../commands/typed-command.js";
import { findPipeline, listPipelines } from "./pipeline-file.js";
import type { JarvisConfig } from "../config.js";
import type { DesignSource } from "../clipboard/sources/design-source.js";
import type { Redactor } from "../clipboard/redact.js";
import type {
  AuditEntry,
  AuditQuery,
  HistoryPage,
  HistoryQuery,
  HostPage,
  HostQuery,
  LogLine,
  RunPage,
  RunPageQuery,
  RunRecord,
  RunStore,
  RunView,
} from "../store/run-store.js";
import type { Engine } from "./engine.js";
import type { Pipeline } from "./pipeline.js";
import type { StepResolver } from "./step-catalog.js";
import type { RunTarget } from "./run-target.js";
import type {
  ApprovalResult,
  AuditRecord,
  PipelineSummary,
  Requester,
  RunControl,
  RunDetail,
  StartOptions,
  TargetRef,
} from "./run-control.js";

/** How a new or retried run is executed. */
export interface ExecuteMode extends StartOptions {
  /** Execute in this process now (foreground `jarvis run`), instead of queueing for the service. */
  foreground?: boolean;
}

/** What the run service needs. */
export interface RunServiceOptions {
  config: JarvisConfig;
  store: RunStore;
  engine: Engine;
  resolver: StepResolver;
  sources: DesignSource[];
  /** Whether this process executes queued runs (the service); then new runs start at once. */
  executing: boolean;
}

/** The one implementation of RunControl. */
export class RunService implements RunControl {
  private readonly redactor: Redactor;

  constructor(private readonly options: RunServiceOptions) {
    this.redactor = redactorForConfig(options.config);
  }

  follow: RunControl["follow"] = (afterSeq, options) => this.options.store.follow(afterSeq, options);

  latestSeq: RunControl["latestSeq"] = () => this.options.store.latestSeq();

  readEvents: RunControl["readEvents"] = (afterSeq, query) => this.options.store.readEvents(afterSeq, query);

  /** Load a pipeline by name or path, validated. */
  pipeline(name: string): Pipeline {
    return findPipeline(name, this.options.config.pipelines.dirs, this.options.resolver);
  }

  /** Start a run of `pipeline` for the design's host; for a cluster design, the run of its first host. */
  async start(
    pipelineName: string,
    source: string,
    who: Requester,
    mode: ExecuteMode = {},
  ): Promise<RunRecord> {
    const [first] = await this.startAll(pipelineName, source, who, mode);
    return first!;
  }

  /**
   * Start one run per host of the design (one for a single-host design; one per member of a
   * cluster, in dependency order, each waiting for the runs of the hosts it comes `after`).
   * A host that already has a run refuses the whole cluster before anything starts.
   */
  async startAll(
    pipelineName: string | Pipeline,
    source: string,
    who: Requester,
    mode: ExecuteMode = {},
  ): Promise<RunRecord[]> {
    const pipeline = typeof pipelineName === "string" ? this.pipeline(pipelineName) : pipelineName;
    const { store, engine, config } = this.options;
    const members =
      mode.designText !== undefined
        ? loadDesignsText(mode.designText, source, { maxBytes: config.designs.maxBytes })
        : await loadDesigns(source, this.options.sources, {
            maxBytes: config.designs.maxBytes,
            fileAccess: mode.fileAccess ?? "designs-dirs",
          });
    if (mode.planThenApply && members.length > 1) {
      throw new CommandError(
        "E_USAGE",
        `${source.slice(0, 80)} is a cluster of ${members.map((m) => m.host).join(", ")}; plan-then-apply takes one host: plan the cluster (plan run), then run it`,
      );
    }
    for (const member of members) {
      const [busy] = await store.listRuns({
        host: member.host,
        states: ["awaiting_approval", "queued", "running"],
        limit: 1,
      });
      if (busy)
        throw new RunError(
          "E_HOST_BUSY",
          `${member.host} already has run ${busy.id} (${busy.state}); wait for it, or cancel it with: cancel ${busy.id}`,
        );
    }
    const group = members.length > 1 ? `g-${newRunId()}` : undefined;
    const runIds = new Map<string, string>();
    const runs: RunRecord[] = [];
    for (const member of members) {
      const rules = [mode.approval, pipeline.approval];
      const requester = who.person ?? who.identity;
      // A plan-then-apply's plan changes nothing: its apply run is what waits for approval.
      const approval = mode.planThenApply ? undefined : requiredApproval(rules, member.clipboard, requester);
      const applyApproval = mode.planThenApply
        ? planApplyApproval(rules, member.clipboard, requester)
        : undefined;
      const run = await store.createRun({
        host: member.host,
        pipeline: pipeline.name,
        pipelineJson: JSON.stringify(pipeline),
        totalSteps: pipeline.steps.length,
        requestedBy: who.identity,
        origin: who.origin,
        source,
        clipboardYaml: member.yaml,
        stepNames: [...pipeline.steps, ...pipeline.onFailure].map((s) => s.name),
        ...(group ? { group, after: member.after.map((h) => runIds.get(h)!) } : {}),
        forced: mode.force ?? false,
        plan: (mode.plan ?? false) || applyApproval !== undefined,
        ...(mode.foreground ? { lease: { owner: engine.owner, leaseMs: config.leaseMs } } : {}),
        ...(approval ? { approval } : {}),
        ...(applyApproval ? { applyApproval } : {}),
      });
      runIds.set(member.host, run.id);
      runs.push(run);
    }
    if (!mode.foreground && this.options.executing) void engine.pickUp();
    return runs;
  }

  /** Execute runs started in the foreground here, each once the runs it comes after succeeded. */
  executeAll(runs: RunRecord[]): Promise<RunRecord[]> {
    const { engine } = this.options;
    const done = new Map<string, Promise<RunRecord>>();
    for (const run of runs) {
      done.set(
        run.id,
        Promise.all(run.after.map((id) => done.get(id))).then(async () => {
          const fresh = await this.find(run.id);
          // Waiting for approval: the service executes it once approved, not this process.
          if (fresh.state === "awaiting_approval") return fresh;
          return (await engine.dependencies(fresh)) === "ready" ? engine.execute(run.id) : this.find(run.id);
        }),
      );
    }
    return Promise.all(done.values());
  }

  resolveTarget(word: string): Promise<RunTarget> {
    return resolveTarget(this.options.store, word);
  }

  async runTarget(runId: string): Promise<RunTarget> {
    const run = await this.options.store.getRun(runId);
    if (!run) throw new RunError("E_RUN_NOT_FOUND", `no run '${runId}' (see: GET /runs)`);
    return runTarget(run);
  }

  async pageRuns(query: RunPageQuery): Promise<RunPage> {
    const page = await this.options.store.pageRuns(query);
    return { ...page, runs: page.runs.map((r) => this.redactRun(r)) };
  }

  async deleteRun(ref: TargetRef): Promise<void> {
    const run = await this.find(ref);
    const deletion = await this.options.store.deleteFinishedRun(run.id);
    if (deletion.outcome === "not-found") {
      throw new RunError("E_RUN_NOT_FOUND", `no run '${run.id}' (it was deleted meanwhile)`);
    }
    if (deletion.outcome === "not-finished") {
      throw new RunError(
        "E_RUN_STATE",
        `run ${run.id} of ${run.host} is ${deletion.run.state}; only a finished run can be deleted (cancel it first)`,
      );
    }
  }

  runCounts(): Promise<Record<RunRecord["state"], number>> {
    return this.options.store.countRunsByState();
  }

  queryAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.options.store.queryAudit(query);
  }

  /** The run a target means: the run itself, or the latest run of a host; a group is refused. */
  async find(ref: TargetRef): Promise<RunRecord> {
    const target = typeof ref === "string" ? await this.resolveTarget(ref) : ref;
    if (target.kind === "group") {
      throw new CommandError(
        "E_USAGE",
        `${target.group} is a cluster of ${target.hosts.join(", ")}; name one of its hosts or runs`,
      );
    }
    const run =
      target.kind === "run"
        ? await this.options.store.getRun(target.runId)
        : (await this.options.store.listRuns({ host: target.host, limit: 1 }))[0];
    if (!run) {
      const name = target.kind === "run" ? target.runId : target.host;
      throw new RunError(
        "E_RUN_NOT_FOUND",
        `no run for '${name}': name a host that has been deployed or a run id (see: status)`,
      );
    }
    return run;
  }

  async status(hostOrRun: TargetRef): Promise<RunDetail[]> {
    const { store } = this.options;
    const target = typeof hostOrRun === "string" ? await this.resolveTarget(hostOrRun) : hostOrRun;
    let runs: RunRecord[];
    if (target?.kind === "group") runs = await store.listRuns({ group: target.group });
    else runs = [await this.find(target)];
    return Promise.all(
      runs.map(async (run) => ({
        run: this.redactRun(run),
        approvals: run.approval ? await store.listApprovals(run.id) : [],
        steps: (await store.listSteps(run.id)).map((s) =>
          s.error
            ? {
                ...s,
                error: { ...s.error, message: this.redactor.learnText(run.source).text(s.error.message) },
              }
            : s,
        ),
      })),
    );
  }

  async log(hostOrRun: TargetRef): Promise<LogLine[]> {
    const run = await this.find(hostOrRun);
    const lines = await this.options.store.readLog(run.id);
    const redactor = await this.runRedactor(run);
    return lines.map((l) => ({ ...l, line: redactor.text(l.line) }));
  }

  /** The clipboard after step `step` (1-based; 0 = the design as loaded; default the latest), redacted. */
  async clipboardValue(hostOrRun: TargetRef, step?: number): Promise<Record<string, unknown>> {
    const run = await this.find(hostOrRun);
    const yaml = await this.snapshotAfter(run, step);
    return (await this.runRedactor(run)).value(
      parseYamlMapping(yaml, `clipboard of run ${run.id}`, { maxBytes: 256 * 1024 * 1024 }).value,
    );
  }

  async clipboard(hostOrRun: TargetRef, step?: number): Promise<string> {
    return dumpYaml(await this.clipboardValue(hostOrRun, step));
  }

  async diff(hostOrRun: TargetRef, step: number): Promise<string> {
    const run = await this.find(hostOrRun);
    this.checkStepNumber(run, step, 1);
    const before = await this.snapshotAfter(run, step - 1);
    const after = await this.snapshotAfter(run, step);
    const parse = (yaml: string) =>
      parseYamlMapping(yaml, `clipboard of run ${run.id}`, { maxBytes: 256 * 1024 * 1024 }).value;
    return formatDiff(diffClipboards(parse(before), parse(after)), await this.runRedactor(run));
  }

  async retry(
    hostOrRun: TargetRef,
    who: Requester,
    clipboardYaml?: string,
    mode: ExecuteMode = {},
  ): Promise<RunRecord> {
    const { store, engine, config } = this.options;
    const run = await this.find(hostOrRun);
    if (run.state !== "failed" && run.state !== "cancelled") {
      throw new RunError(
        "E_RUN_STATE",
        `run ${run.id} of ${run.host} is ${run.state}; only a failed or cancelled run can be retried`,
      );
    }
    // A run that was never approved (denied, expired, cancelled while waiting) would otherwise
    // start without its approvals: it is asked for again by starting it anew.
    if (run.approval && run.startedAt === null) {
      throw new RunError(
        "E_RUN_STATE",
        `run ${run.id} of ${run.host} never got its approvals; start it again to ask for them anew`,
      );
    }
    const pipeline = JSON.parse(run.pipelineJson) as Pipeline;
    const steps = await store.listSteps(run.id);
    const from =
      steps.find((s) => !s.onFailure && s.state !== "ok" && s.state !== "skipped")?.index ??
      pipeline.steps.length;
    if (clipboardYaml !== undefined) {
      parseYamlMapping(clipboardYaml, "the edited clipboard"); // refuse a broken edit before touching the run
    }
    // The store checks again, atomically, that the run is still retryable and its host free.
    const retried = await store.retryRun({
      runId: run.id,
      from,
      steps: [
        ...pipeline.steps.slice(from).map((s) => ({ name: s.name, onFailure: false })),
        ...pipeline.onFailure.map((s) => ({ name: s.name, onFailure: true })),
      ],
      ...(clipboardYaml !== undefined ? { clipboardYaml } : {}),
      requestedBy: who.identity,
      origin: who.origin,
      forced: mode.force ?? run.forced,
      ...(mode.foreground ? { lease: { owner: engine.owner, leaseMs: config.leaseMs } } : {}),
    });
    if (!mode.foreground && this.options.executing) void engine.pickUp();
    return retried;
  }

  async replay(
    hostOrRun: TargetRef,
    onto: ReplayOnto,
    who: Requester,
    mode: ExecuteMode = {},
  ): Promise<RunRecord[]> {
    return replayRun(this, this.options.store, await this.find(hostOrRun), onto, who, mode);
  }

  /** Take over an interrupted run (its lease expired) and execute it here. */
  async resume(hostOrRun: TargetRef): Promise<RunRecord> {
    const run = await this.find(hostOrRun);
    if (run.state !== "running" && run.state !== "queued") {
      throw new RunError(
        "E_RUN_STATE",
        `run ${run.id} of ${run.host} is ${run.state}; nothing to resume (use retry for a failed run)`,
      );
    }
    if (!(await this.options.store.claim(run.id, this.options.engine.owner, this.options.config.leaseMs))) {
      const until = run.leaseExpiresAt ? new Date(run.leaseExpiresAt).toISOString() : "?";
      throw new RunError(
        "E_RUN_HELD",
        `run ${run.id} is being executed by ${run.leaseOwner} (lease until ${until}); it is not interrupted`,
      );
    }
    return this.options.engine.execute(run.id);
  }

  async cancel(hostOrRun: TargetRef, _who: Requester): Promise<RunRecord> {
    const { store, engine } = this.options;
    const run = await this.find(hostOrRun);
    if (run.state !== "queued" && run.state !== "running" && run.state !== "awaiting_approval") {
      throw new RunError("E_RUN_STATE", `run ${run.id} of ${run.host} is already ${run.state}`);
    }
    // Only a run still queued is cancelled here; one a process has just claimed is asked to stop,
    // so it runs its on_failure steps and keeps its host until it has.
    const queued = await store.cancelIfQueued(run.id, {
      name: "RunError",
      code: "E_RUN_CANCELLED",
      message: "cancelled by an operator before it started",
    });
    if (queued.outcome === "cancelled") return queued.run;
    const requested = await store.requestCancel(run.id);
    if (!requested) {
      const now = await this.find(run.id);
      throw new RunError("E_RUN_STATE", `run ${now.id} of ${now.host} is already ${now.state}`);
    }
    engine.cancelLocal(run.id);
    return requested;
  }

  async decide(
    hostOrRun: TargetRef,
    voter: Voter,
    verdict: "approve" | "deny",
    reason: string,
  ): Promise<ApprovalResult> {
    const { store, engine } = this.options;
    const run = await this.find(hostOrRun);
    checkVoter(run, voter, verdict);
    const needed = run.approval?.count ?? 0;
    const result = await store.decideApproval({
      runId: run.id,
      person: voter.person,
      identity: voter.identity,
      verdict,
      reason,
    });
    if (result.outcome === "not-awaiting") {
      const now = result.run ?? run;
      throw new RunError(
        "E_RUN_STATE",
        `run ${now.id} of ${now.host} is ${now.state.replace("_", " ")}; there is nothing to ${verdict}`,
      );
    }
    if (result.outcome === "approved" && this.options.executing) void engine.pickUp();
    const approvals = result.outcome === "denied" ? 0 : result.approvals;
    return { outcome: result.outcome, run: this.redactRun(result.run), approvals, needed };
  }

  async hosts(query: HostQuery): Promise<HostPage> {
    const page = await this.options.store.listHosts(query);
    return { ...page, hosts: page.hosts.map((h) => ({ ...h, latest: this.redactRun(h.latest) })) };
  }

  async historyPage(host: string, query: HistoryQuery): Promise<HistoryPage> {
    const page = await this.options.store.hostHistory(host, query);
    return { ...page, runs: page.runs.map((r) => this.redactRun(r)) };
  }

  async history(host: string, limit = 20): Promise<RunRecord[]> {
    return (await this.options.store.listRuns({ host, limit })).map((r) => this.redactRun(r));
  }

  async recordAudit(record: AuditRecord): Promise<void> {
    await this.options.store.appendAudit({ ...record, at: Date.now() });
  }

  listAudit(limit: number): Promise<AuditEntry[]> {
    return this.options.store.listAudit(limit);
  }

  async lastSource(host: string): Promise<string | undefined> {
    const [latest] = await this.options.store.listRuns({ host, limit: 1 });
    return latest?.source;
  }

  async pipelines(): Promise<PipelineSummary[]> {
    const { pipelines } = listPipelines(this.options.config.pipelines.dirs, this.options.resolver);
    return pipelines.map((p) => ({
      name: p.name,
      description: p.description,
      steps: p.steps.map((s) => s.name),
    }));
  }

  private async snapshotAfter(run: RunRecord, step: number | undefined): Promise<string> {
    const { store } = this.options;
    const pipeline = JSON.parse(run.pipelineJson) as Pipeline;
    const last = pipeline.steps.length + pipeline.onFailure.length;
    if (step !== undefined) this.checkStepNumber(run, step, 0);
    const yaml =
      step === 0
        ? await store.getSnapshot(run.id, 0, "input")
        : await store.getSnapshot(run.id, (step ?? last) - 1, "output");
    if (yaml === undefined)
      throw new RunError("E_RUN_NO_CLIPBOARD", `run ${run.id} has no clipboard at step ${step}`);
    return yaml;
  }

  private checkStepNumber(run: RunRecord, step: number, min: number): void {
    if (!Number.isInteger(step) || step < min || step > run.totalSteps) {
      throw new RunError("E_RUN_STEP", `run ${run.id} has steps ${min} to ${run.totalSteps}; got ${step}`);
    }
  }

  /** The run's source and error as people may see them: URL credentials and secrets hidden. */
  private redactRun<R extends RunView>(run: R): R {
    const redactor = this.redactor.learnText(run.source);
    return {
      ...run,
      source: redactor.text(run.source),
      error: run.error ? { ...run.error, message: redactor.text(run.error.message) } : null,
    };
  }

  /**
   * Everything secret a run has seen: jarvis.yml's, its design source's and every clipboard's,
   * so a secret a step added (a rotated password) is hidden wherever the run shows it.
   */
  private async runRedactor(run: RunRecord): Promise<Redactor> {
    const { store } = this.options;
    let redactor = this.redactor.learnText(run.source);
    const seen = new Set<string>();
    for (const step of await store.listSteps(run.id)) {
      for (const phase of ["input", "output"] as const) {
        const yaml = await store.getSnapshot(run.id, step.index, phase);
        if (yaml === undefined || seen.has(yaml)) continue;
        seen.add(yaml);
        redactor = redactor.learn(
          parseYamlMapping(yaml, `clipboard of run ${run.id}`, { maxBytes: 256 * 1024 * 1024 }).value,
        );
      }
    }
    return redactor;
  }
}
