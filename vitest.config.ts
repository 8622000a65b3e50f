import { defineConfig } from "vitest/config";

// Three tiers (docs/lab.md): pure rooms, the cluster lab on the host,
// and the same lab inside a UML kernel that has netem. The two lab tiers share one
// control plane, so their files run one after another. A lab test that fails is retried once
// (CHAOS_RUN_TEST_RETRY=0: never); one that passed only on its retry is printed as FLAKY, with
// the error it failed with (test/support/flaky-reporter.ts).
const labRetry = Number(process.env.CHAOS_RUN_TEST_RETRY ?? 1);

export default defineConfig({
  test: {
    reporters: ["default", "./test/support/flaky-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "cluster",
          include: ["test/cluster/**/*.test.ts"],
          globalSetup: ["test/cluster/global-setup.ts"],
          fileParallelism: false,
          retry: labRetry,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "kernel",
          include: ["test/kernel/**/*.test.ts"],
          fileParallelism: false,
          retry: labRetry,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
