import { defineConfig } from 'vitest/config';

export default defineConfig({
  // `depthcast/client` (imported by the page) resolves to its source through tsconfig.json's paths.
  resolve: { tsconfigPaths: true },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // One test file at a time. The integration tests start real servers, NATS clusters, hundreds of clients and
    // Chromium, and assert bounds (staleness, failover, resumes) that hold on this 2-core machine when a file
    // has it to itself. With two files at once, two heavy ones sharing the cores failed about one clean-clone
    // CI run in three, each time a different test (feed_failover, slow_readers, page, nats_cluster). The suite
    // takes about 6 minutes this way instead of 3.5.
    maxWorkers: 1,
    pool: 'forks',
    // Quiet test output: warnings and errors only, unless LOG_LEVEL says otherwise.
    // The feed's heavy invariant checks are on in every test (src/feed/invariants.ts); its O(1) ones always are.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', DEPTHCAST_ASSERT: '1' },
  },
});
