import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { jsSizeBudget } from './scripts/js-size-budget.ts';

// The dev server (and `vite preview`) forward the API to a local service.
const apiTarget = process.env.VITE_API_TARGET ?? 'http://127.0.0.1:8000';
const proxy = {
  '/v1': { target: apiTarget },
  '/health': { target: apiTarget },
};

// The chat page's JavaScript must stay under 200 kB (200,000 bytes) gzipped;
// WEB_JS_BUDGET_KB lowers or raises it (to try the check).
const budgetKb = Number(process.env.WEB_JS_BUDGET_KB ?? 200);

export default defineConfig({
  plugins: [react(), jsSizeBudget({ limitBytes: budgetKb * 1000 })],
  server: { proxy },
  preview: { proxy },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
});
