import { pino, type Logger } from 'pino';

// One root logger; modules take a child with their name. Level from LOG_LEVEL
// (decided once at start-up: disabled levels become no-ops inside pino).
export const log_root: Logger = pino({
  name: 'depthcast',
  level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'warn' : 'info'),
  base: { pid: process.pid },
});

export function logger_for(module: string): Logger {
  return log_root.child({ module });
}
