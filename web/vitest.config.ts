import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// Two projects: the component and unit tests in jsdom, and the browser end-to-end test
// (test/*.browser.test.ts) in Node, where it starts Postgres and Redis (the test kit's global
// setup: TEST_DATABASE_URL / TEST_REDIS_URL or containers), the service and headless Chromium.
// Timeouts are deadlines for a hang, not measures: a loaded CI machine renders slowly.
export default defineConfig({
  plugins: [react()],
  test: {
    restoreMocks: true,
    unstubGlobals: true,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'jsdom',
          include: ['test/**/*.test.{ts,tsx}'],
          exclude: ['test/**/*.browser.test.ts'],
          setupFiles: ['test/support/setup.ts'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          environment: 'node',
          include: ['test/**/*.browser.test.ts'],
          globalSetup: ['@chatbot/test-kit/global-setup'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
