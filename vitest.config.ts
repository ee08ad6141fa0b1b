import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real servers and sockets; 2 cores: keep parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
    // Quiet test output: warnings and errors only, unless LOG_LEVEL says otherwise.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  },
});
