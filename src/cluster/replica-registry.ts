/**
 * A replica says it is alive: its member entry (id, host, pid, start, networks held) is rewritten
 * every MEMBER_HEARTBEAT_MS and whenever the networks it holds change, and deleted on a clean stop.
 * A replica killed with -9 stops rewriting it; the bucket drops it after MEMBER_TTL_MS.
 */
import { hostname } from "node:os";
import type { KV } from "@nats-io/kv";
import { errorMessage } from "../errors.js";
import { encode } from "../pipeline/executors/nats-wire.js";
import { MEMBER_HEARTBEAT_MS, memberKey } from "./cluster-buckets.js";
import type { ReplicaMember } from "./cluster-buckets.js";

/** Keeps this replica's member entry current. */
export class ReplicaRegistry {
  private readonly member: ReplicaMember;
  private readonly key: string;
  private readonly timer: NodeJS.Timeout;
  /** Said once per outage, not every heartbeat. */
  private failing = false;

  constructor(
    private readonly kv: KV,
    id: string,
    private readonly log: (line: string) => void,
  ) {
    this.member = { id, host: hostname(), pid: process.pid, startedAt: Date.now(), networks: [] };
    this.key = memberKey("replicas", id);
    this.timer = setInterval(() => void this.write(), MEMBER_HEARTBEAT_MS);
    void this.write();
  }

  /** The networks this replica speaks for now. */
  setNetworks(networks: string[]): void {
    this.member.networks = [...networks].sort();
    void this.write();
  }

  /** Leave the cluster view at once. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.kv.delete(this.key);
    } catch (err) {
      this.log(`cluster: member entry not removed (${errorMessage(err)}); it expires by itself`);
    }
  }

  private async write(): Promise<void> {
    try {
      await this.kv.put(this.key, encode(this.member));
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log(`cluster: heartbeat not written (${errorMessage(err)}); trying again`);
      this.failing = true;
    }
  }
}
