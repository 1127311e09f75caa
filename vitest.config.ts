// Test configuration: real processes and sockets, so generous timeouts and forked workers.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: keep parallelism low so process-heavy suites do not starve each other.
    maxWorkers: 2,
  },
});
