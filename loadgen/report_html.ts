// report.html: one self-contained file (no script, no CDN, no font to fetch)
// with inline SVG charts: the percentile distribution on a log "nines" axis
// (x = 1/(1-p): 90%, 99%, 99.9% … are evenly spaced, where tails live), and
// throughput, p99 and connections over time. The summary JSON is embedded too
// (<script type="application/json" id="loadgen-summary">), so the page is the
// whole record of the run.
import { series_hops, series_names, type SeriesName } from './messages.js';
import { write_delay_note, type LoadgenSummary, type PercentilePoint } from './report.js';

interface Series {
  name: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

interface Tick {
  at: number;
  label: string;
}

interface Chart {
  title: string;
  x_label: string;
  y_label: string;
  series: Series[];
  x_ticks?: Tick[];
  x_min?: number;
  x_max?: number;
}

const width = 760;
const height = 300;
const pad = { left: 70, right: 44, top: 34, bottom: 46 };
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function escape_html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 × 10^k steps giving about `target` ticks over [0, max]. */
function nice_ticks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v <= max * 1.0001 + step; v += step) {
    out.push(Number(v.toPrecision(12)));
    if (v >= max) break;
  }
  return out;
}

function fmt_number(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (Math.abs(v) >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

function line_chart(c: Chart): string {
  const all = c.series.flatMap((s) => s.points);
  const inner_w = width - pad.left - pad.right;
  const inner_h = height - pad.top - pad.bottom;
  if (all.length === 0) {
    return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape_html(c.title)}"><text x="${width / 2}" y="${height / 2}" text-anchor="middle">${escape_html(c.title)}: no data</text></svg>`;
  }
  const x_min = c.x_min ?? Math.min(...all.map((p) => p[0]));
  const x_max = Math.max(c.x_max ?? -Infinity, ...all.map((p) => p[0]), x_min + 1e-9);
  const y_ticks = nice_ticks(Math.max(...all.map((p) => p[1]), 0));
  const y_max = y_ticks[y_ticks.length - 1] || 1;
  const sx = (x: number) => pad.left + ((x - x_min) / (x_max - x_min)) * inner_w;
  const sy = (y: number) => pad.top + inner_h - (y / y_max) * inner_h;
  const parts: string[] = [];
  parts.push(`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape_html(c.title)}" xmlns="http://www.w3.org/2000/svg">`);
  parts.push(`<text x="${pad.left}" y="20" class="title">${escape_html(c.title)}</text>`);
  for (const t of y_ticks) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${pad.left}" x2="${width - pad.right}" y1="${y}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${pad.left - 6}" y="${y}" class="tick" text-anchor="end" dominant-baseline="middle">${fmt_number(t)}</text>`);
  }
  const x_ticks = c.x_ticks ?? nice_ticks(x_max - x_min, 8).map((v) => ({ at: x_min + v, label: fmt_number(x_min + v) }));
  for (const t of x_ticks) {
    if (t.at < x_min - 1e-9 || t.at > x_max + 1e-9) continue;
    const x = sx(t.at).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${pad.top}" y2="${pad.top + inner_h}" class="grid"/>`);
    parts.push(`<text x="${x}" y="${pad.top + inner_h + 16}" class="tick" text-anchor="middle">${escape_html(t.label)}</text>`);
  }
  parts.push(`<rect x="${pad.left}" y="${pad.top}" width="${inner_w}" height="${inner_h}" class="frame"/>`);
  parts.push(`<text x="${pad.left + inner_w / 2}" y="${height - 8}" class="axis" text-anchor="middle">${escape_html(c.x_label)}</text>`);
  parts.push(`<text transform="translate(16 ${pad.top + inner_h / 2}) rotate(-90)" class="axis" text-anchor="middle">${escape_html(c.y_label)}</text>`);
  // Legend entries flow left to right inside the plot, wrapping to a new row.
  let lx = pad.left + 10;
  let ly = pad.top + 12;
  for (const s of c.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}><title>${escape_html(s.name)}</title></path>`);
    const entry_w = 36 + s.name.length * 6.6;
    if (lx + entry_w > width - pad.right) {
      lx = pad.left + 10;
      ly += 16;
    }
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"${dash}/>`);
    parts.push(`<text x="${lx + 24}" y="${ly}" class="legend" dominant-baseline="middle">${escape_html(s.name)}</text>`);
    lx += entry_w;
  }
  parts.push('</svg>');
  return parts.join('');
}

/** x = log10(1 / (1 - p)): 0 at 0%, 1 at 90%, 2 at 99%, … */
export function nines_x(percentile: number): number {
  return Math.log10(1 / (1 - percentile / 100));
}

function distribution_chart(title: string, curves: { name: string; points: PercentilePoint[] }[]): string {
  let x_max = 1;
  const series: Series[] = [];
  curves.forEach(({ name, points }, i) => {
    // p = 100 has no place on a nines axis: the max is drawn at the last finite tick.
    const finite = points.filter((p) => p.percentile < 100);
    const last = points[points.length - 1];
    const xy: [number, number][] = finite.map((p) => [nines_x(p.percentile), p.value_us / 1000]);
    if (last && last.percentile >= 100 && xy.length > 0) xy.push([xy[xy.length - 1][0] + 0.15, last.value_us / 1000]);
    if (xy.length > 0) x_max = Math.max(x_max, xy[xy.length - 1][0]);
    series.push({ name, color: palette[i], points: xy });
  });
  const ticks: Tick[] = [];
  for (let k = 0; k <= Math.ceil(x_max); k++) {
    const label = k === 0 ? '0%' : `${(100 * (1 - 10 ** -k)).toFixed(Math.max(0, k - 2))}%`;
    ticks.push({ at: k, label });
  }
  return line_chart({ title, x_label: 'percentile (log "nines" axis: x = 1/(1-p))', y_label: 'latency (ms)', series, x_ticks: ticks, x_min: 0, x_max: Math.ceil(x_max) });
}

function table(rows: [string, string][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${escape_html(k)}</th><td>${escape_html(v)}</td></tr>`).join('')}</table>`;
}

const ms = (us: number | undefined): string => (us === undefined ? '—' : (us / 1000).toFixed(us >= 100_000 ? 0 : 2));

const series_label: Record<SeriesName, string> = {
  fast: 'fast clients, per frame', fast_events: 'fast clients, per trade', slow: 'slow clients, per frame', slow_events: 'slow clients, per trade',
};

/** The curves of one class of clients: per trade, then per frame. */
function distribution_curves(s: LoadgenSummary, frames: SeriesName, events: SeriesName): { name: string; points: PercentilePoint[] }[] {
  return [
    { name: 'per trade engine→receive', points: s.percentile_distribution[events]?.engine_to_receive ?? [] },
    { name: 'per frame engine→receive', points: s.percentile_distribution[frames]?.engine_to_receive ?? [] },
    { name: 'per frame send→receive', points: s.percentile_distribution[frames]?.send_to_receive ?? [] },
  ];
}

function latency_table(s: LoadgenSummary): string {
  const head = '<tr><th>series</th><th>hop</th><th>samples</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th><th>negative (clamped)</th></tr>';
  const rows: string[] = [];
  for (const series of series_names) {
    const summary = s.latency_us[series];
    if (!summary) continue;
    const name = series_label[series];
    for (const hop of series_hops[series]) {
      const p = summary[hop];
      if (!p || p.count === 0) continue;
      rows.push(`<tr><td>${name}</td><td>${hop}</td><td>${p.count.toLocaleString('en-US')}</td><td>${ms(p.p50)}</td><td>${ms(p.p90)}</td><td>${ms(p.p99)}</td>`
        + `<td>${ms(p.p99_9)}</td><td>${ms(p.p99_99)}</td><td>${ms(p.max)}</td><td>${p.negative_samples}</td></tr>`);
    }
  }
  return `<table class="grid">${head}${rows.join('')}</table><p class="note">Latency in ms.</p>`;
}

export function render_html(s: LoadgenSummary): string {
  const c = s.counters;
  const t = s.timeline;
  const charts = [
    distribution_chart('Latency by percentile — fast clients', distribution_curves(s, 'fast', 'fast_events')),
    s.percentile_distribution.slow ? distribution_chart('Latency by percentile — slow clients', distribution_curves(s, 'slow', 'slow_events')) : '',
    line_chart({ title: 'Throughput', x_min: 0, x_label: 'time (s)', y_label: 'frames/s', series: [
      { name: 'frames/s', color: palette[0], points: t.map((p) => [p.t_s, p.frames_per_s]) },
    ] }),
    line_chart({ title: 'engine→receive latency per second — fast clients', x_min: 0, x_label: 'time (s)', y_label: 'ms', series: [
      { name: 'p50', color: palette[2], points: t.map((p) => [p.t_s, p.p50_us / 1000]) },
      { name: 'p99', color: palette[0], points: t.map((p) => [p.t_s, p.p99_us / 1000]) },
      { name: 'p99.9', color: palette[3], points: t.map((p) => [p.t_s, p.p99_9_us / 1000]) },
      { name: 'max', color: palette[1], points: t.map((p) => [p.t_s, p.max_us / 1000]), dashed: true },
      { name: 'p99 per trade', color: palette[4], points: t.map((p) => [p.t_s, p.event_p99_us / 1000]), dashed: true },
    ] }),
    line_chart({ title: 'Connected clients', x_min: 0, x_label: 'time (s)', y_label: 'clients', series: [
      { name: 'connected', color: palette[4], points: t.map((p) => [p.t_s, p.connected]) },
    ] }),
  ].join('\n');
  const closes = Object.entries(s.connections.closes_by_code).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  const errors = Object.entries(s.errors_by_kind).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  const json = JSON.stringify(s).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>depthcast loadgen — ${escape_html(s.started_at)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.chart{width:100%;max-width:${width}px;height:auto;display:block;margin:12px 0;background:#fff}
.chart .grid{stroke:#e5e5e5}.chart .frame{fill:none;stroke:#999}.chart .tick{font-size:11px;fill:#555}
.chart .axis{font-size:12px;fill:#333}.chart .title{font-size:14px;font-weight:600}.chart .legend{font-size:12px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
table.grid td{text-align:right}.ok{color:#1a7f37;font-weight:600}.warn{color:#9a6700;font-weight:600}.bad{color:#c62828;font-weight:600}.note{color:#555;font-size:13px}
</style></head><body>
<h1>depthcast loadgen report</h1>
<p>${escape_html(s.started_at)} · ${s.plan.clients} clients (${s.plan.slow_clients} slow, ${escape_html(s.options.slow_mode)}) · ${s.duration_s.toFixed(1)} s · ${escape_html(s.options.urls.join(', '))}</p>
${s.warnings.map((w) => `<p class="warn">Warning: ${escape_html(w)}</p>`).join('\n')}
<p class="${s.checks.passed ? 'ok' : 'bad'}">${s.checks.passed ? 'Checks passed: every book verified, no digest mismatch.' : `Checks FAILED: ${escape_html(s.checks.problems.join('; '))}`}</p>
<h2>Latency</h2>
<p class="note"><b>${escape_html(write_delay_note(s.options.write_delay_ms ?? 0))}.</b></p>
<p class="${s.saturation?.saturated ? 'bad' : 'ok'}">Load generator: ${escape_html(s.saturation?.reason ?? 'not judged (older summary)')}</p>
${s.latency_withheld ? `<p class="bad">${escape_html(s.latency_withheld)}</p>` : latency_table(s)}
<p class="note">Latency = client receive time − engine event time, on one host clock. <b>Per frame</b>: one sample per Delta, against
<code>ts_engine_ns</code>, the newest engine event the frame covers. <b>Per trade</b>: one sample per trade, against the trade's own engine time.
A stall anywhere after the engine (bus, feed, socket, client) delays events that already carry their engine time, and the load generator sends
no requests it could hold back, so the stall is in these numbers (no coordinated omission). After a stall the feed may send the backlog as a
few merged frames, each timed by its newest event: the per-frame series then shows the stall only in part; the per-trade series, one sample
per engine event whatever the framing, shows it in full. Trades folded into a conflated aggregate carry no time and are not sampled.
Negative differences (clock skew between hosts) are clamped to 0 and counted.${s.options.warmup_s > 0 ? ` The first ${s.options.warmup_s} s are left out of these totals.` : ''}</p>
${charts}
<h2>Counts</h2>
${table([
  ['frames', `${c.frames.toLocaleString('en-US')} (${Math.round(s.rates.frames_per_s).toLocaleString('en-US')}/s)`],
  ['bytes', `${(c.bytes / 1e6).toFixed(1)} MB (${(s.rates.bytes_per_s / 1e6).toFixed(2)} MB/s)`],
  ['snapshots / deltas', `${c.snapshots} / ${c.deltas}`],
  ['conflated frames (updates merged)', `${c.conflated_frames} (${c.updates_merged})`],
  ['trades (folded into aggregates)', `${c.trades} (${c.trades_folded})`],
  ['digest mismatches', String(c.digest_mismatches)],
  ['range breaks / crossed / invalid', `${c.range_breaks} / ${c.crossed_books} / ${c.invalid_frames}`],
  ['resyncs', String(c.resyncs)],
  ['reconnects / storm drops / stale sockets', `${c.reconnects} / ${s.connections.storm_drops} / ${c.stale_connections}`],
  ['closes by code', closes],
  ['client errors by kind', errors],
  ['connected max / at end', `${s.connections.connected_max} / ${s.connections.connected_at_end}`],
  ['paused readers caught up after release', `${s.connections.drain_caught_up} / ${s.connections.drain_released}`],
  ['views synced at end', `${s.connections.views_synced_at_end} / ${s.connections.views_total}`],
  ['loadgen CPU', `${s.cpu.loadgen_cpu_s.toFixed(1)} s (${s.cpu.loadgen_cores_used.toFixed(2)} cores)`],
  ['server CPU', s.cpu.server_cpu_s === null ? 'not measured (--server-pid)' : `${s.cpu.server_cpu_s.toFixed(1)} s (${s.cpu.server_cores_used!.toFixed(2)} cores, ${s.cpu.server_cpu_us_per_frame!.toFixed(2)} µs/frame)`],
  ['worker event-loop delay', `p99 worst ${ms(s.loop_delay_us.p99_worst)} ms, max ${ms(s.loop_delay_us.max)} ms`],
])}
<h2>Run</h2>
${table([
  ['symbols', s.plan.symbols.join(', ')],
  ['symbols per client / distribution', `${s.options.symbols_per_client} / ${s.options.symbol_dist}${s.options.symbol_dist === 'zipf' ? ` (s = ${s.options.zipf_exponent})` : ''}`],
  ['depth / interval_ms', `${s.options.depth} / ${s.options.interval_ms}`],
  ['workers', String(s.plan.workers)],
  ['reconnect storms', s.plan.storms.map((x) => `${x.percent}% (${x.clients} clients) at ${x.at_s} s`).join(', ') || 'none'],
  ['seed', String(s.options.seed)],
  ['host', `${s.host.cpus} × ${s.host.cpu_model}, node ${s.host.node}, ${s.host.platform}`],
  ['command', s.command],
])}
<script type="application/json" id="loadgen-summary">${json}</script>
</body></html>
`;
}
