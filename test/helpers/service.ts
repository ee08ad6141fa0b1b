// Builds configs and whole services for integration tests.
import { default_config, type Config } from '../../src/config.js';

export function test_config(overrides: Partial<Config> = {}): Readonly<Config> {
  return Object.freeze({
    ...default_config(),
    port: 0,
    ui: false,
    log_level: 'warn',
    heartbeat_interval_ms: 200,
    snapshot_timeout_ms: 500,
    ...overrides,
  });
}

/**
 * The tests' one poll-until: resolves when predicate() holds; rejects naming `what` after timeout_ms (a hang guard, not a
 * timing assertion). The default is 20 s: CI's loaded 2-core box runs the suite ~20% slower than a quiet clone here,
 * and a guard that fires there on a correct system costs the whole stop; a passing wait costs no more for it.
 */
export async function wait_for(what: string, predicate: () => boolean | Promise<boolean>, timeout_ms = 20_000, poll_ms = 20): Promise<void> {
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout_ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, poll_ms));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
