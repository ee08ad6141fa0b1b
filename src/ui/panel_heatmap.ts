// The liquidity heatmap panel: price × time for the shown symbol, resting
// size per bucket on a log viridis scale (canvas/colour_scale.ts), the best
// bid and ask as lines, trades as marks, a crosshair with a tooltip.
//
// Drawn incrementally: the image lives on its own canvas (device pixels);
// each draw scrolls it left by the columns sampled since the last draw
// (drawImage of itself, 'copy') and paints only those columns; the page's
// canvas then takes it with one drawImage. Everything is repainted only when
// the layout moves (re-centring, resize, a new selection) or the colour
// scale's top is passed twice over. No draw runs while the tab is hidden
// (DrawScheduler), and the columns sampled meanwhile are painted on return.
//
// Cost per draw: one drawImage of the plot, one scroll, rows × new columns
// fillRects and the marks of those columns; overlays a few canvas calls.

import { side_bid, type BookHandle } from 'depthcast/client';
import type { HeatmapModel } from './heatmap_model.js';
import { trades_per_column_max } from './heatmap_model.js';
import { hline, note_right, outlined_box, panel, title } from './canvas/kit.js';
import { empty_cell_css, scale_index, viridis_css } from './canvas/colour_scale.js';
import { mono_font, theme } from './canvas/theme.js';

const axis_w = 64;
const top_h = 28;
const bottom_h = 18;

/** What the last draw painted, for tests: the layout and scale the pixels came from. */
export interface HeatmapFrame {
  /** Columns painted by the last draw (0: nothing new), and whether it repainted everything. */
  painted_columns: number;
  full_repaint: boolean;
  /** Columns painted since the panel was created, and full repaints. */
  painted_total: number;
  full_repaints: number;
  layout_version: number;
  size_top: number;
  /** Device pixels of one column and one row of the image. */
  column_px: number;
  row_px: number;
  /** Plot rectangle on the page (CSS px). */
  plot: { x: number; y: number; w: number; h: number };
  /** How long the last incremental paints took (ms, performance.now; full repaints not included), a ring. */
  incremental_paint_ms: Float64Array;
  incremental_paints: number;
}

/** Incremental paint times kept in HeatmapFrame. */
const paint_times_kept = 64;

export class HeatmapPanel {
  readonly frame: HeatmapFrame = {
    painted_columns: 0, full_repaint: false, painted_total: 0, full_repaints: 0, layout_version: -1, size_top: 1,
    column_px: 1, row_px: 1, plot: { x: 0, y: 0, w: 0, h: 0 },
    incremental_paint_ms: new Float64Array(paint_times_kept), incremental_paints: 0,
  };
  /** The image (device pixels); created on first draw (the DOM is needed). */
  image: HTMLCanvasElement | null = null;
  private image_ctx: CanvasRenderingContext2D | null = null;
  private drawn_count = 0;
  private size_top = 1;
  private repaint_wanted = true;

  /** `view` formats prices and sizes (the instrument's decimals). */
  draw(ctx: CanvasRenderingContext2D, model: HeatmapModel, view: BookHandle, x: number, y: number, w: number, h: number, dpr: number,
    pointer: { x: number; y: number } | null, window_s: number): void {
    panel(ctx, x, y, w, h);
    title(ctx, 'LIQUIDITY HEATMAP', x + 12, y + 15);
    note_right(ctx, `last ${window_s >= 120 ? `${Math.round(window_s / 60)} min` : `${Math.round(window_s)} s`} · size, log scale`, x + w - 12, y + 15);
    const plot = this.frame.plot;
    plot.x = x + 8;
    plot.y = y + top_h;
    plot.w = Math.max(1, w - 16 - axis_w);
    plot.h = Math.max(1, h - top_h - bottom_h);
    const px_w = Math.max(1, Math.round(plot.w * dpr));
    const px_h = Math.max(1, Math.round(plot.h * dpr));
    if (this.image === null || this.image.width !== px_w || this.image.height !== px_h) {
      this.image ??= document.createElement('canvas');
      this.image.width = px_w;
      this.image.height = px_h;
      this.image_ctx = this.image.getContext('2d', { alpha: false });
      this.repaint_wanted = true;
    }
    const started_ms = performance.now();
    this.paint(model, px_w, px_h);
    if (!this.frame.full_repaint && this.frame.painted_columns > 0) {
      this.frame.incremental_paint_ms[this.frame.incremental_paints++ % paint_times_kept] = performance.now() - started_ms;
    }
    ctx.drawImage(this.image, plot.x, plot.y, plot.w, plot.h);
    this.draw_axis(ctx, model, view, x + w - 8 - axis_w, plot.y, plot.h, plot.x, plot.w, window_s);
    if (pointer !== null) this.draw_crosshair(ctx, model, view, pointer, dpr);
  }

  private paint(model: HeatmapModel, px_w: number, px_h: number): void {
    const c = this.image_ctx!;
    const f = this.frame;
    const column_px = Math.max(1, Math.floor(px_w / model.columns));
    const fresh = model.count - this.drawn_count;
    const full = this.repaint_wanted || f.layout_version !== model.layout_version || fresh >= model.columns || fresh < 0
      || f.column_px !== column_px;
    f.column_px = column_px;
    f.row_px = px_h / model.rows;
    f.full_repaint = full;
    if (full) {
      this.size_top = this.largest(model, Math.min(model.count, model.columns)) * 1.25;
      c.fillStyle = theme.bg;
      c.fillRect(0, 0, px_w, px_h);
      f.full_repaints++;
    } else if (fresh > 0) {
      c.globalCompositeOperation = 'copy';
      c.drawImage(this.image!, -fresh * column_px, 0);
      c.globalCompositeOperation = 'source-over';
    }
    const columns = full ? Math.min(model.count, model.columns) : fresh;
    for (let age = columns - 1; age >= 0; age--) this.paint_column(c, model, age, px_w - (age + 1) * column_px, column_px, px_h);
    // A new column far above the scale: everything again next time, on a scale that fits.
    if (!full && columns > 0 && this.largest(model, columns) > 2 * this.size_top) this.repaint_wanted = true;
    else if (full) this.repaint_wanted = false;
    f.painted_columns = columns;
    f.painted_total += columns;
    f.layout_version = model.layout_version;
    f.size_top = this.size_top;
    this.drawn_count = model.count;
  }

  private largest(model: HeatmapModel, newest: number): number {
    let top = 1;
    for (let age = 0; age < newest; age++) {
      const s = model.slot(age);
      for (let r = 0; r < model.rows; r++) if (model.cell(s, r) > top) top = model.cell(s, r);
    }
    return top;
  }

  private paint_column(c: CanvasRenderingContext2D, model: HeatmapModel, age: number, cx: number, cw: number, px_h: number): void {
    const slot = model.slot(age);
    const row_px = px_h / model.rows;
    for (let r = 0; r < model.rows; r++) {
      const y0 = Math.round(px_h - (r + 1) * row_px);
      const size = model.cell(slot, r);
      c.fillStyle = size > 0 ? viridis_css[scale_index(size, this.size_top)] : empty_cell_css;
      c.fillRect(cx, y0, cw, Math.round(px_h - r * row_px) - y0);
    }
    const line_px = Math.max(1, Math.round(row_px / 4));
    for (const [best, colour] of [[model.best_bid[slot], theme.bid_text], [model.best_ask[slot], theme.ask_text]] as const) {
      if (Number.isNaN(best)) continue;
      const r = (best - model.price_lo) / model.ticks_per_row + 0.5;
      c.fillStyle = colour;
      c.fillRect(cx, Math.round(px_h - r * row_px - line_px / 2), cw, line_px);
    }
    const n = model.trade_counts[slot];
    const at = slot * trades_per_column_max * 3;
    for (let i = 0; i < n; i++) {
      const price = model.trades[at + i * 3];
      const size = model.trades[at + i * 3 + 1];
      const side = model.trades[at + i * 3 + 2];
      const r = (price - model.price_lo) / model.ticks_per_row + 0.5;
      // Small: a print's size shows as a little more radius, never hiding the liquidity under it.
      const radius = Math.min(row_px * 0.9, 1.2 + Math.log10(1 + size));
      c.fillStyle = side === side_bid ? theme.bid_text : theme.ask_text;
      c.beginPath();
      c.arc(cx + cw / 2, px_h - r * row_px, radius, 0, Math.PI * 2);
      c.fill();
    }
  }

  private draw_axis(ctx: CanvasRenderingContext2D, model: HeatmapModel, view: BookHandle, ax: number, py: number, ph: number, px: number, pw: number, window_s: number): void {
    ctx.font = `10px ${mono_font}`;
    ctx.fillStyle = theme.dim;
    ctx.textAlign = 'left';
    if (model.ticks_per_row > 0) {
      const labels = 6;
      for (let i = 0; i <= labels; i++) {
        const r = Math.round((i / labels) * (model.rows - 1));
        ctx.fillText(view.format_price(model.price_lo + r * model.ticks_per_row), ax + 6, py + ph - ((r + 0.5) / model.rows) * ph);
      }
    }
    ctx.textAlign = 'right';
    ctx.fillText('now', px + pw, py + ph + 10);
    ctx.textAlign = 'left';
    ctx.fillText(`-${Math.round(window_s)} s`, px, py + ph + 10);
    hline(ctx, px, px + pw, py + ph, theme.header_rule);
  }

  private draw_crosshair(ctx: CanvasRenderingContext2D, model: HeatmapModel, view: BookHandle, p: { x: number; y: number }, dpr: number): void {
    const { plot, column_px } = this.frame;
    if (p.x < plot.x || p.x >= plot.x + plot.w || p.y < plot.y || p.y >= plot.y + plot.h || model.ticks_per_row === 0) return;
    const age = Math.floor((plot.x + plot.w - p.x) * dpr / column_px);
    const row = Math.floor((plot.y + plot.h - p.y) / plot.h * model.rows);
    ctx.fillStyle = 'rgba(255,255,255,0.35)';
    ctx.fillRect(plot.x, Math.round(p.y), plot.w, 1);
    ctx.fillRect(Math.round(p.x), plot.y, 1, plot.h);
    const slot = model.slot(age);
    if (slot < 0) return;
    const lo = model.price_lo + row * model.ticks_per_row;
    const price = model.ticks_per_row === 1 ? view.format_price(lo) : `${view.format_price(lo)}..${view.format_price(lo + model.ticks_per_row - 1)}`;
    const lines = [new Date(model.time_ms[slot]).toISOString().slice(11, 23), `price ${price}`, `size ${view.format_size(model.cell(slot, row))}`];
    ctx.font = `11px ${mono_font}`;
    const bw = Math.max(...lines.map((l) => ctx.measureText(l).width)) + 16;
    const bh = lines.length * 15 + 8;
    const bx = p.x + 12 + bw > plot.x + plot.w ? p.x - 12 - bw : p.x + 12;
    const by = Math.min(p.y + 12, plot.y + plot.h - bh);
    outlined_box(ctx, bx, by, bw, bh, 4, theme.panel, theme.panel_edge);
    ctx.fillStyle = theme.text;
    ctx.textAlign = 'left';
    lines.forEach((l, i) => ctx.fillText(l, bx + 8, by + 12 + i * 15));
  }
}
