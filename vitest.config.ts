import { configDefaults, defineConfig } from 'vitest/config';

/**
 * unit: each package's tests, run against its TypeScript sources (the "otpgate-source" export condition).
 * e2e: cross-package tests in test/, run against the built `otpgate` command with real RADIUS clients.
 * e2e-log-scan: after every other test, checks that no log the suite wrote holds a secret the tests used.
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
          exclude: [...configDefaults.exclude, 'test/zz-log-secrets.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          // a set-up starts nodes and runs the otpgate command a dozen times: a second or two each on a busy 2-core machine
          hookTimeout: 180_000,
          // each file starts its own nodes on its own ports; two at a time suits a 2-core machine
          maxWorkers: 2,
          fileParallelism: true,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'e2e-log-scan',
          include: ['test/zz-log-secrets.test.ts'],
          environment: 'node',
          // it reads every log the suite wrote: a bulk import's are tens of megabytes
          testTimeout: 120_000,
          // a group of its own, started once every end-to-end file has finished and written its logs
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
