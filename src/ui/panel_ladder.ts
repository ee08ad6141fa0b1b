// The ladder panel of the trading page: the shown view's symbol, states and
// conflation marker, its levels (asks above the mid row, bids below) with
// sizes, running totals, order counts and a depth profile, the mid row
// (mid, spread, imbalance), and a veil saying why when the view is not synced.
//
// What it drew in its last frame is kept as a RenderedFrame (a pool of row
// objects reused frame to frame), so a test can compare the pixels' numbers
// with the SDK's book at the same version.
//
// Cost: per draw, the levels that fit (at most the view's depth, or
// full_book_rows_max) are read in place with level_at into the pools and
// formatted once; no allocation once the pools have grown.
//
// Invariants: frame.bids/asks are best first and hold exactly the rows drawn;
// frame.version is the book version they were read at.
import { side_ask, side_bid, type BookHandle, type ConnectionState, type L2Level, type Side, type ViewState } from 'depthcast/client';
import { format_count, MidFormat } from './format.js';
import type { PageModel } from './page_model.js';
import { clamp, hline, outlined_box, panel, pill, table_header } from './canvas/kit.js';
import { feed_state_colors, mono_font, state_colors, theme } from './canvas/theme.js';

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
  /** The state pill as drawn: the view's state, or BEHIND while the client's newest state is older than its threshold. */
  state_label: string;
  /** The client's staleness when drawn (ms; FeedClient.staleness_ms). */
  staleness_ms: number;
  /** Best first, as many as fitted. */
  bids: RenderedLevel[];
  asks: RenderedLevel[];
  trades_shown: number;
  /** The tape's missing-trades rows as drawn (newest first; panel_tape.ts). */
  tape_missing_rows: string[];
  /** The tape header's note as drawn ('1,234 since selected · 20 missed'). */
  tape_note: string;
}

/** Rows drawn per side for a full-book view, at most (what fits wins anyway). */
const full_book_rows_max = 40;
/** Layout of the rows (draw() below): header and margins, the mid row, the smallest row. */
const rows_top_offset = 84;
const rows_bottom_margin = 10;
const mid_row_h = 40;
const row_h_min = 17;

/** The panel height that shows `rows` levels per side (the renderer gives the ladder at least that). */
export function ladder_panel_h_for(rows: number): number {
  return rows_top_offset + rows_bottom_margin + mid_row_h + 2 * rows * row_h_min;
}

function new_level(): RenderedLevel {
  return { price: 0, size: 0, orders: 0, cum: 0, price_text: '', size_text: '', cum_text: '' };
}

export class LadderPanel {
  /** The ladder as last drawn; trades_shown is set by the page after the tape. */
  readonly frame: RenderedFrame = {
    draw: 0, frame_ms: 0, symbol: '', depth: 0, state: 'connecting', connection: 'connecting', epoch: 0, seq: 0, version: -1,
    mid_text: '', spread_text: '', conflated_marker: false, state_label: '', staleness_ms: 0, bids: [], asks: [], trades_shown: 0, tape_missing_rows: [], tape_note: '',
  };
  has_frame = false;
  private readonly level: L2Level = { price: 0, size: 0, orders: 0 };
  private readonly mid_format = new MidFormat();
  private readonly bid_pool: RenderedLevel[] = [];
  private readonly ask_pool: RenderedLevel[] = [];
  private readonly cols = { price: 0, size: 0, cum: 0, orders: 0, zone_x: 0, zone_w: 0 };
  private previous_mid = Number.NaN;
  private mid_direction = 0;

  draw(ctx: CanvasRenderingContext2D, model: PageModel, x: number, y: number, w: number, h: number, now_ms: number, draw_index: number): void {
    const view = model.view;
    panel(ctx, x, y, w, h);

    // Title: symbol, view state, feed state; right: the conflation marker.
    const conflated = model.conflation_marker_on(now_ms);
    ctx.textAlign = 'left';
    ctx.font = `bold 18px ${mono_font}`;
    ctx.fillStyle = theme.text;
    ctx.fillText(view.symbol, x + 16, y + 24);
    let px = x + 16 + ctx.measureText(view.symbol).width + 14;
    // Synced but old: the page says so instead of claiming to be live (FeedClient.behind).
    const behind = view.state === 'synced' && model.client.behind;
    const staleness_ms = model.client.staleness_ms();
    const state_label = behind ? `BEHIND ${(staleness_ms / 1000).toFixed(1)} s` : view.state.toUpperCase();
    px = pill(ctx, px, y + 24, state_label, behind ? theme.warn : state_colors[view.state]) + 8;
    // The feed's own state of the symbol is news only while connected; otherwise it is a memory.
    if (model.client.state === 'synced') {
      // A live book whose engine went quiet is exact but not moving: say so (Status engine_silent).
      const feed_label = view.engine_silent ? 'ENGINE SILENT' : `FEED ${view.feed_state.toUpperCase()}`;
      pill(ctx, px, y + 24, feed_label, view.engine_silent ? theme.warn : feed_state_colors[view.feed_state] ?? theme.faint);
    }
    if (conflated) {
      const label = model.conflated_merged > 1 ? `CONFLATED ×${format_count(model.conflated_merged)}` : 'CONFLATED';
      ctx.font = `bold 11px ${mono_font}`;
      const bw = ctx.measureText(label).width + 20;
      const bx = x + w - 16 - bw;
      outlined_box(ctx, bx, y + 13, bw, 22, 4, theme.conflated_badge, theme.conflated);
      ctx.fillStyle = theme.conflated;
      ctx.textAlign = 'center';
      ctx.fillText(label, bx + bw / 2, y + 24);
    }
    ctx.textAlign = 'left';
    ctx.font = `11px ${mono_font}`;
    ctx.fillStyle = theme.dim;
    const depth_text = `${view.depth === 0 ? 'full book' : `depth ${view.depth}`}${view.group > 1 ? ` · grouped by ${view.group} ticks` : ''}`;
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
    const header_y = y + rows_top_offset - 14;
    table_header(ctx, x, w, header_y, [
      ['PRICE', cols.price, 'right'], ['SIZE', cols.size, 'right'], ['TOTAL', cols.cum, 'right'], ['ORDERS', cols.orders, 'right'],
      ['DEPTH  ▮ size  ▯ total', cols.zone_x, 'left'],
    ]);

    // Rows: asks above the mid row (best nearest), bids below.
    const rows_top = header_y + 14;
    const rows_h = y + h - rows_bottom_margin - rows_top;
    const mid_h = mid_row_h;
    const wanted = view.depth === 0 ? full_book_rows_max : view.depth;
    const row_h = clamp(Math.floor((rows_h - mid_h) / (2 * wanted)), row_h_min, 28);
    const rows_per_side = Math.max(0, Math.min(wanted, Math.floor((rows_h - mid_h) / 2 / row_h)));
    const mid_top = rows_top + Math.floor((rows_h - mid_h) / 2);
    const bid_count = Math.min(rows_per_side, view.level_count(side_bid));
    const ask_count = Math.min(rows_per_side, view.level_count(side_ask));

    const bids = this.collect(view, side_bid, bid_count, this.bid_pool);
    const asks = this.collect(view, side_ask, ask_count, this.ask_pool);
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
      if (r < ask_count) this.draw_level(ctx, asks[r], side_ask, ay, row_h, size_max, cum_max, font_px, r === 0);
      if (r < bid_count) this.draw_level(ctx, bids[r], side_bid, by, row_h, size_max, cum_max, font_px, r === 0);
    }

    // Mid row: mid price (coloured by its last move), spread in price and in basis points.
    const mid = view.mid();
    const spread = view.spread();
    const mid_text = mid === undefined ? '—' : this.mid_format.format(mid, view.instrument, (t) => view.format_price(t));
    const spread_text = spread === undefined ? '—' : view.format_price(spread);
    if (mid !== undefined && !Number.isNaN(this.previous_mid) && mid !== this.previous_mid) this.mid_direction = mid > this.previous_mid ? 1 : -1;
    this.previous_mid = mid ?? Number.NaN;
    ctx.fillStyle = theme.mid_band;
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
      outlined_box(ctx, x + (w - tw) / 2, box_y, tw, 44, 6, theme.panel, state_colors[view.state]);
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
    f.state_label = state_label;
    f.staleness_ms = staleness_ms;
    f.bids = bids;
    f.asks = asks;
    this.has_frame = true;
  }

  /** Reads `count` levels of a side into the pool (best first) with cumulative sizes and their text. */
  private collect(view: BookHandle, side: Side, count: number, pool: RenderedLevel[]): RenderedLevel[] {
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

  private draw_level(ctx: CanvasRenderingContext2D, l: RenderedLevel, side: Side, y: number, row_h: number, size_max: number, cum_max: number, font_px: number, best: boolean): void {
    const cols = this.cols;
    // Depth zone: the cumulative size as a faint bar the full row high (the sides
    // together draw the book's depth profile), this level's size as a stronger inner bar.
    const cum_w = Math.max(1, (l.cum / cum_max) * cols.zone_w);
    ctx.fillStyle = side === side_bid ? theme.bid_cum : theme.ask_cum;
    ctx.fillRect(cols.zone_x, y + 1, cum_w, row_h - 2);
    const size_w = Math.max(1, (l.size / size_max) * cols.zone_w);
    ctx.fillStyle = side === side_bid ? theme.bid_bar : theme.ask_bar;
    ctx.fillRect(cols.zone_x, y + Math.round(row_h * 0.28), size_w, row_h - 2 * Math.round(row_h * 0.28));
    const cy = y + row_h / 2;
    ctx.textAlign = 'right';
    ctx.font = `${best ? 'bold ' : ''}${font_px}px ${mono_font}`;
    ctx.fillStyle = side === side_bid ? theme.bid_text : theme.ask_text;
    ctx.fillText(l.price_text, cols.price, cy);
    ctx.font = `${font_px}px ${mono_font}`;
    ctx.fillStyle = theme.text;
    ctx.fillText(l.size_text, cols.size, cy);
    ctx.fillStyle = theme.dim;
    ctx.fillText(l.cum_text, cols.cum, cy);
    ctx.fillStyle = theme.faint;
    ctx.fillText(String(l.orders), cols.orders, cy);
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
