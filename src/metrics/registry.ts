// Prometheus export (prom-client). The hot path never touches prom-client:
// the server increments plain numbers in a FeedCounters object, and every
// metric below copies its value in at scrape time (collect callbacks), the same
// way latency percentiles are computed from the HDR histograms only when
// /metrics is read.
//
// | metric                                   | type    | labels          | meaning
// |------------------------------------------|---------|-----------------|-----------------------------------------------
// | depthcast_latency_us                     | gauge   | hop, quantile   | latency percentile since start (µs); quantile 0.5 … 0.9999
// | depthcast_latency_max_us                 | gauge   | hop             | largest latency sample since start (µs)
// | depthcast_latency_mean_us                | gauge   | hop             | mean latency since start (µs)
// | depthcast_latency_samples_total          | counter | hop             | samples recorded
// | depthcast_latency_negative_samples_total | counter | hop             | samples below 0 (clock skew), recorded as 0
// | depthcast_connections                    | gauge   |                 | WebSocket connections open now
// | depthcast_connections_opened_total       | counter |                 | WebSocket connections accepted
// | depthcast_closes_total                   | counter | code            | connections closed, by WebSocket close code
// | depthcast_frames_out_total               | counter | kind            | frames sent: snapshot, delta, heartbeat, other
// | depthcast_bytes_out_total                | counter |                 | payload bytes sent
// | depthcast_frames_in_total                | counter |                 | client frames received
// | depthcast_bytes_in_total                 | counter |                 | client payload bytes received
// | depthcast_sends_dropped_total            | counter |                 | sends the socket refused (uWS returned 2); each forces a resync
// | depthcast_errors_total                   | counter | code            | Error frames sent, by error code (src/wire/codes.ts)
// | depthcast_client_resyncs_total           | counter |                 | Resync requests from clients
// | depthcast_subscriptions                  | gauge   |                 | (connection, view) subscriptions now
// | depthcast_conflating_connections         | gauge   |                 | connections currently conflating (slow)
// | depthcast_conflated_frames_total         | counter |                 | Delta frames sent with conflated = true
// | depthcast_conflation_episodes_total      | counter |                 | times a connection went slow (streaming → conflating)
// | depthcast_conflated_updates_merged_total | counter |                 | updates merged into conflated frames (slow catch-ups and intervals)
// | depthcast_catch_up_snapshots_total       | counter |                 | catch-ups sent as a Snapshot (too many levels changed, or the view restarted)
// | depthcast_slow_closes_total              | counter | code            | connections closed for slowness: 4008 (policy close), 4009 (buffer cap)
// | depthcast_buffered_bytes_peak            | gauge   |                 | most bytes ever buffered for one connection
// | depthcast_connection_buffered_bytes      | histogram |               | bytes buffered per open connection, at scrape time
// | depthcast_connection_buffered_bytes_max  | gauge   |                 | most bytes buffered for one open connection, at scrape time
// | depthcast_ingest_events_total            | counter |                 | engine book events applied to books
// | depthcast_ingest_gaps_total              | counter |                 | seq gaps or epoch changes seen on the bus
// | depthcast_recoveries_total               | counter | symbol          | symbol recoveries started (snapshot requested)
// | depthcast_symbol_live                    | gauge   | symbol          | 1 when the symbol's book is live, 0 while recovering
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FeedCounters } from '../feed/counters.js';
import { reported_quantiles, type HopHistograms } from './hop_histograms.js';

export const metric_prefix = 'depthcast_';

export interface RegistryOptions {
  /** Also export prom-client's process metrics (CPU, RSS, event loop lag). Default true. */
  process_metrics?: boolean;
  default_labels?: Record<string, string>;
}

export function create_registry(options: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.default_labels) registry.setDefaultLabels(options.default_labels);
  if (options.process_metrics ?? true) collectDefaultMetrics({ register: registry, prefix: metric_prefix });
  return registry;
}

type LabelKey = string | number;

/** Sets a counter to an absolute value read from our own counts (never decreasing in practice). */
function set_counter(counter: Counter<string>, value: number, labels?: Record<string, LabelKey>): void {
  if (labels) counter.inc(labels, value);
  else counter.inc(value);
}

function counter_from(registry: Registry, name: string, help: string, read: (c: Counter<string>) => void, label_names: string[] = []): Counter<string> {
  return new Counter({
    name, help, labelNames: label_names, registers: [registry],
    collect(this: Counter<string>) {
      this.reset();
      read(this);
    },
  });
}

function gauge_from(registry: Registry, name: string, help: string, read: (g: Gauge<string>) => void, label_names: string[] = []): Gauge<string> {
  return new Gauge({
    name, help, labelNames: label_names, registers: [registry],
    collect(this: Gauge<string>) {
      this.reset();
      read(this);
    },
  });
}

/**
 * Exposes a HopHistograms' percentiles. source is called at every scrape, so a
 * server can swap in a merged or re-created instance without re-registering.
 */
export function register_hop_histograms(registry: Registry, source: HopHistograms | (() => HopHistograms)): void {
  const get = typeof source === 'function' ? source : () => source;
  gauge_from(registry, `${metric_prefix}latency_us`, 'Latency percentile per hop since start, microseconds', (g) => {
    const hops = get();
    for (const hop of hops.hops) {
      const p = hops.percentiles(hop);
      for (const q of reported_quantiles) g.set({ hop, quantile: String(q.quantile) }, p[q.key]);
    }
  }, ['hop', 'quantile']);
  gauge_from(registry, `${metric_prefix}latency_max_us`, 'Largest latency sample per hop since start, microseconds', (g) => {
    const hops = get();
    for (const hop of hops.hops) g.set({ hop }, hops.percentiles(hop).max);
  }, ['hop']);
  gauge_from(registry, `${metric_prefix}latency_mean_us`, 'Mean latency per hop since start, microseconds', (g) => {
    const hops = get();
    for (const hop of hops.hops) g.set({ hop }, hops.percentiles(hop).mean);
  }, ['hop']);
  counter_from(registry, `${metric_prefix}latency_samples_total`, 'Latency samples recorded per hop', (c) => {
    const hops = get();
    for (const hop of hops.hops) set_counter(c, hops.count(hop), { hop });
  }, ['hop']);
  counter_from(registry, `${metric_prefix}latency_negative_samples_total`, 'Latency samples below zero (clock skew), recorded as 0', (c) => {
    const hops = get();
    for (const hop of hops.hops) set_counter(c, hops.negative_samples(hop), { hop });
  }, ['hop']);
}

export interface FeedMetricSources {
  /** Per-symbol liveness, read at scrape time. */
  symbol_live?: () => Iterable<[symbol: string, live: boolean]>;
  /** Bytes buffered for each open connection now, read at scrape time. */
  buffered_bytes?: () => readonly number[];
  /** Most bytes ever buffered for one connection (open or closed). */
  buffered_bytes_peak?: () => number;
}

/** Buckets of depthcast_connection_buffered_bytes: 0, then 1 KiB … 64 MiB by powers of 4. */
export const buffered_bytes_buckets = [0, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** Registers every feed metric of the table above, reading from counters at scrape time. */
export function register_feed_metrics(registry: Registry, counters: FeedCounters, sources: FeedMetricSources = {}): void {
  const p = metric_prefix;
  gauge_from(registry, `${p}connections`, 'WebSocket connections open now', (g) => g.set(counters.connections));
  counter_from(registry, `${p}connections_opened_total`, 'WebSocket connections accepted', (c) => set_counter(c, counters.connections_opened_total));
  counter_from(registry, `${p}closes_total`, 'Connections closed, by WebSocket close code', (c) => {
    for (const [code, n] of counters.closes_total) set_counter(c, n, { code });
  }, ['code']);
  counter_from(registry, `${p}frames_out_total`, 'Frames sent, by kind', (c) => {
    set_counter(c, counters.snapshots_out_total, { kind: 'snapshot' });
    set_counter(c, counters.deltas_out_total, { kind: 'delta' });
    set_counter(c, counters.heartbeats_out_total, { kind: 'heartbeat' });
    set_counter(c, counters.other_frames_out_total, { kind: 'other' });
  }, ['kind']);
  counter_from(registry, `${p}bytes_out_total`, 'Payload bytes sent', (c) => set_counter(c, counters.bytes_out_total));
  counter_from(registry, `${p}frames_in_total`, 'Client frames received', (c) => set_counter(c, counters.frames_in_total));
  counter_from(registry, `${p}bytes_in_total`, 'Client payload bytes received', (c) => set_counter(c, counters.bytes_in_total));
  counter_from(registry, `${p}sends_dropped_total`, 'Sends the socket refused; each forces a resync of the view', (c) => set_counter(c, counters.sends_dropped_total));
  counter_from(registry, `${p}errors_total`, 'Error frames sent, by error code', (c) => {
    for (const [code, n] of counters.errors_total) set_counter(c, n, { code });
  }, ['code']);
  counter_from(registry, `${p}client_resyncs_total`, 'Resync requests from clients', (c) => set_counter(c, counters.client_resyncs_total));
  gauge_from(registry, `${p}subscriptions`, '(connection, view) subscriptions now', (g) => g.set(counters.subscriptions));
  gauge_from(registry, `${p}conflating_connections`, 'Connections currently conflating (slow)', (g) => g.set(counters.conflating_connections));
  counter_from(registry, `${p}conflated_frames_total`, 'Delta frames sent conflated', (c) => set_counter(c, counters.conflated_frames_total));
  counter_from(registry, `${p}ingest_events_total`, 'Engine book events applied to books', (c) => set_counter(c, counters.ingest_events_total));
  counter_from(registry, `${p}ingest_gaps_total`, 'Sequence gaps or epoch changes seen on the bus', (c) => set_counter(c, counters.ingest_gaps_total));
  counter_from(registry, `${p}recoveries_total`, 'Symbol recoveries started, by symbol', (c) => {
    for (const [symbol, n] of counters.recoveries_total) set_counter(c, n, { symbol });
  }, ['symbol']);
  counter_from(registry, `${p}conflation_episodes_total`, 'Times a connection went slow (streaming to conflating)', (c) => set_counter(c, counters.conflation_episodes_total));
  counter_from(registry, `${p}conflated_updates_merged_total`, 'Updates merged into conflated frames (slow catch-ups and intervals)', (c) => set_counter(c, counters.conflated_updates_merged_total));
  counter_from(registry, `${p}catch_up_snapshots_total`, 'Catch-ups sent as a Snapshot instead of a conflated Delta', (c) => set_counter(c, counters.catch_up_snapshots_total));
  counter_from(registry, `${p}slow_closes_total`, 'Connections closed for slowness, by close code (4008 policy close, 4009 buffer cap)', (c) => {
    for (const [code, n] of counters.slow_closes_total) set_counter(c, n, { code });
  }, ['code']);
  if (sources.buffered_bytes) {
    const read = sources.buffered_bytes;
    new Histogram({
      name: `${p}connection_buffered_bytes`, help: 'Bytes buffered per open connection, at scrape time', buckets: buffered_bytes_buckets, registers: [registry],
      collect(this: Histogram<string>) {
        this.reset();
        this.zero({}); // an empty distribution still shows its buckets
        for (const bytes of read()) this.observe(bytes);
      },
    });
    gauge_from(registry, `${p}connection_buffered_bytes_max`, 'Most bytes buffered for one open connection, at scrape time', (g) => {
      let max = 0;
      for (const bytes of read()) if (bytes > max) max = bytes;
      g.set(max);
    });
  }
  const peak = sources.buffered_bytes_peak ?? (() => counters.buffered_bytes_peak);
  gauge_from(registry, `${p}buffered_bytes_peak`, 'Most bytes ever buffered for one connection', (g) => g.set(peak()));
  if (sources.symbol_live) {
    const read = sources.symbol_live;
    gauge_from(registry, `${p}symbol_live`, '1 when the symbol book is live, 0 while recovering', (g) => {
      for (const [symbol, live] of read()) g.set({ symbol }, live ? 1 : 0);
    }, ['symbol']);
  }
}
