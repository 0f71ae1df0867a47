import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each stack run happens in a child process of its own (Pulumi's mock runtime is process
    // global); the test files only drive them.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
