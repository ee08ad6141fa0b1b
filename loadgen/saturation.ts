// Is the load generator itself the bottleneck? A client thread that cannot keep
// up delays every frame it reads by its own event-loop lag, and that lag then
// sits inside every latency it reports. So the judgement is relative to the
// latency reported, not a fixed allowance: a worker whose event-loop lag p99
// (over the measured run, warm-up left out) is at least `share_max` of the
// reported p99 (fast clients, engine→receive per Delta) is saturated, and the
// run's latency describes the load generator, not the feed. A saturated run's
// latency is withheld unless the caller allows it (--allow-saturated); the
// loadgen's own lag is reported beside the result either way.
//
// Lag is measured by loop_lag.ts (LoopLagMeter, its one definition). Pure; no I/O.

export interface SaturationVerdict {
  saturated: boolean;
  /** Worst worker's event-loop lag p99 over the measured run (µs). */
  loop_lag_us_p99: number;
  /** The latency p99 it is judged against (µs; fast engine→receive per Delta); 0 = no samples. */
  latency_us_p99: number;
  /** loop_lag_us_p99 ÷ latency_us_p99 (null without latency samples). */
  share: number | null;
  share_max: number;
  /** The verdict in one sentence, numbers included. */
  reason: string;
}

/** Default share of the reported p99 that a worker's own lag may reach before the run counts as saturated. */
export const saturation_share_max_default = 0.25;

const ms = (us: number): string => (us / 1000).toFixed(us >= 10_000 ? 1 : 2);

export function judge_saturation(loop_lag_us_p99: number, latency_us_p99: number, share_max: number): SaturationVerdict {
  if (!(latency_us_p99 > 0)) {
    return { saturated: false, loop_lag_us_p99, latency_us_p99, share: null, share_max, reason: `no latency samples to judge against (worker event-loop lag p99 ${ms(loop_lag_us_p99)} ms)` };
  }
  const share = loop_lag_us_p99 / latency_us_p99;
  const saturated = share >= share_max;
  const numbers = `worst worker's event-loop lag p99 ${ms(loop_lag_us_p99)} ms is ${(share * 100).toFixed(0)}% of the reported p99 ${ms(latency_us_p99)} ms (limit ${(share_max * 100).toFixed(0)}%)`;
  return {
    saturated, loop_lag_us_p99, latency_us_p99, share, share_max,
    reason: saturated
      ? `the load generator is saturated: ${numbers}; its latencies are mostly its own queueing. Give it more workers or cores, or fewer clients`
      : `the load generator kept up: ${numbers}`,
  };
}

/** Exit status of a run whose latency was withheld because the load generator was saturated. */
export const exit_saturated = 3;

/**
 * What the run may say about latency: withheld (latency_us and the percentile
 * distributions emptied, the reason recorded) when saturated and not allowed.
 * Returns the reason it was withheld, or null when the latency stands.
 */
export function withhold_if_saturated<S extends { latency_us: Record<string, unknown>; percentile_distribution: Record<string, unknown> }>(
  summary: S, verdict: SaturationVerdict, allow_saturated: boolean,
): string | null {
  if (!verdict.saturated || allow_saturated) return null;
  for (const name of Object.keys(summary.latency_us)) summary.latency_us[name] = null;
  for (const name of Object.keys(summary.percentile_distribution)) summary.percentile_distribution[name] = null;
  return `latency not reported: ${verdict.reason} (--allow-saturated reports it anyway; the per-second .hlog is written regardless)`;
}
