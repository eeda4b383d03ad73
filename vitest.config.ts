import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    conditions: ['source'],
    // Examples import the package by name, as users do; tests import the examples.
    alias: [
      { find: /^vfio-kvm-shim$/, replacement: here('./src/index.ts') },
      { find: /^vfio-kvm-shim\/include-ts\/(.*)$/, replacement: `${here('./include-ts/')}$1.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
