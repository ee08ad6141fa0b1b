// Reconnect delays: capped exponential backoff with full jitter
// (delay = random() * min(max, initial * 2^attempt)), the variant that spreads
// a reconnect storm best (AWS Architecture Blog, "Exponential Backoff And
// Jitter"). random is injectable so tests and simulations reproduce.

import type { RandomSource } from '../util/random.js';

export class Backoff {
  private attempt = 0;

  constructor(
    readonly initial_ms: number,
    readonly max_ms: number,
    private readonly random: RandomSource = Math.random,
  ) {
    if (!(initial_ms > 0) || !(max_ms >= initial_ms)) {
      throw new RangeError(`backoff needs 0 < initial_ms <= max_ms, got initial_ms ${initial_ms}, max_ms ${max_ms}`);
    }
  }

  /** The delay before the next attempt; each call doubles the ceiling up to max_ms. */
  next_delay_ms(): number {
    // 2^attempt overflows to Infinity long after the ceiling is reached; min() keeps it finite.
    const ceiling = Math.min(this.max_ms, this.initial_ms * 2 ** this.attempt);
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** The ceiling of the next delay (for reports and tests). */
  ceiling_ms(): number {
    return Math.min(this.max_ms, this.initial_ms * 2 ** this.attempt);
  }

  /** Delays handed out since the last reset(). */
  attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
