// The feed panel of the trading page: connection state, engine → receive
// latency over the last second (p50, p99, p99.9) with a one-minute log-scale
// sparkline of each, rates, and the last error for ten seconds.
//
// Cost: a fixed number of canvas calls per draw plus one pass over the
// latency history ring (latency_history_windows entries); reads PageModel's
// rolled statistics, computes none.
import { format_bytes_rate, format_count, format_latency_us, format_rate } from './format.js';
import { latency_history_windows, type PageModel } from './page_model.js';
import { dot, ellipsize, note_right, panel, sparkline, title } from './canvas/kit.js';
import { mono_font, state_colors, theme } from './canvas/theme.js';

const spark_labels = ['p50', 'p99', 'p99.9'] as const;
const spark_colors = [theme.spark_p50, theme.spark_p99, theme.spark_p99_9] as const;

export function draw_feed_panel(ctx: CanvasRenderingContext2D, model: PageModel, x: number, y: number, w: number, h: number, now_ms: number): void {
  const client = model.client;
  const stats = model.stats;
  panel(ctx, x, y, w, h);
  title(ctx, 'FEED', x + 14, y + 18);
  const reconnects = client.counters.reconnects;
  note_right(ctx, `${client.url}${reconnects > 0 ? ` · ${reconnects} reconnects` : ''}`, x + w - 14, y + 18);
  ctx.textAlign = 'left';
  const state = client.state;
  dot(ctx, x + 60, y + 18, state_colors[state]);
  ctx.font = `bold 11px ${mono_font}`;
  ctx.fillStyle = state_colors[state];
  ctx.fillText(state.toUpperCase(), x + 70, y + 18);
  // The client's own staleness: how much older its newest state is than on an idle path.
  const staleness_ms = client.staleness_ms();
  ctx.fillStyle = client.behind ? theme.warn : theme.dim;
  ctx.fillText(`${client.behind ? 'BEHIND' : 'fresh'} · ${staleness_ms < 1000 ? `${Math.round(staleness_ms)} ms` : `${(staleness_ms / 1000).toFixed(1)} s`} old`, x + 70 + ctx.measureText(state.toUpperCase()).width + 14, y + 18);

  // Latency, engine → receive, over the last one-second window.
  ctx.font = `10px ${mono_font}`;
  ctx.fillStyle = theme.faint;
  ctx.fillText('LATENCY engine → receive · last 1 s', x + 14, y + 40);
  const cols: [string, number, string][] = [
    ['p50', stats.p50_us, theme.text], ['p99', stats.p99_us, theme.warn], ['p99.9', stats.p99_9_us, theme.bad],
  ];
  const col_w = (w - 28) / 3;
  for (let i = 0; i < cols.length; i++) {
    const cx = x + 14 + i * col_w;
    ctx.font = `10px ${mono_font}`;
    ctx.fillStyle = theme.dim;
    ctx.fillText(cols[i][0], cx, y + 58);
    ctx.font = `bold 20px ${mono_font}`;
    ctx.fillStyle = cols[i][2];
    ctx.fillText(format_latency_us(cols[i][1]), cx, y + 80);
  }

  // Sparkline of the last minute (log scale: p50 and p99.9 differ by orders of magnitude).
  const gutter = 58;
  const sx = x + 14 + gutter;
  const sy = y + 98;
  const sw = w - 28 - gutter;
  const sh = 44;
  ctx.fillStyle = theme.sparkline_bg;
  ctx.fillRect(sx, sy, sw, sh);
  let top_us = 100;
  for (let i = 0; i < latency_history_windows; i++) if (stats.history_p99_9[i] > top_us) top_us = stats.history_p99_9[i];
  top_us *= 1.2;
  const floor_us = 10;
  const scale = Math.log10(top_us / floor_us);
  const y_of = (us: number) => sy + sh - (Math.log10(Math.max(us, floor_us) / floor_us) / scale) * sh;
  sparkline(ctx, stats.history_p50, stats.history_head, sx, sw, y_of, spark_colors[0]);
  sparkline(ctx, stats.history_p99, stats.history_head, sx, sw, y_of, spark_colors[1]);
  sparkline(ctx, stats.history_p99_9, stats.history_head, sx, sw, y_of, spark_colors[2]);
  ctx.font = `9px ${mono_font}`;
  ctx.fillStyle = theme.faint;
  ctx.textAlign = 'right';
  ctx.fillText(format_latency_us(top_us), sx - 6, sy + 5);
  ctx.fillText(format_latency_us(floor_us), sx - 6, sy + sh - 4);
  ctx.fillText('60 s · log', sx - 6, sy + sh / 2);
  // Legend, right-aligned on the title line.
  let lx = x + w - 14;
  for (let i = spark_labels.length - 1; i >= 0; i--) {
    ctx.fillStyle = theme.dim;
    ctx.fillText(spark_labels[i], lx, y + 40);
    lx -= ctx.measureText(spark_labels[i]).width + 4;
    ctx.fillStyle = spark_colors[i];
    ctx.fillRect(lx - 10, y + 39, 10, 2);
    lx -= 18;
  }

  // Rates and counters.
  ctx.textAlign = 'left';
  ctx.font = `11px ${mono_font}`;
  const c = client.counters;
  const line1 = `frames/s ${format_rate(stats.frames_per_s)}   ${format_bytes_rate(stats.bytes_per_s)}   updates/s ${format_rate(stats.updates_per_s)}   trades/s ${format_rate(stats.trades_per_s)}`;
  const rtt = Number.isNaN(model.rtt_ns) ? '—' : format_latency_us(model.rtt_ns / 1000);
  const line2 = `rtt ${rtt}   resyncs ${c.resyncs}   conflated ${format_count(c.conflated_frames)}   p99.9 since load ${format_latency_us(stats.total_p99_9_us)}`;
  ctx.fillStyle = theme.text;
  ctx.fillText(line1, x + 14, y + 160);
  ctx.fillStyle = theme.dim;
  ctx.fillText(line2, x + 14, y + 178);
  if (now_ms - model.last_error_at_ms < 10_000) {
    ctx.fillStyle = theme.warn;
    ctx.fillText(ellipsize(ctx, model.last_error, w - 28), x + 14, y + h - 2);
  }
}
