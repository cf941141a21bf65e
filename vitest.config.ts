import { defineConfig } from 'vitest/config';

// Four suites: pure unit tests, tests against real processes on the host
// (PID namespaces, signals, cgroup v1), other platforms (arm64 under qemu-user,
// the single executable), and tests inside the cgroup v2 VM bench.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'process',
          include: ['test/process/**/*.test.ts'],
          globalSetup: ['test/helpers/cgroup-sandbox.setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Other platforms: arm64 under qemu user-mode emulation (scripts/arm64/setup.mjs),
        // the single executable (scripts/build-sea.mjs).
        test: {
          name: 'platforms',
          include: ['test/platforms/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
