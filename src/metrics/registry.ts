// Prometheus export (prom-client). The hot path never touches prom-client:
// the feed increments plain numbers in its FeedCounters (src/feed/counters.ts),
// and every metric below copies its value in at scrape time (collect
// callbacks); latency buckets are read from the HDR histograms the same way
// (src/metrics/latency_export.ts). Names follow Prometheus conventions: base
// units last (_seconds, _bytes), _total on counters, bounded label sets (hop,
// kind, close or error code, configured symbol). docs/OPERATIONS.md §5 says
// how to scrape, alert on (ops/prometheus/alerts.yml) and chart them
// (ops/grafana/depthcast.json).
//
// | metric                                    | type      | labels | meaning
// |-------------------------------------------|-----------|--------|-----------------------------------------------
// | depthcast_latency_seconds                 | histogram | hop    | latency per hop (every hop of server_hops), buckets 10 µs … 60 s
// | depthcast_latency_negative_samples_total  | counter   | hop    | samples below 0 (clock skew), recorded as 0
// | depthcast_latency_overflow_samples_total  | counter   | hop    | samples above 60 s, recorded as 60 s
// | depthcast_connections                     | gauge     |        | WebSocket connections open now
// | depthcast_connections_opened_total        | counter   |        | WebSocket connections accepted
// | depthcast_closes_total                    | counter   | code   | connections closed, by WebSocket close code
// | depthcast_outbound_frames_total           | counter   | kind   | frames sent: snapshot, delta, heartbeat, other
// | depthcast_outbound_bytes_total            | counter   |        | payload bytes sent (the feed's frames and the Binance gateway's events)
// | depthcast_inbound_frames_total            | counter   |        | client frames received
// | depthcast_inbound_bytes_total             | counter   |        | client payload bytes received
// | depthcast_sends_dropped_total             | counter   |        | sends the socket refused (uWS returned 2); each closes the connection with 4009
// | depthcast_errors_total                    | counter   | code   | Error frames sent, by error code (src/wire/codes.ts)
// | depthcast_client_resyncs_total            | counter   |        | Resync requests from clients
// | depthcast_subscriptions                   | gauge     |        | (connection, view) subscriptions now
// | depthcast_conflating_connections          | gauge     |        | connections currently conflating (slow)
// | depthcast_conflated_frames_total          | counter   |        | Delta frames sent with conflated = true
// | depthcast_conflation_episodes_total       | counter   | cause  | times a connection went slow (streaming → conflating): lag (its reads) or buffer (uWS's); both always present
// | depthcast_conflated_updates_merged_total  | counter   |        | updates merged into conflated frames (slow catch-ups and intervals)
// | depthcast_catch_up_snapshots_total        | counter   |        | catch-ups sent as a Snapshot (too many levels changed, or the view restarted)
// | depthcast_slow_closes_total               | counter   | code   | connections closed for slowness: 4008 (policy close), 4009 (buffer cap), 4010 (reader too slow); all always present
// | depthcast_connection_buffered_peak_bytes  | gauge     |        | most bytes ever buffered for one connection
// | depthcast_connection_buffered_bytes       | histogram |        | bytes buffered per open connection, at scrape time
// | depthcast_connection_buffered_max_bytes   | gauge     |        | most bytes buffered for one open connection, at scrape time
// | depthcast_connection_reader_lag_seconds   | histogram |        | how far behind each open connection's reader is, at scrape time (src/feed/reader_flow.ts)
// | depthcast_connection_reader_lag_max_seconds | gauge   |        | the slowest reader's lag now
// | depthcast_connection_in_flight_bytes      | histogram |        | bytes sent per open connection and not yet acknowledged by its reader
// | depthcast_connection_in_flight_max_bytes  | gauge     |        | most bytes in flight to one connection now
// | depthcast_connection_in_flight_cap_bytes  | histogram |        | each connection's in-flight cap now (measured rate x lag target)
// | depthcast_kernel_send_queue_bytes         | histogram |        | the kernel's send queue (Send-Q) per established connection (Linux)
// | depthcast_kernel_send_queue_max_bytes     | gauge     |        | largest kernel send queue of one connection
// | depthcast_ingest_events_total             | counter   |        | engine book events applied to books
// | depthcast_ingest_gaps_total               | counter   |        | seq gaps or epoch changes seen on the bus
// | depthcast_engine_messages_total           | counter   | symbol | bus messages from the engine (batches and heartbeats); flat = engine silent
// | depthcast_recoveries_total                | counter   | symbol | symbol recoveries started (snapshot requested); every symbol present from 0
// | depthcast_symbol_live                     | gauge     | symbol | 1 when the symbol's book is live, 0 while recovering
// | depthcast_auth_refusals_total, depthcast_jwks_* | (src/metrics/admission_metrics.ts)
// | depthcast_process_*, depthcast_nodejs_*   |           |        | prom-client's process metrics (CPU, memory, event-loop lag)
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FeedCounters } from '../feed/counters.js';
import type { ConflationCause } from '../feed/stream_gate.js';
import { slow_close_codes } from '../wire/codes.js';
import type { HopHistograms } from './hop_histograms.js';
import { latency_histogram_metric } from './latency_export.js';

export const metric_prefix = 'depthcast_';

export interface RegistryOptions {
  /** Also export prom-client's process metrics (CPU, RSS, event loop lag). Default true. */
  process_metrics?: boolean;
  default_labels?: Record<string, string>;
}

export function create_registry(options: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.default_labels) registry.setDefaultLabels(options.default_labels);
  if (options.process_metrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: metric_prefix });
    // Gauges named like counters (promtool check metrics refuses them); the same
    // counts stay exported per type as nodejs_active_{handles,requests,resources}.
    for (const what of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`${metric_prefix}nodejs_active_${what}_total`);
  }
  return registry;
}

type LabelKey = string | number;

/** Sets a counter to an absolute value read from our own counts (never decreasing in practice). */
export function set_counter(counter: Counter<string>, value: number, labels?: Record<string, LabelKey>): void {
  if (labels) counter.inc(labels, value);
  else counter.inc(value);
}

export function counter_from(registry: Registry, name: string, help: string, read: (c: Counter<string>) => void, label_names: string[] = []): Counter<string> {
  return new Counter({
    name, help, labelNames: label_names, registers: [registry],
    collect(this: Counter<string>) {
      this.reset();
      read(this);
    },
  });
}

export function gauge_from(registry: Registry, name: string, help: string, read: (g: Gauge<string>) => void, label_names: string[] = []): Gauge<string> {
  return new Gauge({
    name, help, labelNames: label_names, registers: [registry],
    collect(this: Gauge<string>) {
      this.reset();
      read(this);
    },
  });
}

/**
 * Exposes a HopHistograms as depthcast_latency_seconds (every hop it tracks)
 * and its clamped-sample counts. source is called at every scrape, so a
 * server can swap in a merged or re-created instance without re-registering.
 */
export function register_hop_histograms(registry: Registry, source: HopHistograms | (() => HopHistograms)): void {
  const get = typeof source === 'function' ? source : () => source;
  registry.registerMetric(latency_histogram_metric(`${metric_prefix}latency_seconds`, get));
  counter_from(registry, `${metric_prefix}latency_negative_samples_total`, 'Latency samples below zero (clock skew), recorded as 0', (c) => {
    const hops = get();
    for (const hop of hops.hops) set_counter(c, hops.negative_samples(hop), { hop });
  }, ['hop']);
  counter_from(registry, `${metric_prefix}latency_overflow_samples_total`, 'Latency samples above 60 s, recorded as 60 s', (c) => {
    const hops = get();
    for (const hop of hops.hops) set_counter(c, hops.overflow_samples(hop), { hop });
  }, ['hop']);
}

export interface FeedMetricSources {
  /** Per-symbol liveness, read at scrape time. Its symbols also start depthcast_recoveries_total at 0. */
  symbol_live?: () => Iterable<[symbol: string, live: boolean]>;
  /** Bus messages heard from the engine per symbol (batches and heartbeats), read at scrape time. */
  engine_messages?: () => Iterable<[symbol: string, messages: number]>;
  /** Bytes buffered for each open connection now, read at scrape time. */
  buffered_bytes?: () => readonly number[];
  /** Most bytes ever buffered for one connection (open or closed). */
  buffered_bytes_peak?: () => number;
  /** Each open connection's reader flow now (src/feed/reader_flow.ts), read at scrape time. */
  reader_flows?: () => readonly ReaderFlowNow[];
  /** The kernel's send queue of each established connection now (Linux; empty elsewhere). */
  kernel_send_queues?: () => readonly number[];
}

export interface ReaderFlowNow {
  lag_ms: number;
  in_flight_bytes: number;
  cap_bytes: number;
}

/** Buckets of depthcast_connection_reader_lag_seconds: 1 ms (a reader keeping up on a LAN) to 30 s (about to be closed). */
export const reader_lag_buckets_s = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

/** Buckets of depthcast_connection_buffered_bytes: 0, then 1 KiB … 64 MiB by powers of 4. */
export const buffered_bytes_buckets = [0, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/** Causes of depthcast_conflation_episodes_total, exported from 0 likewise. */
const conflation_causes = ['lag', 'buffer'] as const satisfies readonly ConflationCause[];

/** Registers every feed metric of the table above, reading from counters at scrape time. */
export function register_feed_metrics(registry: Registry, counters: FeedCounters, sources: FeedMetricSources = {}): void {
  const p = metric_prefix;
  gauge_from(registry, `${p}connections`, 'WebSocket connections open now', (g) => g.set(counters.connections));
  counter_from(registry, `${p}connections_opened_total`, 'WebSocket connections accepted', (c) => set_counter(c, counters.connections_opened_total));
  counter_from(registry, `${p}closes_total`, 'Connections closed, by WebSocket close code', (c) => {
    for (const [code, n] of counters.closes_total) set_counter(c, n, { code });
  }, ['code']);
  counter_from(registry, `${p}outbound_frames_total`, 'Frames sent, by kind', (c) => {
    set_counter(c, counters.snapshots_out_total, { kind: 'snapshot' });
    set_counter(c, counters.deltas_out_total, { kind: 'delta' });
    set_counter(c, counters.heartbeats_out_total, { kind: 'heartbeat' });
    set_counter(c, counters.other_frames_out_total, { kind: 'other' });
  }, ['kind']);
  counter_from(registry, `${p}outbound_bytes_total`, 'Payload bytes sent (the feed\'s frames and the Binance gateway\'s events)', (c) => set_counter(c, counters.bytes_out_total));
  counter_from(registry, `${p}inbound_frames_total`, 'Client frames received', (c) => set_counter(c, counters.frames_in_total));
  counter_from(registry, `${p}inbound_bytes_total`, 'Client payload bytes received', (c) => set_counter(c, counters.bytes_in_total));
  counter_from(registry, `${p}sends_dropped_total`, 'Sends the socket refused; each closes the connection with 4009', (c) => set_counter(c, counters.sends_dropped_total));
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
    for (const [symbol] of sources.symbol_live?.() ?? []) if (!counters.recoveries_total.has(symbol)) set_counter(c, 0, { symbol });
    for (const [symbol, n] of counters.recoveries_total) set_counter(c, n, { symbol });
  }, ['symbol']);
  counter_from(registry, `${p}conflation_episodes_total`, 'Times a connection went slow (streaming to conflating), by cause: lag (its reads) or buffer (the socket buffer)', (c) => {
    for (const cause of conflation_causes) if (!counters.conflation_episodes_by_cause_total.has(cause)) set_counter(c, 0, { cause });
    for (const [cause, n] of counters.conflation_episodes_by_cause_total) set_counter(c, n, { cause });
  }, ['cause']);
  counter_from(registry, `${p}conflated_updates_merged_total`, 'Updates merged into conflated frames (slow catch-ups and intervals)', (c) => set_counter(c, counters.conflated_updates_merged_total));
  counter_from(registry, `${p}catch_up_snapshots_total`, 'Catch-ups sent as a Snapshot instead of a conflated Delta', (c) => set_counter(c, counters.catch_up_snapshots_total));
  counter_from(registry, `${p}slow_closes_total`, 'Connections closed for slowness, by close code (4008 policy close, 4009 buffer cap, 4010 reader too slow)', (c) => {
    // Every slow close code from 0, so that rate() and alerts see them before the first close.
    for (const code of slow_close_codes) if (!counters.slow_closes_total.has(code)) set_counter(c, 0, { code });
    for (const [code, n] of counters.slow_closes_total) set_counter(c, n, { code });
  }, ['code']);
  if (sources.engine_messages) {
    const read = sources.engine_messages;
    counter_from(registry, `${p}engine_messages_total`, 'Bus messages from the engine (batches and heartbeats), by symbol', (c) => {
      for (const [symbol, n] of read()) set_counter(c, n, { symbol });
    }, ['symbol']);
  }
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
    gauge_from(registry, `${p}connection_buffered_max_bytes`, 'Most bytes buffered for one open connection, at scrape time', (g) => {
      let max = 0;
      for (const bytes of read()) if (bytes > max) max = bytes;
      g.set(max);
    });
  }
  if (sources.reader_flows) register_reader_flow_metrics(registry, sources.reader_flows);
  if (sources.kernel_send_queues) {
    const read = sources.kernel_send_queues;
    scrape_histogram(registry, `${p}kernel_send_queue_bytes`, "The kernel's send queue per established connection (Send-Q), at scrape time", buffered_bytes_buckets, read);
    gauge_from(registry, `${p}kernel_send_queue_max_bytes`, "Largest kernel send queue of one connection, at scrape time", (g) => g.set(max_of(read())));
  }
  const peak = sources.buffered_bytes_peak ?? (() => counters.buffered_bytes_peak);
  gauge_from(registry, `${p}connection_buffered_peak_bytes`, 'Most bytes ever buffered for one connection', (g) => g.set(peak()));
  if (sources.symbol_live) {
    const read = sources.symbol_live;
    gauge_from(registry, `${p}symbol_live`, '1 when the symbol book is live, 0 while recovering', (g) => {
      for (const [symbol, live] of read()) g.set({ symbol }, live ? 1 : 0);
    }, ['symbol']);
  }
}

/** A histogram recomputed from current values at every scrape (a distribution across connections now). */
function scrape_histogram(registry: Registry, name: string, help: string, buckets: number[], read: () => Iterable<number>): void {
  new Histogram({
    name, help, buckets, registers: [registry],
    collect(this: Histogram<string>) {
      this.reset();
      this.zero({}); // an empty distribution still shows its buckets
      for (const v of read()) this.observe(v);
    },
  });
}

function max_of(values: Iterable<number>): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}

/** How far behind each reader is, what it has in flight and its cap: the slow-reader picture across connections. */
function register_reader_flow_metrics(registry: Registry, read: () => readonly ReaderFlowNow[]): void {
  const p = metric_prefix;
  scrape_histogram(registry, `${p}connection_reader_lag_seconds`, 'How far behind each open connection\'s reader is now (its oldest unanswered probe, else its last probe\'s delay)', reader_lag_buckets_s,
    () => read().map((f) => f.lag_ms / 1000));
  gauge_from(registry, `${p}connection_reader_lag_max_seconds`, 'The slowest open connection\'s reader lag now', (g) => g.set(max_of(read().map((f) => f.lag_ms)) / 1000));
  scrape_histogram(registry, `${p}connection_in_flight_bytes`, 'Bytes sent to each open connection and not yet acknowledged by its reader', buffered_bytes_buckets, () => read().map((f) => f.in_flight_bytes));
  gauge_from(registry, `${p}connection_in_flight_max_bytes`, 'Most bytes in flight to one open connection now', (g) => g.set(max_of(read().map((f) => f.in_flight_bytes))));
  scrape_histogram(registry, `${p}connection_in_flight_cap_bytes`, 'Each open connection\'s in-flight cap now: its reader\'s measured rate x the lag target, within the configured floor and ceiling', buffered_bytes_buckets,
    () => read().map((f) => f.cap_bytes));
}
