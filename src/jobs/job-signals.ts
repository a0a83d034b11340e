/**
 * What replicas tell each other about jobs, over core NATS on the agents' connection. Best effort
 * by design: the store stays the record, the driver also looks at the store's unfinished jobs on
 * every sweep, and a replica waiting for a job reads the store again now and then, so a signal
 * lost while NATS is away only delays.
 *
 *   jarvis.jobs.look     "look at this job in the store": a job made or cancelled on a replica
 *                        that does not drive, for the one that does
 *   jarvis.jobs.changed  the job and node changes a replica made, a tick at a time, so a replica
 *                        whose API or chat waits for a job it does not drive hears of it at once
 */
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { z } from "zod";
import { decode, encode } from "../pipeline/executors/nats-wire.js";
import { JOB_STATES, NODE_STATES } from "./job.js";
import type { JobState, NodeJobState } from "./job.js";
import { TickBatch } from "./tick-batch.js";

const LOOK_SUBJECT = "jarvis.jobs.look";
const CHANGED_SUBJECT = "jarvis.jobs.changed";

const jobLook = z.strictObject({ jobId: z.string() });

const jobChange = z.strictObject({
  jobId: z.string(),
  host: z.string().optional(),
  state: z.enum([...new Set([...NODE_STATES, ...JOB_STATES])]),
});

const jobChanges = z.strictObject({
  /** The replica that made them: it has told its own listeners already. */
  from: z.string(),
  changes: z.array(jobChange),
});

export type JobChange = { jobId: string; host?: string; state: NodeJobState | JobState };

export interface JobSignalHandlers {
  /** Only the driver acts on it. */
  look(jobId: string): void;
  /** Another replica's changes. */
  changes(changes: JobChange[]): void;
}

export class JobSignals {
  private readonly subscriptions: Subscription[] = [];
  private readonly outgoing: TickBatch<JobChange>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly owner: string,
    private readonly handlers: JobSignalHandlers,
    private readonly log: (line: string) => void,
  ) {
    this.outgoing = new TickBatch(
      async (changes) => this.publishChanges(changes),
      (err) => log(`job changes not told to the other replicas: ${(err as Error).message}`),
    );
  }

  start(): void {
    this.subscriptions.push(
      this.nc.subscribe(LOOK_SUBJECT, {
        callback: (err, msg) => {
          if (err) return this.log(`job signals: ${err.message}`);
          const look = decode(jobLook, msg.data);
          if (look.ok) this.handlers.look(look.value.jobId);
          else this.log(`ignored a job signal that is none (${look.why})`);
        },
      }),
      this.nc.subscribe(CHANGED_SUBJECT, {
        callback: (err, msg) => {
          if (err) return this.log(`job signals: ${err.message}`);
          const told = decode(jobChanges, msg.data);
          if (!told.ok) return this.log(`ignored job changes that are none (${told.why})`);
          if (told.value.from !== this.owner) this.handlers.changes(told.value.changes);
        },
      }),
    );
  }

  async stop(): Promise<void> {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    await this.outgoing.drained();
  }

  /** Ask the driver to look at a job. */
  look(jobId: string): void {
    this.nc.publish(LOOK_SUBJECT, encode({ jobId }));
  }

  /** Tell the other replicas of a change this one made (sent with the rest of this tick's). */
  changed(change: JobChange): void {
    this.outgoing.push(change);
  }

  /**
   * A fan-out's thousand node changes are one message: every job change, and one node change per
   * job, which is all a follower needs to read the job's events again.
   */
  private async publishChanges(changes: JobChange[]): Promise<void> {
    const jobLevel = changes.filter((c) => c.host === undefined);
    const lastOfNodes = new Map(changes.filter((c) => c.host !== undefined).map((c) => [c.jobId, c]));
    this.nc.publish(
      CHANGED_SUBJECT,
      encode({ from: this.owner, changes: [...jobLevel, ...lastOfNodes.values()] }),
    );
  }
}
