import { defineConfig } from "vitest/config";

// Integration tests start real servers and spawn many jarvis processes; on a loaded 2-core machine
// one such test can need minutes where it needs seconds alone. Tests wait for conditions with their
// own deadlines; these limits only stop a test that hangs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    pool: "forks",
    maxWorkers: 3,
    // A net for intermittent failures under heavy load, each to be found and fixed, not hidden: the
    // nats-server restart test's were two real defects (SQLite write transactions that did not wait
    // for the write lock, and a first NATS connection not retried while the server restarted), now
    // fixed. Left: the 10 MB body can meet EPIPE before its 413 is read. A failing test must fail
    // twice in a row to fail the suite; `retry` reports each retried test.
    retry: 1,
  },
});
