/**
 * Who drives the jobs: exactly one process sends the requests, reads the agents' replies, settles
 * batches, expires TTLs and carries cancels out, for every job of the store. Any process may make
 * or cancel a job in the store; the driver takes it from there. On PostgreSQL, where several
 * replicas share the jobs, the right to drive is a lease on the database's clock (as a run's
 * lease is); on SQLite the one service on the file drives, as it always did.
 */

export interface JobControl {
  /**
   * True where one process owns the store's jobs (SQLite): `hold` always grants, and a restart
   * drives at once instead of waiting for its predecessor's lease to run out.
   */
  readonly sole: boolean;
  /**
   * Take the lease, or extend it when `owner` holds it already, for `leaseMs` from now on the
   * store's clock; false while another owner's lease has not expired.
   */
  hold(owner: string, leaseMs: number): Promise<boolean>;
  /** Hand the lease back at once (a clean stop), if `owner` holds it. */
  release(owner: string): Promise<void>;
  /** The owner whose lease has not expired, if any. */
  holder(): Promise<string | undefined>;
}

/** SQLite's: the process that opened the file drives. */
export const soleJobControl: JobControl = {
  sole: true,
  hold: async () => true,
  release: async () => undefined,
  holder: async () => undefined,
};
