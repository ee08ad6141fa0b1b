/**
 * Token bucket: `rate_per_s` tokens a second, bursts up to `burst` tokens.
 * take() is O(1) and allocation-free; time is passed in (ms) so tests are
 * deterministic.
 */
export class TokenBucket {
  private tokens: number;
  private last_ms: number;

  constructor(private readonly rate_per_s: number, private readonly burst: number, now_ms: number) {
    this.tokens = burst;
    this.last_ms = now_ms;
  }

  take(now_ms: number): boolean {
    const elapsed_ms = now_ms - this.last_ms;
    if (elapsed_ms > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed_ms * this.rate_per_s) / 1000);
      this.last_ms = now_ms;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}
