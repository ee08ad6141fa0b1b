import { pino, type Logger } from 'pino';

// One root logger; modules take a child with their name. Level from LOG_LEVEL,
// else info (decided once at start-up: disabled levels become no-ops inside
// pino). Tests set LOG_LEVEL in vitest.config.ts; production code does not
// know it runs under a test runner.
export const log_root: Logger = pino({
  name: 'depthcast',
  level: process.env.LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
});

export function logger_for(module: string): Logger {
  return log_root.child({ module });
}
