// The load generator's judgement of itself (loadgen/saturation.ts): a worker
// whose own event-loop lag is a sizeable share of the latency p99 it reports
// is saturated, and its latency is withheld unless --allow-saturated. The
// lag comes from a real ClientPool's event-loop monitor: one whose loop is
// deliberately blocked is refused, an idle one reports.
import { describe, expect, it } from 'vitest';
import { ClientPool } from '../../loadgen/client_pool.js';
import { default_options } from '../../loadgen/options.js';
import { judge_saturation, saturation_share_max_default, withhold_if_saturated } from '../../loadgen/saturation.js';
import { loop_lag_us } from '../../loadgen/loop_lag.js';

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* the worker's loop is blocked, as by clients it cannot keep up with */ }
}

/** A pool with no clients (its event-loop monitors run), its run-long lag p99 after `blocks` stalls of `block_ms` over about a second. */
async function pool_lag_us(blocks: number, block_ms: number): Promise<number> {
  const pool = new ClientPool({ ...default_options(), warmup_s: 0 }, [], 100);
  pool.start();
  for (let i = 0; i < 5; i++) {
    await wait(200);
    if (i < blocks) busy(block_ms);
  }
  const report = await pool.report(1, false, 0);
  pool.stop();
  return report.counters.loop_lag_us_p99_run;
}

function summary_with_latency() {
  const hop = { p99: 4000 };
  return {
    latency_us: { fast: { engine_to_receive: hop } as unknown, fast_events: { engine_to_receive: hop } as unknown, slow: null as unknown },
    percentile_distribution: { fast: { engine_to_receive: [] } as unknown, slow: null as unknown },
  };
}

describe('load generator saturation', () => {
  it('is judged against the reported p99, not a fixed allowance', () => {
    expect(judge_saturation(2000, 4000, 0.25).saturated).toBe(true);   // 2 ms of own lag in a 4 ms p99
    expect(judge_saturation(2000, 100_000, 0.25).saturated).toBe(false); // the same lag in a 100 ms p99
    expect(judge_saturation(999, 4000, 0.25).saturated).toBe(false);
    expect(judge_saturation(1000, 4000, 0.25).saturated).toBe(true);
    const none = judge_saturation(5000, 0, 0.25);
    expect([none.saturated, none.share]).toEqual([false, null]);
    expect(judge_saturation(2000, 4000, 0.25).reason).toMatch(/saturated: worst worker's event-loop lag p99 2\.00 ms is 50% of the reported p99 4\.00 ms \(limit 25%\)/);
  });

  it('lag is the delay beyond the monitor\'s own timer period', () => {
    expect(loop_lag_us(10.2e6, 10)).toBe(200);
    expect(loop_lag_us(9.9e6, 10)).toBe(0);
  });

  it('a saturated run withholds its latency and says why; --allow-saturated reports it', () => {
    const verdict = judge_saturation(3000, 4000, saturation_share_max_default);
    const refused = summary_with_latency();
    const why = withhold_if_saturated(refused, verdict, false);
    expect(why).toMatch(/latency not reported: the load generator is saturated: .* 75% of the reported p99 4\.00 ms.*--allow-saturated/);
    expect(Object.values(refused.latency_us).every((v) => v === null)).toBe(true);
    expect(Object.values(refused.percentile_distribution).every((v) => v === null)).toBe(true);
    const allowed = summary_with_latency();
    expect(withhold_if_saturated(allowed, verdict, true)).toBeNull();
    expect(allowed.latency_us.fast).not.toBeNull();
    const kept_up = summary_with_latency();
    expect(withhold_if_saturated(kept_up, judge_saturation(100, 4000, saturation_share_max_default), false)).toBeNull();
    expect(kept_up.latency_us.fast).not.toBeNull();
  });

  it('a worker whose loop is deliberately blocked is judged saturated; an idle one is not', async () => {
    const blocked_lag = await pool_lag_us(3, 300);
    expect(blocked_lag).toBeGreaterThan(150_000);
    // Against a 100 ms p99, 300 ms stalls of its own make the loadgen the bottleneck.
    expect(judge_saturation(blocked_lag, 100_000, saturation_share_max_default).saturated).toBe(true);
    const idle_lag = await pool_lag_us(0, 0);
    expect(idle_lag).toBeLessThan(blocked_lag);
    // Against a 1 s p99, an idle worker's timer jitter (a loaded 2-core box: tens of ms at worst) is no bottleneck.
    expect(judge_saturation(idle_lag, 1_000_000, saturation_share_max_default).saturated).toBe(false);
  });
});
