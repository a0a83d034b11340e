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
  },
});
