import { defineConfig } from 'vitest/config';

/**
 * unit: each package's tests, run against its TypeScript sources (the "otpgate-source" export condition).
 * e2e: cross-package tests in test/, run against the built `otpgate` command with real RADIUS clients.
 */
export default defineConfig({
  test: {
    projects: [
      {
        resolve: { conditions: ['otpgate-source'] },
        ssr: { resolve: { conditions: ['otpgate-source'] } },
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 20_000,
          // unit tests first, then the end-to-end ones (each group with its own worker count)
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // each file starts its own nodes on its own ports; two at a time suits a 2-core machine
          maxWorkers: 2,
          fileParallelism: true,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
