import { defineConfig } from 'vitest/config';

// Native code runs in forked processes: addons and mmap'd memory do not belong
// in worker threads shared by test files.
export default defineConfig({
  test: {
    pool: 'forks',
    // Lifetime tests collect garbage on purpose, to check the finalizers.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 20000,
  },
});
