// The run's summary (summary.json), the numbers the progress line shows, and
// `loadgen compare`. Latency is in µs everywhere in the JSON, as in
// src/metrics; the HTML and the terminal show ms.
import type { SaturationVerdict } from './saturation.js';
import type { ClientCounters } from '../src/client/index.js';
import type { HopHistograms, HopName, HopPercentiles } from '../src/metrics/hop_histograms.js';
import { series_hops, series_names, type SeriesName } from './messages.js';
import type { LoadgenOptions } from './options.js';

export const summary_format = 'depthcast.loadgen.summary.v1';

/**
 * One second of the run, fast clients, engine_to_receive: p50..max of that
 * second's Delta frames, event_* of that second's trades.
 */
export interface TimelinePoint {
  t_s: number;
  connected: number;
  frames_per_s: number;
  bytes_per_s: number;
  samples: number;
  p50_us: number;
  p99_us: number;
  p99_9_us: number;
  max_us: number;
  event_samples: number;
  event_p99_us: number;
  event_p99_9_us: number;
  event_max_us: number;
  slow_p99_us: number;
  resyncs: number;
  digest_mismatches: number;
  errors: number;
  reconnects: number;
  loop_delay_us_p99: number;
}

export interface PercentilePoint {
  percentile: number;
  value_us: number;
}

export type HopSummary = Partial<Record<HopName, HopPercentiles>>;

export interface LoadgenSummary {
  format: typeof summary_format;
  started_at: string;
  duration_s: number;
  command: string;
  options: LoadgenOptions;
  plan: {
    symbols: string[];
    clients: number;
    slow_clients: number;
    workers: number;
    source_addresses: string[];
    storms: { at_s: number; percent: number; clients: number }[];
  };
  host: { cpus: number; cpu_model: string; node: string; platform: string };
  cpu: {
    loadgen_cpu_s: number;
    loadgen_cores_used: number;
    server_pid: number;
    server_cpu_s: number | null;
    server_cores_used: number | null;
    server_cpu_us_per_frame: number | null;
  };
  connections: {
    clients: number;
    connected_max: number;
    connected_at_end: number;
    views_total: number;
    views_synced_at_end: number;
    closes_by_code: Record<string, number>;
    storm_drops: number;
    slow_pauses: number;
    /** Paused readers read again after the run; caught up = reached a Delta younger than 1 s. */
    drain_released: number;
    drain_caught_up: number;
  };
  counters: ClientCounters;
  errors_by_kind: Record<string, number>;
  error_samples: string[];
  rates: { frames_per_s: number; bytes_per_s: number; deltas_per_s: number; updates_per_s: number };
  /** Per series (messages.ts): fast/slow per Delta frame, *_events per trade. Slow ones null without slow clients. */
  latency_us: Record<SeriesName, HopSummary | null>;
  percentile_distribution: Record<SeriesName, Partial<Record<HopName, PercentilePoint[]>> | null>;
  timeline: TimelinePoint[];
  loop_delay_us: { p99_worst: number; max: number };
  /** Was the load generator the bottleneck? Its own lag against the latency it reports (loadgen/saturation.ts). */
  saturation: SaturationVerdict;
  /** Why latency_us and percentile_distribution are empty (a saturated run without --allow-saturated); null when reported. */
  latency_withheld: string | null;
  checks: { passed: boolean; problems: string[] };
  /** Reasons to doubt the numbers that are not failures (an overloaded load generator, skewed clocks). */
  warnings: string[];
  server_stats_end: unknown;
  files: { summary: string; hlog: string; html: string };
}

/**
 * Percentiles at HdrHistogram's usual ticks (5 per halving of the remaining
 * tail: 0, 12.9, 24.2, …, 50, …, 75, …, 99.9, …), up to the max: the points of
 * a percentile-distribution plot on a "nines" axis.
 */
export function percentile_distribution(h: HopHistograms, hop: HopName, ticks_per_half = 5): PercentilePoint[] {
  const hist = h.histogram(hop);
  const count = hist.totalCount;
  if (count === 0) return [];
  const out: PercentilePoint[] = [];
  for (let k = 0; ; k++) {
    const remaining = 0.5 ** (k / ticks_per_half);
    const percentile = 100 * (1 - remaining);
    // Beyond 1/count of the tail every percentile is the max.
    if (remaining * count < 1) break;
    out.push({ percentile, value_us: hist.getValueAtPercentile(percentile) });
  }
  out.push({ percentile: 100, value_us: h.percentiles(hop).max });
  return out;
}

/** Event-loop delay of a client thread past which its own queueing shows in the latencies. */
export const loop_delay_us_warn = 50_000;

export function summary_warnings(s: Pick<LoadgenSummary, 'loop_delay_us' | 'counters' | 'latency_us' | 'plan'>): string[] {
  const out: string[] = [];
  const { p99_worst } = s.loop_delay_us;
  const stale = s.counters.stale_connections;
  if (p99_worst > loop_delay_us_warn || stale > 0) {
    out.push(`the load generator itself lagged (worker event-loop delay p99 up to ${(p99_worst / 1000).toFixed(0)} ms`
      + `${stale > 0 ? `; ${stale} sockets given up as silent, most likely unread in a busy worker` : ''}): `
      + 'latencies include client-side queueing. Give it more cores or workers, or fewer clients');
  }
  let negative = 0;
  for (const series of Object.values(s.latency_us)) for (const hop of Object.values(series ?? {})) negative += hop?.negative_samples ?? 0;
  if (negative > 0) out.push(`${negative} negative latencies were clamped to 0: the clocks of engine, feed and clients disagree (see loadgen/README.md, Clocks)`);
  return out;
}

export function summary_checks(counters: ClientCounters, connected_max: number): { passed: boolean; problems: string[] } {
  const problems: string[] = [];
  if (counters.digest_mismatches > 0) problems.push(`${counters.digest_mismatches} digest mismatches (must be 0: a book differed from the server's)`);
  if (counters.crossed_books > 0) problems.push(`${counters.crossed_books} crossed books`);
  if (connected_max === 0) problems.push('no client ever connected');
  else if (counters.deltas === 0) problems.push('no Delta frame received: is the engine producing events?');
  return { passed: problems.length === 0, problems };
}

const ms = (us: number): string => (us / 1000).toFixed(us >= 100_000 ? 0 : us >= 10_000 ? 1 : 2);
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The once-a-second line on stderr; p99 and p99.9 are of the run so far (frames, and per trade). */
export function progress_line(p: TimelinePoint, clients: number, frames: HopPercentiles, events: HopPercentiles, write_delay_ms: number): string {
  return `[${p.t_s.toFixed(1).padStart(6)}s] connected ${int(p.connected)}/${int(clients)}`
    + ` | ${int(p.frames_per_s)} frames/s ${(p.bytes_per_s / 1e6).toFixed(1)} MB/s`
    + ` | ${write_delay_label(write_delay_ms)}: p99 ${ms(frames.p99)} ms p99.9 ${ms(frames.p99_9)} ms, per trade p99 ${ms(events.p99)} p99.9 ${ms(events.p99_9)}`
    + ` (this s: p99 ${ms(p.p99_us)}, max ${ms(p.max_us)})`
    + ` | resyncs ${int(p.resyncs)} mismatches ${int(p.digest_mismatches)} errors ${int(p.errors)} reconnects ${int(p.reconnects)}`
    + ` | loop p99 ${ms(p.loop_delay_us_p99)} ms`;
}

/** What stands beside every latency loadgen prints: the write delay its clients asked for (docs/PROTOCOL.md §5.10). */
export function write_delay_label(write_delay_ms: number): string {
  return write_delay_ms === 0 ? 'write delay 0' : `write delay ${write_delay_ms} ms`;
}

/** The latency header's note on the write delay: with one, up to that much of every sample is the wait the clients asked for. */
export function write_delay_note(write_delay_ms: number): string {
  return write_delay_ms === 0 ? 'write delay 0: every frame sent at once'
    : `WITH A WRITE DELAY OF ${write_delay_ms} ms (--write-delay-ms): up to ${write_delay_ms} ms of each sample is the wait the clients asked for, not the feed's latency at delay 0`;
}

function latency_lines(name: SeriesName, s: HopSummary | null): string[] {
  if (s === null) return [];
  const lines: string[] = [];
  for (const hop of series_hops[name]) {
    const p = s[hop];
    if (!p || p.count === 0) continue;
    lines.push(`  ${`${name} ${hop}`.padEnd(32)} n=${int(p.count).padStart(11)}  p50 ${ms(p.p50).padStart(8)}  p90 ${ms(p.p90).padStart(8)}`
      + `  p99 ${ms(p.p99).padStart(8)}  p99.9 ${ms(p.p99_9).padStart(8)}  p99.99 ${ms(p.p99_99).padStart(8)}  max ${ms(p.max).padStart(8)} ms`
      + (p.negative_samples > 0 ? `  (${int(p.negative_samples)} negative, clamped to 0: clock skew)` : ''));
  }
  return lines;
}

/** The final summary printed on stdout. */
export function summary_text(s: LoadgenSummary): string {
  const c = s.counters;
  const closes = Object.entries(s.connections.closes_by_code).map(([code, n]) => `${code}×${n}`).join(' ') || 'none';
  const errors = Object.entries(s.errors_by_kind).map(([kind, n]) => `${kind}×${n}`).join(' ') || 'none';
  const lines = [
    `depthcast loadgen: ${s.plan.clients} clients (${s.plan.slow_clients} slow, ${s.options.slow_mode}) × ${s.options.symbols_per_client} symbol(s) at depth ${s.options.depth}`
      + `, ${s.plan.workers} worker(s), ${s.duration_s.toFixed(1)} s against ${s.options.urls.join(', ')}`,
    `  connected max ${int(s.connections.connected_max)}, at end ${int(s.connections.connected_at_end)}; views synced at end ${int(s.connections.views_synced_at_end)}/${int(s.connections.views_total)}`,
    `  frames ${int(c.frames)} (${int(s.rates.frames_per_s)}/s), ${(c.bytes / 1e6).toFixed(1)} MB (${(s.rates.bytes_per_s / 1e6).toFixed(2)} MB/s), deltas ${int(c.deltas)}, snapshots ${int(c.snapshots)}, conflated ${int(c.conflated_frames)}, trades ${int(c.trades)} (+${int(c.trades_folded)} folded${c.trades_missing > 0 ? `, ${int(c.trades_missing)} missing: never reached the feed` : ''})`,
    `  digest mismatches ${c.digest_mismatches}, range breaks ${c.range_breaks}, crossed ${c.crossed_books}, resyncs ${c.resyncs}, reconnects ${c.reconnects} (views resumed ${c.resumed_views}, resumes refused ${c.resume_refused}), storm drops ${s.connections.storm_drops}, stale ${c.stale_connections}`,
    `  closes by code: ${closes}; client errors: ${errors}`
      + (s.connections.drain_released > 0 ? `; paused readers caught up after release: ${s.connections.drain_caught_up}/${s.connections.drain_released}` : ''),
    `  latency (ms; per Delta frame, and *_events: per trade, each with its own engine time)${s.options.warmup_s > 0 ? `, first ${s.options.warmup_s} s left out` : ''}`
      + `, ${write_delay_note(s.options.write_delay_ms)}:`,
    // A withheld latency says why itself; otherwise the verdict stands beside the numbers.
    ...(s.latency_withheld !== null ? [`    ${s.latency_withheld}`]
      : [...series_names.flatMap((name) => latency_lines(name, s.latency_us[name])), `  load generator (${write_delay_label(s.options.write_delay_ms)}): ${s.saturation.reason}`]),
    `  cpu: loadgen ${s.cpu.loadgen_cpu_s.toFixed(1)} s (${s.cpu.loadgen_cores_used.toFixed(2)} cores)`
      + (s.cpu.server_cpu_s !== null ? `, server pid ${s.cpu.server_pid} ${s.cpu.server_cpu_s.toFixed(1)} s (${s.cpu.server_cores_used!.toFixed(2)} cores, ${s.cpu.server_cpu_us_per_frame!.toFixed(2)} µs per delivered frame)` : '')
      + `; worker event-loop delay p99 worst ${ms(s.loop_delay_us.p99_worst)} ms, max ${ms(s.loop_delay_us.max)} ms`,
    `  files: ${s.files.summary}, ${s.files.hlog}, ${s.files.html}`,
    ...s.warnings.map((w) => `  WARNING: ${w}`),
    s.checks.passed ? '  checks: passed' : `  checks: FAILED: ${s.checks.problems.join('; ')}`,
  ];
  return lines.join('\n');
}

// ---- compare ----

export class SummaryFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SummaryFileError';
  }
}

export function parse_summary(text: string, name: string): LoadgenSummary {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SummaryFileError(`${name}: not JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || (value as { format?: unknown }).format !== summary_format) {
    throw new SummaryFileError(`${name}: not a loadgen summary (format ${summary_format} expected)`);
  }
  return value as LoadgenSummary;
}

interface CompareRow {
  name: string;
  get: (s: LoadgenSummary) => number | null | undefined;
  unit: string;
  /** 'higher' if bigger is better, 'lower' if smaller is better. */
  better: 'higher' | 'lower' | '';
}

const percentile_label: Partial<Record<keyof HopPercentiles, string>> = { p50: 'p50', p90: 'p90', p99: 'p99', p99_9: 'p99.9', p99_99: 'p99.99', max: 'max' };

function latency_rows(label: string, series: SeriesName, hop: HopName, keys: (keyof HopPercentiles)[]): CompareRow[] {
  return keys.map((key) => ({
    name: `${label} ${percentile_label[key] ?? key}`,
    get: (s: LoadgenSummary) => s.latency_us[series]?.[hop]?.[key],
    unit: 'ms',
    better: 'lower' as const,
  }));
}

const compare_rows: readonly CompareRow[] = [
  { name: 'clients connected at end', get: (s) => s.connections.connected_at_end, unit: '', better: 'higher' },
  { name: 'frames/s', get: (s) => s.rates.frames_per_s, unit: '', better: 'higher' },
  { name: 'MB/s', get: (s) => s.rates.bytes_per_s / 1e6, unit: '', better: 'higher' },
  ...latency_rows('engine→receive', 'fast', 'engine_to_receive', ['p50', 'p90', 'p99', 'p99_9', 'p99_99', 'max']),
  ...latency_rows('per trade engine→receive', 'fast_events', 'engine_to_receive', ['p50', 'p99', 'p99_9', 'max']),
  ...latency_rows('send→receive', 'fast', 'send_to_receive', ['p99']),
  ...latency_rows('slow clients engine→receive', 'slow', 'engine_to_receive', ['p99']),
  { name: 'conflated frames', get: (s) => s.counters.conflated_frames, unit: '', better: '' },
  { name: 'resyncs', get: (s) => s.counters.resyncs, unit: '', better: 'lower' },
  { name: 'digest mismatches', get: (s) => s.counters.digest_mismatches, unit: '', better: 'lower' },
  { name: 'reconnects', get: (s) => s.counters.reconnects, unit: '', better: '' },
  { name: 'loadgen cores used', get: (s) => s.cpu.loadgen_cores_used, unit: '', better: '' },
  { name: 'server CPU µs per frame', get: (s) => s.cpu.server_cpu_us_per_frame, unit: '', better: 'lower' },
];

const label_width = 52;

/** A table: metric, A, B, B/A. Latencies in ms. */
export function compare_text(a: LoadgenSummary, b: LoadgenSummary, a_name: string, b_name: string): string {
  const fmt = (v: number | null | undefined, unit: string): string => {
    if (v === null || v === undefined || !Number.isFinite(v)) return '—';
    const shown = unit === 'ms' ? v / 1000 : v;
    return Math.abs(shown) >= 1000 ? Math.round(shown).toLocaleString('en-US') : Number(shown.toPrecision(4)).toString();
  };
  const lines = [
    `A = ${a_name} (${a.started_at}, ${a.plan.clients} clients, ${a.duration_s.toFixed(1)} s, ${write_delay_label(a.options.write_delay_ms ?? 0)})`,
    `B = ${b_name} (${b.started_at}, ${b.plan.clients} clients, ${b.duration_s.toFixed(1)} s, ${write_delay_label(b.options.write_delay_ms ?? 0)})`,
    '',
    `${'metric'.padEnd(label_width)} ${'A'.padStart(12)} ${'B'.padStart(12)} ${'B/A'.padStart(8)}`,
  ];
  for (const row of compare_rows) {
    const va = row.get(a);
    const vb = row.get(b);
    let ratio = '—';
    if (typeof va === 'number' && typeof vb === 'number' && va !== 0 && Number.isFinite(va) && Number.isFinite(vb)) ratio = (vb / va).toFixed(3);
    else if (va === 0 && vb === 0) ratio = '1.000';
    const label = `${row.name}${row.unit ? ` (${row.unit})` : ''}${row.better ? ` [${row.better} is better]` : ''}`;
    lines.push(`${label.padEnd(label_width)} ${fmt(va, row.unit).padStart(12)} ${fmt(vb, row.unit).padStart(12)} ${ratio.padStart(8)}`);
  }
  return lines.join('\n');
}
