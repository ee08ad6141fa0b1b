// The cumulative depth chart of the shown view: bids (left of the mid) and
// asks (right) as step areas, each step the running total of size from the
// best price out, on a shared size axis; the mid as a dashed line.
//
// What it drew is kept as a DepthChartFrame (pooled points), so a test can
// compare it with the SDK's book at the same version.
// Cost per draw: one pass over the view's levels (level_at into pooled
// points, at most steps_per_side_max per side) and two paths.

import { side_ask, side_bid, type L2Level, type Side } from 'depthcast/client';
import type { BookHandle } from 'depthcast/client';
import { MidFormat } from './format.js';
import { note_right, panel, title } from './canvas/kit.js';
import { mono_font, theme } from './canvas/theme.js';

/** Levels drawn per side at most (a full book's far levels add width, not information). */
const steps_per_side_max = 200;

export interface DepthPoint { price: number; cum: number }

export interface DepthChartFrame {
  version: number;
  seq: number;
  /** Best first, cumulative lots. */
  bids: DepthPoint[];
  asks: DepthPoint[];
  bid_count: number;
  ask_count: number;
  /** The axes: price → x and lots → y, as drawn (CSS px). */
  price_lo: number;
  price_hi: number;
  cum_max: number;
  plot: { x: number; y: number; w: number; h: number };
}

export class DepthChartPanel {
  readonly frame: DepthChartFrame = {
    version: -1, seq: 0, bids: [], asks: [], bid_count: 0, ask_count: 0, price_lo: 0, price_hi: 0, cum_max: 0,
    plot: { x: 0, y: 0, w: 0, h: 0 },
  };
  private readonly level: L2Level = { price: 0, size: 0, orders: 0 };
  private readonly mid_format = new MidFormat();

  draw(ctx: CanvasRenderingContext2D, view: BookHandle, x: number, y: number, w: number, h: number): void {
    panel(ctx, x, y, w, h);
    title(ctx, 'DEPTH', x + 12, y + 15);
    const f = this.frame;
    f.version = view.version;
    f.seq = view.seq;
    f.bid_count = this.read(view, side_bid, f.bids);
    f.ask_count = this.read(view, side_ask, f.asks);
    const plot = f.plot;
    plot.x = x + 12;
    plot.y = y + 30;
    plot.w = Math.max(1, w - 24);
    plot.h = Math.max(1, h - 30 - 20);
    if (f.bid_count === 0 && f.ask_count === 0) {
      note_right(ctx, 'no book', x + w - 12, y + 15);
      return;
    }
    const best_bid = f.bid_count > 0 ? f.bids[0].price : f.asks[0].price;
    const best_ask = f.ask_count > 0 ? f.asks[0].price : best_bid;
    const mid = (best_bid + best_ask) / 2;
    // Symmetric around the mid, wide enough for the farther side.
    const reach = Math.max(f.bid_count > 0 ? mid - f.bids[f.bid_count - 1].price : 0, f.ask_count > 0 ? f.asks[f.ask_count - 1].price - mid : 0, 1);
    f.price_lo = mid - reach;
    f.price_hi = mid + reach;
    f.cum_max = Math.max(f.bid_count > 0 ? f.bids[f.bid_count - 1].cum : 0, f.ask_count > 0 ? f.asks[f.ask_count - 1].cum : 0, 1);
    note_right(ctx, `bids ${view.format_size(f.bid_count > 0 ? f.bids[f.bid_count - 1].cum : 0)} · asks ${view.format_size(f.ask_count > 0 ? f.asks[f.ask_count - 1].cum : 0)}`, x + w - 12, y + 15);
    this.side_area(ctx, f.bids, f.bid_count, -1, theme.bid_cum, theme.bid_text);
    this.side_area(ctx, f.asks, f.ask_count, 1, theme.ask_cum, theme.ask_text);
    const mx = this.x_of(mid);
    ctx.strokeStyle = theme.dim;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(mx + 0.5, plot.y);
    ctx.lineTo(mx + 0.5, plot.y + plot.h);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.font = `10px ${mono_font}`;
    ctx.fillStyle = theme.dim;
    ctx.textAlign = 'left';
    ctx.fillText(view.format_price(Math.ceil(f.price_lo)), plot.x, plot.y + plot.h + 10);
    ctx.textAlign = 'right';
    ctx.fillText(view.format_price(Math.floor(f.price_hi)), plot.x + plot.w, plot.y + plot.h + 10);
    ctx.textAlign = 'center';
    ctx.fillText(`mid ${this.mid_format.format(mid, view.instrument, (t) => view.format_price(t))}`, mx, plot.y + plot.h + 10);
  }

  x_of(price: number): number {
    const f = this.frame;
    return f.plot.x + ((price - f.price_lo) / (f.price_hi - f.price_lo)) * f.plot.w;
  }

  y_of(cum: number): number {
    const f = this.frame;
    return f.plot.y + f.plot.h - (cum / f.cum_max) * f.plot.h;
  }

  private read(view: BookHandle, side: Side, out: DepthPoint[]): number {
    const n = Math.min(view.level_count(side), steps_per_side_max);
    let cum = 0;
    for (let r = 0; r < n; r++) {
      const l = view.level_at(side, r, this.level);
      if (l === null) return r;
      cum += l.size;
      const p = out[r] ?? (out[r] = { price: 0, cum: 0 });
      p.price = l.price;
      p.cum = cum;
    }
    return n;
  }

  /** A step area from the best price outwards (direction -1: bids, to the left). */
  private side_area(ctx: CanvasRenderingContext2D, points: readonly DepthPoint[], n: number, direction: number, fill: string, edge: string): void {
    if (n === 0) return;
    const base = this.y_of(0);
    ctx.beginPath();
    ctx.moveTo(this.x_of(points[0].price), base);
    let previous = 0;
    for (let i = 0; i < n; i++) {
      const px = this.x_of(points[i].price);
      ctx.lineTo(px, this.y_of(previous));
      ctx.lineTo(px, this.y_of(points[i].cum));
      previous = points[i].cum;
    }
    const end = direction < 0 ? this.frame.plot.x : this.frame.plot.x + this.frame.plot.w;
    ctx.lineTo(end, this.y_of(previous));
    ctx.strokeStyle = edge;
    ctx.lineWidth = 1.25;
    ctx.stroke();
    ctx.lineTo(end, base);
    ctx.closePath();
    ctx.fillStyle = fill;
    ctx.fill();
  }
}
