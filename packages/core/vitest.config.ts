import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // The flood test measures heap after a forced GC.
    execArgv: ['--expose-gc'],
  },
});
