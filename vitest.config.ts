import { defineConfig } from "vitest/config";

// Integration tests start real servers; give them room, and keep the 2-core machine from
// running too many server-heavy files at once.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 3,
  },
});
