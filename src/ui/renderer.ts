// Draws the whole page body on one canvas from the latest state: the ladder
// of the shown view, the feed panel (connection, latency, rates), the markets
// list and the trade tape. Called by DrawScheduler at most once per animation
// frame; reads the SDK's book in place (level_at, no arrays per version).
//
// What the ladder drew in its last frame is kept as a RenderedFrame (a pool
// of row objects reused frame to frame), so a test can compare the pixels'
// numbers with the SDK's book at the same version.
import type { BookHandle, ConnectionState, L2Level, ViewState } from '../client/index.js';
import { format_bytes_rate, format_clock_time, format_count, format_latency_us, format_rate, MidFormat } from './format.js';
import { latency_history_windows, type PageModel } from './page_model.js';
import { new_tape_row, trade_kind } from './trade_tape.js';

export interface RenderedLevel {
  price: number;
  size: number;
  orders: number;
  /** Size of this level and every better one on its side, in lots. */
  cum: number;
  price_text: string;
  size_text: string;
  cum_text: string;
}

/** The ladder as drawn in one frame. */
export interface RenderedFrame {
  draw: number;
  frame_ms: number;
  symbol: string;
  depth: number;
  state: ViewState;
  connection: ConnectionState;
  epoch: number;
  seq: number;
  /** BookHandle.version when drawn. */
  version: number;
  mid_text: string;
  spread_text: string;
  conflated_marker: boolean;
  /** Best first, as many as fitted. */
  bids: RenderedLevel[];
  asks: RenderedLevel[];
  trades_shown: number;
}

export const theme = {
  bg: '#090c11',
  panel: '#0f131a',
  panel_edge: '#1b222c',
  header_rule: '#1f2731',
  row_alt: 'rgba(255,255,255,0.022)',
  text: '#d5dce4',
  dim: '#7f8994',
  faint: '#4b5561',
  accent: '#4da3ff',
  bid_text: '#3ddc84',
  bid_bar: 'rgba(46,204,113,0.30)',
  bid_cum: 'rgba(46,204,113,0.13)',
  ask_text: '#ff5f6d',
  ask_bar: 'rgba(255,82,99,0.30)',
  ask_cum: 'rgba(255,82,99,0.13)',
  ok: '#3ddc84',
  warn: '#f2b84b',
  bad: '#ff5f6d',
  conflated: '#f2b84b',
  veil: 'rgba(9,12,17,0.72)',
} as const;

export const mono_font = 'ui-monospace, "JetBrains Mono", "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace';

const state_colors: Record<ViewState | ConnectionState, string> = {
  synced: theme.ok, connecting: theme.warn, resyncing: theme.warn, stale: theme.bad, closed: theme.faint,
};
const feed_state_colors: Record<string, string> = { live: theme.ok, recovering: theme.warn, unknown: theme.faint };

const pad = 12;
const spark_labels = ['p50', 'p99', 'p99.9'] as const;
const spark_colors = ['rgba(213,220,228,0.9)', 'rgba(242,184,75,0.95)', 'rgba(255,95,109,0.9)'] as const;
const right_column_w_min = 300;
/** Rows drawn per side for a full-book view, at most (what fits wins anyway). */
const full_book_rows_max = 40;

function new_level(): RenderedLevel {
  return { price: 0, size: 0, orders: 0, cum: 0, price_text: '', size_text: '', cum_text: '' };
}

export class Renderer {
  private readonly ctx: CanvasRenderingContext2D;
  private css_w = 0;
  private css_h = 0;
  private dpr = 1;
  private readonly level: L2Level = { price: 0, size: 0, orders: 0 };
  private readonly tape_row = new_tape_row();
  private readonly mid_format = new MidFormat();
  private readonly bid_pool: RenderedLevel[] = [];
  private readonly ask_pool: RenderedLevel[] = [];
  private readonly frame: RenderedFrame = {
    draw: 0, frame_ms: 0, symbol: '', depth: 0, state: 'connecting', connection: 'connecting', epoch: 0, seq: 0, version: -1,
    mid_text: '', spread_text: '', conflated_marker: false, bids: [], asks: [], trades_shown: 0,
  };
  private readonly cols = { price: 0, size: 0, cum: 0, orders: 0, zone_x: 0, zone_w: 0 };
  private has_frame = false;
  private previous_mid = Number.NaN;
  private mid_direction = 0;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly model: PageModel) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (ctx === null) throw new Error('this browser has no 2D canvas');
    this.ctx = ctx;
  }

  /** Sets the drawing size (CSS pixels × device pixel ratio); the next draw fills it. */
  resize(css_w: number, css_h: number, dpr: number): void {
    this.css_w = Math.max(1, Math.floor(css_w));
    this.css_h = Math.max(1, Math.floor(css_h));
    this.dpr = dpr > 0 ? dpr : 1;
    this.canvas.width = Math.round(this.css_w * this.dpr);
    this.canvas.height = Math.round(this.css_h * this.dpr);
  }

  /** The ladder of the last frame (a copy), or null before the first draw. */
  rendered(): RenderedFrame | null {
    if (!this.has_frame) return null;
    const f = this.frame;
    return { ...f, bids: f.bids.map((l) => ({ ...l })), asks: f.asks.map((l) => ({ ...l })) };
  }

  draw(frame_ms: number, draw_index: number): void {
    const ctx = this.ctx;
    const model = this.model;
    model.stats.roll_if_due(frame_ms);
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = theme.bg;
    ctx.fillRect(0, 0, this.css_w, this.css_h);
    ctx.textBaseline = 'middle';

    const W = this.css_w;
    const H = this.css_h;
    const two_columns = W >= 760;
    const ladder_w = two_columns ? Math.max(420, Math.floor((W - 3 * pad) * 0.56)) : W - 2 * pad;
    const right_x = pad + ladder_w + pad;
    const right_w = W - right_x - pad;
    this.draw_ladder(pad, pad, ladder_w, H - 2 * pad, frame_ms, draw_index);
    if (two_columns && right_w >= right_column_w_min) {
      const feed_h = 196;
      const markets_rows = Math.min(model.markets.length, 8);
      const markets_h = 62 + markets_rows * 22;
      this.draw_feed(right_x, pad, right_w, feed_h, frame_ms);
      this.draw_markets(right_x, pad + feed_h + pad, right_w, markets_h, markets_rows);
      const tape_y = pad + feed_h + pad + markets_h + pad;
      this.draw_tape(right_x, tape_y, right_w, H - pad - tape_y);
    }
  }

  // ---- ladder ----

  private draw_ladder(x: number, y: number, w: number, h: number, now_ms: number, draw_index: number): void {
    const ctx = this.ctx;
    const model = this.model;
    const view = model.view;
    panel(ctx, x, y, w, h);

    // Title: symbol, view state, feed state; right: the conflation marker.
    const conflated = model.conflation_marker_on(now_ms);
    ctx.textAlign = 'left';
    ctx.font = `bold 18px ${mono_font}`;
    ctx.fillStyle = theme.text;
    ctx.fillText(view.symbol, x + 16, y + 24);
    let px = x + 16 + ctx.measureText(view.symbol).width + 14;
    px = pill(ctx, px, y + 24, view.state.toUpperCase(), state_colors[view.state]) + 8;
    // The feed's own state of the symbol is news only while connected; otherwise it is a memory.
    if (model.client.state === 'synced') pill(ctx, px, y + 24, `FEED ${view.feed_state.toUpperCase()}`, feed_state_colors[view.feed_state] ?? theme.faint);
    if (conflated) {
      const label = model.conflated_merged > 1 ? `CONFLATED ×${format_count(model.conflated_merged)}` : 'CONFLATED';
      ctx.font = `bold 11px ${mono_font}`;
      const bw = ctx.measureText(label).width + 20;
      const bx = x + w - 16 - bw;
      ctx.fillStyle = 'rgba(242,184,75,0.16)';
      round_rect(ctx, bx, y + 13, bw, 22, 4);
      ctx.fill();
      ctx.strokeStyle = theme.conflated;
      ctx.lineWidth = 1;
      round_rect(ctx, bx + 0.5, y + 13.5, bw - 1, 21, 4);
      ctx.stroke();
      ctx.fillStyle = theme.conflated;
      ctx.textAlign = 'center';
      ctx.fillText(label, bx + bw / 2, y + 24);
    }
    ctx.textAlign = 'left';
    ctx.font = `11px ${mono_font}`;
    ctx.fillStyle = theme.dim;
    const depth_text = view.depth === 0 ? 'full book' : `depth ${view.depth}`;
    const interval_text = view.interval_ms === 0 ? 'every update' : `conflated every ${view.interval_ms} ms`;
    ctx.fillText(`${depth_text} · ${interval_text} · epoch ${view.epoch} · seq ${format_count(view.seq)} · tick ${view.instrument.tick_size} · lot ${view.instrument.lot_size}`, x + 16, y + 46);

    // Columns: numbers on the left, a depth zone on the right (bars never sit under text).
    const cols = this.cols;
    const inner_x = x + 16;
    const inner_w = w - 32;
    const text_w = Math.floor(inner_w * 0.6);
    cols.price = inner_x + text_w * 0.3;
    cols.size = inner_x + text_w * 0.57;
    cols.cum = inner_x + text_w * 0.84;
    cols.orders = inner_x + text_w;
    cols.zone_x = inner_x + text_w + 18;
    cols.zone_w = inner_x + inner_w - cols.zone_x;
    const header_y = y + 70;
    table_header(ctx, x, w, header_y, [
      ['PRICE', cols.price, 'right'], ['SIZE', cols.size, 'right'], ['TOTAL', cols.cum, 'right'], ['ORDERS', cols.orders, 'right'],
      ['DEPTH  ▮ size  ▯ total', cols.zone_x, 'left'],
    ]);

    // Rows: asks above the mid row (best nearest), bids below.
    const rows_top = header_y + 14;
    const rows_h = y + h - 10 - rows_top;
    const mid_h = 40;
    const wanted = view.depth === 0 ? full_book_rows_max : view.depth;
    const row_h = clamp(Math.floor((rows_h - mid_h) / (2 * wanted)), 17, 28);
    const rows_per_side = Math.max(0, Math.min(wanted, Math.floor((rows_h - mid_h) / 2 / row_h)));
    const mid_top = rows_top + Math.floor((rows_h - mid_h) / 2);
    const bid_count = Math.min(rows_per_side, view.level_count(0));
    const ask_count = Math.min(rows_per_side, view.level_count(1));

    const bids = this.collect(view, 0, bid_count, this.bid_pool);
    const asks = this.collect(view, 1, ask_count, this.ask_pool);
    let size_max = 1;
    for (let i = 0; i < bid_count; i++) size_max = Math.max(size_max, bids[i].size);
    for (let i = 0; i < ask_count; i++) size_max = Math.max(size_max, asks[i].size);
    const cum_max = Math.max(1, bid_count > 0 ? bids[bid_count - 1].cum : 0, ask_count > 0 ? asks[ask_count - 1].cum : 0);

    const font_px = clamp(row_h - 7, 11, 14);
    for (let r = 0; r < rows_per_side; r++) {
      const ay = mid_top - (r + 1) * row_h;
      const by = mid_top + mid_h + r * row_h;
      if (r % 2 === 1) {
        ctx.fillStyle = theme.row_alt;
        ctx.fillRect(x + 1, ay, w - 2, row_h);
        ctx.fillRect(x + 1, by, w - 2, row_h);
      }
      if (r < ask_count) this.draw_level(asks[r], 1, ay, row_h, size_max, cum_max, font_px, r === 0);
      if (r < bid_count) this.draw_level(bids[r], 0, by, row_h, size_max, cum_max, font_px, r === 0);
    }

    // Mid row: mid price (coloured by its last move), spread in price and in basis points.
    const mid = view.mid();
    const spread = view.spread();
    const mid_text = mid === undefined ? '—' : this.mid_format.format(mid, view.instrument, (t) => view.format_price(t));
    const spread_text = spread === undefined ? '—' : view.format_price(spread);
    if (mid !== undefined && !Number.isNaN(this.previous_mid) && mid !== this.previous_mid) this.mid_direction = mid > this.previous_mid ? 1 : -1;
    this.previous_mid = mid ?? Number.NaN;
    ctx.fillStyle = 'rgba(77,163,255,0.06)';
    ctx.fillRect(x + 1, mid_top + 2, w - 2, mid_h - 4);
    hline(ctx, x + 1, x + w - 1, mid_top + 2, theme.header_rule);
    hline(ctx, x + 1, x + w - 1, mid_top + mid_h - 2, theme.header_rule);
    const mid_cy = mid_top + mid_h / 2;
    ctx.textAlign = 'right';
    ctx.font = `bold 17px ${mono_font}`;
    ctx.fillStyle = this.mid_direction > 0 ? theme.bid_text : this.mid_direction < 0 ? theme.ask_text : theme.text;
    ctx.fillText(mid_text, cols.price, mid_cy);
    ctx.textAlign = 'left';
    ctx.font = `11px ${mono_font}`;
    ctx.fillStyle = theme.dim;
    ctx.fillText(this.mid_direction > 0 ? '▲ mid' : this.mid_direction < 0 ? '▼ mid' : '  mid', cols.price + 10, mid_cy);
    ctx.textAlign = 'right';
    ctx.fillStyle = theme.text;
    ctx.fillText(`spread ${spread_text}`, cols.orders, mid_cy - 7);
    ctx.fillStyle = theme.dim;
    ctx.fillText(mid !== undefined && spread !== undefined && mid > 0 ? `${format_bps(spread / mid * 1e4)} bps` : '', cols.orders, mid_cy + 8);
    // Imbalance of the shown levels: bid size against ask size.
    const bid_total = bid_count > 0 ? bids[bid_count - 1].cum : 0;
    const ask_total = ask_count > 0 ? asks[ask_count - 1].cum : 0;
    if (bid_total + ask_total > 0) {
      const bid_share = bid_total / (bid_total + ask_total);
      const bar_y = mid_cy + 4;
      ctx.fillStyle = theme.bid_text;
      ctx.fillRect(cols.zone_x, bar_y, cols.zone_w * bid_share, 4);
      ctx.fillStyle = theme.ask_text;
      ctx.fillRect(cols.zone_x + cols.zone_w * bid_share, bar_y, cols.zone_w * (1 - bid_share), 4);
      ctx.font = `10px ${mono_font}`;
      ctx.textAlign = 'left';
      ctx.fillStyle = theme.dim;
      ctx.fillText(`bids ${Math.round(bid_share * 100)}%`, cols.zone_x, mid_cy - 7);
      ctx.textAlign = 'right';
      ctx.fillText(`${Math.round((1 - bid_share) * 100)}% asks`, cols.zone_x + cols.zone_w, mid_cy - 7);
    }

    // A view that is not synced shows its last book under a veil, and says why.
    if (view.state !== 'synced') {
      ctx.fillStyle = theme.veil;
      ctx.fillRect(x + 1, rows_top, w - 2, rows_h);
      const text = veil_text(view, model.client.state);
      ctx.font = `bold 14px ${mono_font}`;
      const tw = ctx.measureText(text).width + 40;
      const box_y = mid_top + mid_h / 2 - 22;
      ctx.fillStyle = theme.panel;
      round_rect(ctx, x + (w - tw) / 2, box_y, tw, 44, 6);
      ctx.fill();
      ctx.strokeStyle = state_colors[view.state];
      ctx.lineWidth = 1;
      round_rect(ctx, x + (w - tw) / 2 + 0.5, box_y + 0.5, tw - 1, 43, 6);
      ctx.stroke();
      ctx.textAlign = 'center';
      ctx.fillStyle = state_colors[view.state];
      ctx.fillText(text, x + w / 2, mid_top + mid_h / 2);
    }

    const f = this.frame;
    f.draw = draw_index;
    f.frame_ms = now_ms;
    f.symbol = view.symbol;
    f.depth = view.depth;
    f.state = view.state;
    f.connection = model.client.state;
    f.epoch = view.epoch;
    f.seq = view.seq;
    f.version = view.version;
    f.mid_text = mid_text;
    f.spread_text = spread_text;
    f.conflated_marker = conflated;
    f.bids = bids;
    f.asks = asks;
    this.has_frame = true;
  }

  /** Reads `count` levels of a side into the pool (best first) with cumulative sizes and their text. */
  private collect(view: BookHandle, side: 0 | 1, count: number, pool: RenderedLevel[]): RenderedLevel[] {
    while (pool.length < count) pool.push(new_level());
    pool.length = count;
    let cum = 0;
    for (let r = 0; r < count; r++) {
      const l = view.level_at(side, r, this.level)!;
      const out = pool[r];
      cum += l.size;
      out.price = l.price;
      out.size = l.size;
      out.orders = l.orders;
      out.cum = cum;
      out.price_text = view.format_price(l.price);
      out.size_text = view.format_size(l.size);
      out.cum_text = view.format_size(cum);
    }
    return pool;
  }

  private draw_level(l: RenderedLevel, side: 0 | 1, y: number, row_h: number, size_max: number, cum_max: number, font_px: number, best: boolean): void {
    const ctx = this.ctx;
    const cols = this.cols;
    // Depth zone: the cumulative size as a faint bar the full row high (the sides
    // together draw the book's depth profile), this level's size as a stronger inner bar.
    const cum_w = Math.max(1, (l.cum / cum_max) * cols.zone_w);
    ctx.fillStyle = side === 0 ? theme.bid_cum : theme.ask_cum;
    ctx.fillRect(cols.zone_x, y + 1, cum_w, row_h - 2);
    const size_w = Math.max(1, (l.size / size_max) * cols.zone_w);
    ctx.fillStyle = side === 0 ? theme.bid_bar : theme.ask_bar;
    ctx.fillRect(cols.zone_x, y + Math.round(row_h * 0.28), size_w, row_h - 2 * Math.round(row_h * 0.28));
    const cy = y + row_h / 2;
    ctx.textAlign = 'right';
    ctx.font = `${best ? 'bold ' : ''}${font_px}px ${mono_font}`;
    ctx.fillStyle = side === 0 ? theme.bid_text : theme.ask_text;
    ctx.fillText(l.price_text, cols.price, cy);
    ctx.font = `${font_px}px ${mono_font}`;
    ctx.fillStyle = theme.text;
    ctx.fillText(l.size_text, cols.size, cy);
    ctx.fillStyle = theme.dim;
    ctx.fillText(l.cum_text, cols.cum, cy);
    ctx.fillStyle = theme.faint;
    ctx.fillText(String(l.orders), cols.orders, cy);
  }

  // ---- feed panel ----

  private draw_feed(x: number, y: number, w: number, h: number, now_ms: number): void {
    const ctx = this.ctx;
    const model = this.model;
    const client = model.client;
    const stats = model.stats;
    panel(ctx, x, y, w, h);
    title(ctx, 'FEED', x + 14, y + 18);
    ctx.textAlign = 'right';
    ctx.font = `11px ${mono_font}`;
    ctx.fillStyle = theme.dim;
    const reconnects = client.counters.reconnects;
    ctx.fillText(`${client.url}${reconnects > 0 ? ` · ${reconnects} reconnects` : ''}`, x + w - 14, y + 18);
    ctx.textAlign = 'left';
    const state = client.state;
    dot(ctx, x + 60, y + 18, state_colors[state]);
    ctx.font = `bold 11px ${mono_font}`;
    ctx.fillStyle = state_colors[state];
    ctx.fillText(state.toUpperCase(), x + 70, y + 18);

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
    ctx.fillStyle = 'rgba(255,255,255,0.025)';
    ctx.fillRect(sx, sy, sw, sh);
    let top_us = 100;
    for (let i = 0; i < latency_history_windows; i++) if (stats.history_p99_9[i] > top_us) top_us = stats.history_p99_9[i];
    top_us *= 1.2;
    const floor_us = 10;
    const scale = Math.log10(top_us / floor_us);
    const y_of = (us: number) => sy + sh - (Math.log10(Math.max(us, floor_us) / floor_us) / scale) * sh;
    spark(ctx, stats.history_p50, stats.history_head, sx, sw, y_of, spark_colors[0]);
    spark(ctx, stats.history_p99, stats.history_head, sx, sw, y_of, spark_colors[1]);
    spark(ctx, stats.history_p99_9, stats.history_head, sx, sw, y_of, spark_colors[2]);
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

  // ---- markets ----

  private draw_markets(x: number, y: number, w: number, h: number, rows: number): void {
    const ctx = this.ctx;
    const model = this.model;
    panel(ctx, x, y, w, h);
    title(ctx, 'MARKETS', x + 14, y + 18);
    const cols = [x + 14, x + w * 0.34, x + w * 0.56, x + w * 0.78, x + w - 14];
    const header_y = y + 40;
    table_header(ctx, x, w, header_y, [
      ['SYMBOL', cols[0], 'left'], ['STATE', cols[1] - 40, 'left'], ['BID', cols[2], 'right'], ['ASK', cols[3], 'right'], ['LAST', cols[4], 'right'],
    ]);
    for (let i = 0; i < rows; i++) {
      const row = model.markets[i];
      const ry = header_y + 14 + i * 22;
      const selected = row.symbol === model.selection.symbol;
      const book = selected ? model.view : row.ticker;
      if (selected) {
        ctx.fillStyle = 'rgba(77,163,255,0.10)';
        ctx.fillRect(x + 1, ry, w - 2, 22);
        ctx.fillStyle = theme.accent;
        ctx.fillRect(x + 1, ry, 3, 22);
      }
      const cy = ry + 11;
      ctx.textAlign = 'left';
      ctx.font = `${selected ? 'bold ' : ''}12px ${mono_font}`;
      ctx.fillStyle = theme.text;
      ctx.fillText(row.symbol, cols[0], cy);
      if (book === null) continue;
      dot(ctx, cols[1] - 34, cy, state_colors[book.state]);
      ctx.font = `11px ${mono_font}`;
      ctx.fillStyle = theme.dim;
      ctx.fillText(book.state, cols[1] - 26, cy);
      ctx.textAlign = 'right';
      ctx.font = `12px ${mono_font}`;
      const bid = book.best_bid_price();
      const ask = book.best_ask_price();
      ctx.fillStyle = theme.bid_text;
      ctx.fillText(bid === undefined ? '—' : book.format_price(bid), cols[2], cy);
      ctx.fillStyle = theme.ask_text;
      ctx.fillText(ask === undefined ? '—' : book.format_price(ask), cols[3], cy);
      ctx.fillStyle = Number.isNaN(row.last_price) ? theme.faint : row.last_aggressor === 0 ? theme.bid_text : theme.ask_text;
      ctx.fillText(Number.isNaN(row.last_price) ? '—' : book.format_price(row.last_price), cols[4], cy);
    }
  }

  // ---- trade tape ----

  private draw_tape(x: number, y: number, w: number, h: number): void {
    const ctx = this.ctx;
    const model = this.model;
    const view = model.view;
    const tape = model.tape;
    if (h < 60) return;
    panel(ctx, x, y, w, h);
    title(ctx, `TRADES · ${view.symbol}`, x + 14, y + 18);
    ctx.textAlign = 'right';
    ctx.font = `11px ${mono_font}`;
    ctx.fillStyle = theme.dim;
    ctx.fillText(`${format_count(tape.trades_seen)} since selected`, x + w - 14, y + 18);
    const cols = [x + 14, x + w * 0.52, x + w * 0.78, x + w - 14];
    const header_y = y + 40;
    table_header(ctx, x, w, header_y, [['TIME', cols[0], 'left'], ['PRICE', cols[1], 'right'], ['SIZE', cols[2], 'right'], ['SIDE', cols[3], 'right']]);
    const row_h = 19;
    const rows = Math.max(0, Math.min(tape.length, Math.floor((y + h - 8 - (header_y + 14)) / row_h)));
    const row = this.tape_row;
    let size_max = 1;
    for (let i = 0; i < rows; i++) if (tape.read(i, row) && row.kind === trade_kind.trade) size_max = Math.max(size_max, row.size);
    for (let i = 0; i < rows; i++) {
      if (!tape.read(i, row)) break;
      const ry = header_y + 14 + i * row_h;
      const cy = ry + row_h / 2;
      const buy = row.aggressor === 0;
      // Newer rows are brighter: the eye finds the latest prints first.
      ctx.globalAlpha = 1 - Math.min(0.55, i / Math.max(1, rows) * 0.55);
      if (row.kind === trade_kind.aggregate) {
        ctx.fillStyle = 'rgba(242,184,75,0.10)';
        ctx.fillRect(x + 1, ry + 1, w - 2, row_h - 2);
        ctx.textAlign = 'left';
        ctx.font = `11px ${mono_font}`;
        ctx.fillStyle = theme.conflated;
        ctx.fillText(`⋯ ${format_count(row.folded)} trades folded · vwap ${view.format_price(Math.round(row.vwap))} · vol ${view.format_size(row.size)} · last ${view.format_price(row.price)}`, cols[0], cy);
        ctx.globalAlpha = 1;
        continue;
      }
      const bar_w = Math.max(1, (row.size / size_max) * (w - 28) * 0.35);
      ctx.fillStyle = buy ? theme.bid_cum : theme.ask_cum;
      ctx.fillRect(x + w - 14 - bar_w, ry + 2, bar_w, row_h - 4);
      ctx.textAlign = 'left';
      ctx.font = `11px ${mono_font}`;
      ctx.fillStyle = theme.dim;
      ctx.fillText(format_clock_time(row.ts_engine_ns), cols[0], cy);
      ctx.textAlign = 'right';
      ctx.font = `12px ${mono_font}`;
      ctx.fillStyle = buy ? theme.bid_text : theme.ask_text;
      ctx.fillText(view.format_price(row.price), cols[1], cy);
      ctx.fillStyle = theme.text;
      ctx.fillText(view.format_size(row.size), cols[2], cy);
      ctx.fillStyle = buy ? theme.bid_text : theme.ask_text;
      ctx.font = `10px ${mono_font}`;
      ctx.fillText(buy ? 'BUY ▲' : 'SELL ▼', cols[3], cy);
      ctx.globalAlpha = 1;
    }
    this.frame.trades_shown = rows;
    if (rows === 0) {
      ctx.textAlign = 'center';
      ctx.font = `11px ${mono_font}`;
      ctx.fillStyle = theme.faint;
      ctx.fillText('waiting for trades…', x + w / 2, header_y + 40);
    }
  }
}

function veil_text(view: BookHandle, connection: ConnectionState): string {
  switch (view.state) {
    case 'connecting':
      if (connection !== 'synced') return 'CONNECTING TO THE FEED…';
      return view.feed_state === 'recovering' ? 'THE FEED IS RECOVERING THIS BOOK…' : 'WAITING FOR THE SNAPSHOT…';
    case 'resyncing': return 'RESYNCING: a check failed, fresh snapshot asked';
    case 'stale': return view.feed_state === 'recovering' ? 'STALE: the feed is recovering this book' : 'STALE: nothing heard from the feed';
    case 'closed': return 'CLOSED';
    default: return '';
  }
}

/** Basis points with two significant digits below 1 (fine-tick books have tiny spreads). */
function format_bps(bps: number): string {
  return bps >= 1 ? bps.toFixed(2) : bps.toPrecision(2);
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function panel(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number): void {
  ctx.fillStyle = theme.panel;
  round_rect(ctx, x, y, w, h, 6);
  ctx.fill();
  ctx.strokeStyle = theme.panel_edge;
  ctx.lineWidth = 1;
  round_rect(ctx, x + 0.5, y + 0.5, w - 1, h - 1, 6);
  ctx.stroke();
}

function round_rect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

function hline(ctx: CanvasRenderingContext2D, x0: number, x1: number, y: number, color: string): void {
  ctx.fillStyle = color;
  ctx.fillRect(x0, Math.round(y), x1 - x0, 1);
}

/** Column titles (text, x, alignment) and the rule under them. */
function table_header(ctx: CanvasRenderingContext2D, x: number, w: number, y: number, cells: readonly (readonly [string, number, CanvasTextAlign])[]): void {
  ctx.font = `10px ${mono_font}`;
  ctx.fillStyle = theme.faint;
  for (const [text, cx, align] of cells) {
    ctx.textAlign = align;
    ctx.fillText(text, cx, y);
  }
  hline(ctx, x + 1, x + w - 1, y + 10, theme.header_rule);
}

function title(ctx: CanvasRenderingContext2D, text: string, x: number, y: number): void {
  ctx.textAlign = 'left';
  ctx.font = `bold 11px ${mono_font}`;
  ctx.fillStyle = theme.dim;
  ctx.fillText(text, x, y);
}

function dot(ctx: CanvasRenderingContext2D, x: number, y: number, color: string): void {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(x, y, 3.5, 0, Math.PI * 2);
  ctx.fill();
}

/** A rounded label; returns its right edge. */
function pill(ctx: CanvasRenderingContext2D, x: number, cy: number, text: string, color: string): number {
  ctx.font = `bold 10px ${mono_font}`;
  const w = ctx.measureText(text).width + 22;
  ctx.globalAlpha = 0.14;
  ctx.fillStyle = color;
  round_rect(ctx, x, cy - 10, w, 20, 10);
  ctx.fill();
  ctx.globalAlpha = 1;
  dot(ctx, x + 9, cy, color);
  ctx.textAlign = 'left';
  ctx.fillStyle = color;
  ctx.fillText(text, x + 16, cy + 0.5);
  return x + w;
}

function spark(ctx: CanvasRenderingContext2D, values: Float64Array, head: number, x: number, w: number, y_of: (v: number) => number, color: string): void {
  const n = values.length;
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.25;
  ctx.beginPath();
  let drawing = false;
  for (let i = 0; i < n; i++) {
    // Oldest at the left: index head+1 is the oldest entry of the ring.
    const v = values[(head + 1 + i) % n];
    const px = x + (i / (n - 1)) * w;
    if (Number.isNaN(v)) {
      drawing = false;
      continue;
    }
    const py = y_of(v);
    if (drawing) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    drawing = true;
  }
  ctx.stroke();
}

function ellipsize(ctx: CanvasRenderingContext2D, text: string, width: number): string {
  if (ctx.measureText(text).width <= width) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= width) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}
