// Aggregation of fan-out trials over rounds: medians per server, so one
// window disturbed by another process on the machine does not decide a number.
// Also the latency histogram of the benches that record in this process
// (slow readers, slow consumers).
import { build, type Histogram } from 'hdr-histogram-js';
import { median, round } from '../../lib.js';
import { hop_keys, type HopKey, type LatencySummaryUs } from './protocol.js';
import type { TrialResult } from './orchestrate.js';
import type { TargetKind } from './target.js';
import type { WireSummary } from './wire_capture.js';

export { median } from '../../lib.js';

/**
 * An empty latency histogram (µs, 3 significant digits) sized for 120 s that
 * grows past it rather than throwing (hdr-histogram-js's autoResize, on by
 * default), unlike src/metrics' fixed-range new_latency_histogram: a bench
 * window with a stalled reader still reports.
 */
export function new_bench_latency_histogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/** A latency histogram (µs) as the harness reports it. */
export function latency_summary(h: Histogram, negative_samples: number): LatencySummaryUs {
  return {
    count: h.totalCount, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99),
    p99_9: h.getValueAtPercentile(99.9), max: h.maxValue, mean: Math.round(h.mean), negative_samples,
  };
}

/** The list rotated left by n: round r starts with a different server each time. */
export function rotate<T>(xs: readonly T[], n: number): T[] {
  const k = n % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** One server's trials folded into medians: a TrialResult's numbers, less what is per trial. */
export type KindSummary = Omit<TrialResult, 'kind' | 'round' | 'mode' | 'clients' | 'close_codes' | 'bottleneck' | 'measure_s' | 'server_stats' | 'server_counts_per_s'> & {
  windows: number;
  bottleneck: string;
};

type NumericKey = { [K in keyof TrialResult]-?: TrialResult[K] extends number ? K : never }[keyof TrialResult];

export function summarize_trials(trials: readonly TrialResult[], kinds: readonly TargetKind[]): Record<string, KindSummary> {
  const out: Record<string, KindSummary> = {};
  for (const kind of kinds) {
    const ts = trials.filter((t) => t.kind === kind);
    if (ts.length === 0) continue;
    const med = (k: NumericKey, digits = 3): number => round(median(ts.map((t) => t[k] as number)), digits);
    const bottlenecks = ts.map((t) => t.bottleneck);
    out[kind] = {
      windows: ts.length,
      clients_connected: Math.min(...ts.map((t) => t.clients_connected)),
      achieved_ticks_per_s: med('achieved_ticks_per_s', 1),
      offered_ticks_per_s: ts[0].offered_ticks_per_s,
      kept_up: ts[0].kept_up === null ? null : ts.every((t) => t.kept_up === true),
      frames_per_tick_per_client: med('frames_per_tick_per_client'),
      delivered_frames_per_s: Math.round(median(ts.map((t) => t.delivered_frames_per_s))),
      delivered_megabytes_per_s: med('delivered_megabytes_per_s', 2),
      server_cpu_cores: med('server_cpu_cores'),
      server_cpu_us_per_frame: med('server_cpu_us_per_frame'),
      frames_per_server_cpu_s: Math.round(median(ts.map((t) => t.frames_per_server_cpu_s))),
      client_cpu_cores: med('client_cpu_cores'),
      server_runqueue_wait_cores: med('server_runqueue_wait_cores'),
      client_runqueue_wait_cores: med('client_runqueue_wait_cores'),
      bottleneck: bottlenecks.sort((a, b) => bottlenecks.filter((x) => x === b).length - bottlenecks.filter((x) => x === a).length)[0],
      latency_us: median_latency(ts.map((t) => t.latency_us))!,
      co_latency_us: median_latency(ts.map((t) => t.co_latency_us)),
      schedule_lag_us: median_latency(ts.map((t) => t.schedule_lag_us)),
      hops_us: ts.every((t) => t.hops_us !== null)
        ? Object.fromEntries(hop_keys.map((k) => [k, median_latency(ts.map((t) => t.hops_us![k]))!])) as Record<HopKey, LatencySummaryUs> : null,
      wire: median_wire(ts.map((t) => t.wire)),
      client_loop_lag_us: { p99: Math.max(...ts.map((t) => t.client_loop_lag_us.p99)), max: Math.max(...ts.map((t) => t.client_loop_lag_us.max)) },
      driver_spin_cores: med('driver_spin_cores', 4),
      gaps: ts.reduce((sum, t) => sum + t.gaps, 0),
      decode_errors: ts.reduce((sum, t) => sum + t.decode_errors, 0),
      closed_clients: Math.max(...ts.map((t) => t.closed_clients)),
      stream_exhausted: ts.some((t) => t.stream_exhausted),
    };
  }
  return out;
}

/** Windows' wire measurements folded as latency summaries are; capture losses summed (null if any window has none). */
function median_wire(list: readonly (WireSummary | null)[]): WireSummary | null {
  if (list.length === 0 || list.some((w) => w === null)) return null;
  const ws = list as WireSummary[];
  const sum = (k: 'packets' | 'frames' | 'capture_dropped' | 'truncated_packets' | 'unsynced_packets' | 'resyncs') => ws.reduce((n, w) => n + w[k], 0);
  return {
    latency_us: median_latency(ws.map((w) => w.latency_us))!,
    ingest_to_wire_us: median_latency(ws.map((w) => w.ingest_to_wire_us)),
    packets: sum('packets'), frames: sum('frames'), capture_dropped: sum('capture_dropped'),
    truncated_packets: sum('truncated_packets'), unsynced_packets: sum('unsynced_packets'), resyncs: sum('resyncs'),
  };
}

/** Windows' latency summaries folded: medians of the percentiles, the max of the maxima, counts summed; null if any window has none. */
export function median_latency(list: readonly (LatencySummaryUs | null)[]): LatencySummaryUs | null {
  if (list.length === 0 || list.some((l) => l === null)) return null;
  const ls = list as LatencySummaryUs[];
  const med = (k: keyof LatencySummaryUs): number => median(ls.map((l) => l[k]));
  return {
    count: ls.reduce((sum, l) => sum + l.count, 0),
    p50: med('p50'), p90: med('p90'), p99: med('p99'), p99_9: med('p99_9'),
    max: Math.max(...ls.map((l) => l.max)), mean: med('mean'),
    negative_samples: ls.reduce((sum, l) => sum + l.negative_samples, 0),
  };
}

/** Per-round ratio subject ÷ baseline of one metric (windows of the same round and mode), and the median over rounds. */
export function round_ratios(
  trials: readonly TrialResult[], subject: TargetKind, baseline: TargetKind,
  metric: 'delivered_frames_per_s' | 'frames_per_server_cpu_s' | ((t: TrialResult) => number), mode: TrialResult['mode'],
): { median: number; rounds: number[] } {
  const value = typeof metric === 'function' ? metric : (t: TrialResult) => t[metric];
  const per_round: number[] = [];
  const rounds = new Set(trials.map((t) => t.round ?? 0));
  for (const r of rounds) {
    const s = trials.find((t) => t.kind === subject && t.mode === mode && (t.round ?? 0) === r);
    const b = trials.find((t) => t.kind === baseline && t.mode === mode && (t.round ?? 0) === r);
    if (s !== undefined && b !== undefined && value(b) > 0) per_round.push(round(value(s) / value(b), 3));
  }
  return { median: round(median(per_round), 3), rounds: per_round };
}

/** The server's own counts per second (Target.counts), when it reports any. */
function counts_text(counts: Record<string, number> | undefined): string {
  const entries = Object.entries(counts ?? {});
  return entries.length === 0 ? '' : `, per s: ${entries.map(([k, v]) => `${k} ${v}`).join(' ')}`;
}

/** One progress line per measured window. */
export function window_line(t: TrialResult, rounds: number): string {
  const offered = t.offered_ticks_per_s === null ? 'saturation' : `${t.achieved_ticks_per_s}/${t.offered_ticks_per_s} ticks/s`;
  return `  round ${(t.round ?? 0) + 1}/${rounds} ${t.kind.padEnd(9)} ${offered}: ${Math.round(t.delivered_frames_per_s)} frames/s, ` +
    `${t.server_cpu_us_per_frame} µs server CPU/frame, server ${t.server_cpu_cores} cores (+${t.server_runqueue_wait_cores} waiting), ` +
    `clients ${t.client_cpu_cores} (+${t.client_runqueue_wait_cores}), p50/p99 ${t.latency_us.p50}/${t.latency_us.p99} µs` +
    `${counts_text(t.server_counts_per_s)}` +
    `${t.wire === null ? '' : `, at the wire ${t.wire.latency_us.p50}/${t.wire.latency_us.p99} µs ${t.wire.ingest_to_wire_us === null ? '' : ` (ingest→wire ${t.wire.ingest_to_wire_us.p50}/${t.wire.ingest_to_wire_us.p99})`} ` +
      `(${t.wire.frames} frames, ${t.wire.capture_dropped} dropped, ${t.wire.truncated_packets} truncated, ${t.wire.unsynced_packets}/${t.wire.packets} packets unsynced, ${t.wire.resyncs} resyncs)`}\n`;
}
