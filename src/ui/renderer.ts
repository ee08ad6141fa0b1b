// Draws the whole page body on one canvas from the latest state: the ladder
// of the shown view, the feed panel (connection, latency, rates), the markets
// list and the trade tape, and below them (on a tall enough page) the depth
// chart and the liquidity heatmap. Called by DrawScheduler at most once per animation
// frame; reads the SDK's book in place (level_at, no arrays per version).
//
// This file owns the canvas (size, device pixel ratio) and the layout; each
// panel draws itself (panel_ladder.ts, panel_feed.ts, panel_markets.ts,
// panel_tape.ts, panel_depth_chart.ts, panel_heatmap.ts) with the kit in
// canvas/ (kit.ts, theme.ts, colour_scale.ts).
//
// Cost: one full redraw per call (the panels' costs); nothing is kept between
// draws but the panels' reusable pools and the heatmap's image, which only
// gets its new columns (panel_heatmap.ts).
import type { PageModel } from './page_model.js';
import { theme } from './canvas/theme.js';
import { draw_feed_panel } from './panel_feed.js';
import { ladder_panel_h_for, LadderPanel, type RenderedFrame } from './panel_ladder.js';
import { DepthChartPanel } from './panel_depth_chart.js';
import { HeatmapPanel } from './panel_heatmap.js';
import { draw_markets_panel, markets_panel_h } from './panel_markets.js';
import { TapePanel } from './panel_tape.js';

export type { RenderedFrame, RenderedLevel } from './panel_ladder.js';

const pad = 12;
const right_column_w_min = 300;
/** Below this canvas width the ladder takes the whole width and the right column is not drawn. */
const two_columns_w_min = 760;
const feed_panel_h = 196;
const markets_rows_max = 8;
/** The depth chart and the heatmap get at most charts_h_max, and are not drawn below charts_h_min. */
const charts_h_min = 200;
const charts_h_max = 340;
/** Ladder rows per side the charts never take the room of (a depth-10 view stays whole). */
const ladder_rows_kept = 10;

export class Renderer {
  private readonly ctx: CanvasRenderingContext2D;
  private css_w = 0;
  private css_h = 0;
  private dpr = 1;
  private readonly ladder = new LadderPanel();
  private readonly tape = new TapePanel();
  readonly depth_chart = new DepthChartPanel();
  readonly heatmap = new HeatmapPanel();
  /** The mouse over the canvas (CSS px), for the heatmap's crosshair; null when away. */
  pointer: { x: number; y: number } | null = null;
  /** The heatmap's time span (s), for its labels. */
  heatmap_window_s = 120;
  /** Whether the last draw had room for the charts. */
  charts_drawn = false;

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
    if (!this.ladder.has_frame) return null;
    const f = this.ladder.frame;
    return { ...f, bids: f.bids.map((l) => ({ ...l })), asks: f.asks.map((l) => ({ ...l })), tape_missing_rows: [...f.tape_missing_rows] };
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
    const charts_h = Math.min(charts_h_max, this.css_h - 3 * pad - ladder_panel_h_for(ladder_rows_kept));
    this.charts_drawn = charts_h >= charts_h_min;
    // The panels above keep their layout in the height the charts leave.
    const H = this.css_h - (this.charts_drawn ? charts_h + pad : 0);
    const two_columns = W >= two_columns_w_min;
    const ladder_w = two_columns ? Math.max(420, Math.floor((W - 3 * pad) * 0.56)) : W - 2 * pad;
    const right_x = pad + ladder_w + pad;
    const right_w = W - right_x - pad;
    this.ladder.draw(ctx, model, pad, pad, ladder_w, H - 2 * pad, frame_ms, draw_index);
    if (two_columns && right_w >= right_column_w_min) {
      const markets_rows = Math.min(model.markets.length, markets_rows_max);
      const markets_h = markets_panel_h(markets_rows);
      draw_feed_panel(ctx, model, right_x, pad, right_w, feed_panel_h, frame_ms);
      draw_markets_panel(ctx, model, right_x, pad + feed_panel_h + pad, right_w, markets_h, markets_rows);
      const tape_y = pad + feed_panel_h + pad + markets_h + pad;
      this.ladder.frame.trades_shown = this.tape.draw(ctx, model, right_x, tape_y, right_w, H - pad - tape_y);
      this.ladder.frame.tape_missing_rows = this.tape.missing_rows_drawn;
      this.ladder.frame.tape_note = this.tape.note_drawn;
    }
    if (this.charts_drawn) {
      const charts_y = H;
      const depth_w = Math.floor((W - 3 * pad) * 0.34);
      this.depth_chart.draw(ctx, model.view, pad, charts_y, depth_w, charts_h);
      this.heatmap.draw(ctx, model.heatmap, model.view, 2 * pad + depth_w, charts_y, W - 3 * pad - depth_w, charts_h, this.dpr, this.pointer, this.heatmap_window_s);
    }
  }
}
