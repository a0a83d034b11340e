/**
 * The scheduler inside `jarvis start`: it reads due schedules from the store (the source of
 * truth, shared by every process), plans each by the store's clock, claims the occurrence by
 * compare-and-set, and only the winner starts the run, on behalf of `schedule:<id>`, audited.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../errors.js";
import { planDue, DEFAULT_GRACE_MS } from "./plan.js";
import type { RunControl } from "../pipeline/run-control.js";
import type { RunStore } from "../store/run-store.js";
import type { ScheduleRecord } from "../store/schedule-store.js";

/** What the scheduler needs. */
export interface SchedulerOptions {
  store: RunStore;
  control: Pick<RunControl, "startAll" | "recordAudit">;
  /** This process's lease owner id, recorded as who handled an occurrence. */
  owner: string;
  log: (line: string) => void;
  pollMs?: number;
  graceMs?: number;
}

/** Polls for due schedules until closed. */
export class Scheduler {
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: SchedulerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }

  /** Handle every schedule due now; exported for tests through `tick`. */
  async tick(): Promise<void> {
    const { store } = this.options;
    const now = await store.now();
    for (const schedule of await store.dueSchedules()) await this.handle(schedule, now);
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      try {
        await this.tick();
      } catch (err) {
        this.options.log(`scheduler: ${errorMessage(err)}; trying again shortly`);
      }
      try {
        await sleep(this.options.pollMs ?? 1000, undefined, { signal: this.stop.signal });
      } catch (err) {
        if (!this.stop.signal.aborted) throw err;
      }
    }
  }

  private async handle(schedule: ScheduleRecord, now: number): Promise<void> {
    const { store, control, owner, log } = this.options;
    const plan = planDue(schedule, now, this.options.graceMs ?? DEFAULT_GRACE_MS);
    if (!plan || schedule.nextAt === null) return;
    const claimed = await store.claimOccurrence({
      scheduleId: schedule.id,
      expectedNextAt: schedule.nextAt,
      nextAt: plan.nextAt,
      owner,
      occurrence: { at: plan.at, late: plan.late, missedBefore: plan.missedBefore, action: plan.action },
    });
    if (!claimed) return; // another process handles it
    const when = new Date(plan.at).toISOString();
    const identity = `schedule:${schedule.id}`;
    const audit = { identity, network: "schedule", room: schedule.origin };
    const command = `${schedule.pipeline} ${schedule.source} (scheduled by ${schedule.createdBy}, for ${when})`;
    if (plan.action === "skip") {
      log(
        `scheduler: ${schedule.id} missed its occurrence at ${when} while jarvis was down; skipped (misfire: skip)`,
      );
      await control.recordAudit({
        ...audit,
        command,
        decision: "allowed",
        reason: "missed; skipped",
        runId: null,
      });
      return;
    }
    try {
      const [run] = await control.startAll(
        schedule.pipeline,
        schedule.source,
        { identity, origin: schedule.origin },
        { force: schedule.force, fileAccess: schedule.fileAccess },
      );
      await store.recordOccurrenceResult(schedule.id, plan.at, { runId: run?.id ?? "" });
      await control.recordAudit({
        ...audit,
        command,
        decision: "allowed",
        reason: plan.late ? "missed while down; run once (misfire: once)" : "on time",
        runId: run?.id ?? null,
      });
    } catch (err) {
      const message = errorMessage(err);
      log(`scheduler: ${schedule.id} could not start its run for ${when}: ${message}`);
      await store.recordOccurrenceResult(schedule.id, plan.at, { error: message });
      await control.recordAudit({ ...audit, command, decision: "error", reason: message, runId: null });
    }
  }
}
