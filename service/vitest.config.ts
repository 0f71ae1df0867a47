import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['@chatbot/test-kit/global-setup'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'service',
          // Not `exclude`: a project's exclude replaces the one given on the command line
          // (the GitLab test job's --exclude of the docker tests), a negated include does not.
          include: ['test/**/*.test.ts', '!test/**/*.load.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Tests that measure latency or memory under load: after the others, one file at a time.
        extends: true,
        test: {
          name: 'load',
          include: ['test/**/*.load.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          // Heap measured after a full collection.
          execArgv: ['--expose-gc'],
        },
      },
    ],
  },
});
