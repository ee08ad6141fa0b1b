// What the main thread and the worker threads say to each other. Everything
// is structured-clone friendly: histograms travel as bucket lists
// (hop_buckets.ts: cheap to make on the worker's event loop), counters as
// plain numbers.
import type { ClientCounters } from '../src/client/index.js';
import { client_hops, type HopName } from '../src/metrics/hop_histograms.js';
import type { BucketedHopHistograms } from './hop_buckets.js';
import type { LoadgenOptions } from './options.js';
import type { ClientSpec } from './plan.js';

/**
 * The latency series a worker records, each a HopHistograms:
 *   fast, slow               one sample per Delta frame: receive − ts_engine_ns (the
 *                            newest event the frame covers), and receive − ts_send_ns
 *   fast_events, slow_events one sample per trade: receive − the trade's own
 *                            ts_engine_ns. Trades are engine events the feed cannot
 *                            choose or merge away, so this series sees every stall
 *                            in full, even one after which the feed sends the
 *                            backlog as a few merged frames.
 * fast/slow: the clients that read promptly / the --slow-fraction readers.
 */
export const series_names = ['fast', 'fast_events', 'slow', 'slow_events'] as const;
export type SeriesName = (typeof series_names)[number];
export const series_hops: Readonly<Record<SeriesName, readonly HopName[]>> = {
  fast: client_hops,
  fast_events: ['engine_to_receive'],
  slow: client_hops,
  slow_events: ['engine_to_receive'],
};
export type EncodedSeries = Record<SeriesName, BucketedHopHistograms>;

export interface WorkerStart {
  type: 'start';
  worker: number;
  /** ms since the Unix epoch the run started (the same for every worker). */
  run_start_ms: number;
  options: LoadgenOptions;
  clients: ClientSpec[];
  /** How many connects per second this worker opens while ramping up. */
  connect_rate_per_s: number;
}

export type ToWorker =
  | WorkerStart
  | { type: 'tick'; seq: number }
  | { type: 'storm'; clients: number[] }
  | { type: 'drain'; deadline_ms: number }
  | { type: 'stop'; seq: number };

/** Counts of one worker since its start; the main thread sums them over workers. */
export interface WorkerCounters {
  client: ClientCounters;
  clients_started: number;
  /** Clients whose connection is open and hearing from the server right now. */
  connected: number;
  connected_slow: number;
  /** Views with a verified book right now. */
  views_synced: number;
  views_total: number;
  closes_by_code: Record<string, number>;
  errors_by_kind: Record<string, number>;
  storm_drops: number;
  slow_pauses: number;
  /** Paused readers released after the run, and how many of them caught up before the deadline. */
  drain_released: number;
  drain_caught_up: number;
  /** Event-loop delay of the worker (µs): high values mean the clients themselves lag. */
  loop_delay_us_p99: number;
  loop_delay_us_max: number;
  /** Event-loop lag p99 (µs) over the measured run so far (after --warmup-s): what loadgen/saturation.ts judges. */
  loop_lag_us_p99_run: number;
}

export interface WorkerReport {
  type: 'report';
  worker: number;
  seq: number;
  final: boolean;
  now_ms: number;
  /** Samples since the previous report, per series. */
  series: EncodedSeries;
  counters: WorkerCounters;
  /** A few error messages, first seen first (for the report, not for counting). */
  error_samples: string[];
}

export type FromWorker =
  | { type: 'ready'; worker: number }
  | { type: 'drained'; worker: number }
  | WorkerReport
  | { type: 'failed'; worker: number; message: string };

export const client_counter_names: readonly (keyof ClientCounters)[] = [
  'frames', 'bytes', 'snapshots', 'deltas', 'heartbeats', 'statuses', 'pongs', 'server_errors',
  'resyncs', 'resumed_views', 'resume_refused', 'digest_mismatches', 'range_breaks', 'epoch_changes', 'duplicates', 'crossed_books',
  'invalid_frames', 'decode_errors', 'discarded_deltas', 'unknown_view_frames', 'unknown_level_removals',
  'conflated_frames', 'updates_merged', 'trades', 'trade_aggregates', 'trades_folded', 'trades_missing',
  'snapshot_timeouts', 'reconnects', 'stale_connections', 'closes', 'listener_errors',
];

export function zero_client_counters(): ClientCounters {
  const out = {} as Record<keyof ClientCounters, number>;
  for (const name of client_counter_names) out[name] = 0;
  return out as ClientCounters;
}

export function add_client_counters(into: ClientCounters, from: Readonly<ClientCounters>): void {
  for (const name of client_counter_names) into[name] += from[name];
}

export function zero_worker_counters(): WorkerCounters {
  return {
    client: zero_client_counters(), clients_started: 0, connected: 0, connected_slow: 0, views_synced: 0, views_total: 0,
    closes_by_code: {}, errors_by_kind: {}, storm_drops: 0, slow_pauses: 0,
    drain_released: 0, drain_caught_up: 0, loop_delay_us_p99: 0, loop_delay_us_max: 0,
    loop_lag_us_p99_run: 0,
  };
}

function add_record(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Sums counters of several workers; loop delays take the worst worker. */
export function sum_worker_counters(list: readonly WorkerCounters[]): WorkerCounters {
  const out = zero_worker_counters();
  for (const c of list) {
    add_client_counters(out.client, c.client);
    out.clients_started += c.clients_started;
    out.connected += c.connected;
    out.connected_slow += c.connected_slow;
    out.views_synced += c.views_synced;
    out.views_total += c.views_total;
    add_record(out.closes_by_code, c.closes_by_code);
    add_record(out.errors_by_kind, c.errors_by_kind);
    out.storm_drops += c.storm_drops;
    out.slow_pauses += c.slow_pauses;
    out.drain_released += c.drain_released;
    out.drain_caught_up += c.drain_caught_up;
    out.loop_delay_us_p99 = Math.max(out.loop_delay_us_p99, c.loop_delay_us_p99);
    out.loop_delay_us_max = Math.max(out.loop_delay_us_max, c.loop_delay_us_max);
    out.loop_lag_us_p99_run = Math.max(out.loop_lag_us_p99_run, c.loop_lag_us_p99_run);
  }
  return out;
}
