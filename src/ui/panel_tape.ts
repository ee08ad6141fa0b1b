// The trade tape panel of the trading page: the newest trades of the shown
// symbol first (time, price, size, aggressor, a size bar), a row for each
// aggregate of trades folded while the client was conflating, and a row for
// each range of trades the feed never had (a rebuild within the epoch: they
// will never come, docs/PROTOCOL.md §5.5); the header counts those too.
//
// Cost: two passes over the shown rows (size scale, then drawing) reading the
// TradeTape ring into one reused row object: no allocation per draw but the
// header's note and the text of a missing-trades row (rare).
import { side_bid } from 'depthcast/client';
import type { PageModel } from './page_model.js';
import { format_clock_time, format_count } from './format.js';
import { new_tape_row, trade_kind } from './trade_tape.js';
import { note_right, panel, table_header, title } from './canvas/kit.js';
import { mono_font, theme } from './canvas/theme.js';

export class TapePanel {
  private readonly row = new_tape_row();
  /** The missing-trades rows of the last draw, as drawn (newest first): what a test reads of the pixels. */
  readonly missing_rows_drawn: string[] = [];
  /** The header's note as last drawn (trades since selected, and missed ones when there were). */
  note_drawn = '';

  /** Draws the tape; returns how many rows it showed. */
  draw(ctx: CanvasRenderingContext2D, model: PageModel, x: number, y: number, w: number, h: number): number {
    const view = model.view;
    const tape = model.tape;
    if (h < 60) return 0;
    panel(ctx, x, y, w, h);
    title(ctx, `TRADES · ${view.symbol}`, x + 14, y + 18);
    const missed = tape.trades_missing > 0 ? ` · ${format_count(tape.trades_missing)} missed` : '';
    this.note_drawn = `${format_count(tape.trades_seen)} since selected${missed}`;
    note_right(ctx, this.note_drawn, x + w - 14, y + 18);
    this.missing_rows_drawn.length = 0;
    const cols = [x + 14, x + w * 0.52, x + w * 0.78, x + w - 14];
    const header_y = y + 40;
    table_header(ctx, x, w, header_y, [['TIME', cols[0], 'left'], ['PRICE', cols[1], 'right'], ['SIZE', cols[2], 'right'], ['SIDE', cols[3], 'right']]);
    const row_h = 19;
    const rows = Math.max(0, Math.min(tape.length, Math.floor((y + h - 8 - (header_y + 14)) / row_h)));
    const row = this.row;
    let size_max = 1;
    for (let i = 0; i < rows; i++) if (tape.read(i, row) && row.kind === trade_kind.trade) size_max = Math.max(size_max, row.size);
    for (let i = 0; i < rows; i++) {
      if (!tape.read(i, row)) break;
      const ry = header_y + 14 + i * row_h;
      const cy = ry + row_h / 2;
      const buy = row.aggressor === side_bid;
      // Newer rows are brighter: the eye finds the latest prints first.
      ctx.globalAlpha = 1 - Math.min(0.55, i / Math.max(1, rows) * 0.55);
      if (row.kind === trade_kind.aggregate) {
        ctx.fillStyle = theme.conflated_row;
        ctx.fillRect(x + 1, ry + 1, w - 2, row_h - 2);
        ctx.textAlign = 'left';
        ctx.font = `11px ${mono_font}`;
        ctx.fillStyle = theme.conflated;
        ctx.fillText(`⋯ ${format_count(row.folded)} trades folded · vwap ${view.format_price(Math.round(row.vwap))} · vol ${view.format_size(row.size)} · last ${view.format_price(row.price)}`, cols[0], cy);
        ctx.globalAlpha = 1;
        continue;
      }
      if (row.kind === trade_kind.missing) {
        const text = missing_row_text(row.first_trade_id, row.last_trade_id);
        this.missing_rows_drawn.push(text);
        ctx.globalAlpha = 1; // a hole is as loud at any age
        ctx.fillStyle = theme.missing_row;
        ctx.fillRect(x + 1, ry + 1, w - 2, row_h - 2);
        ctx.textAlign = 'left';
        ctx.font = `11px ${mono_font}`;
        ctx.fillStyle = theme.bad;
        ctx.fillText(text, cols[0], cy);
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
    if (rows === 0) {
      ctx.textAlign = 'center';
      ctx.font = `11px ${mono_font}`;
      ctx.fillStyle = theme.faint;
      ctx.fillText('waiting for trades…', x + w / 2, header_y + 40);
    }
    return rows;
  }
}

/** A missing-trades row: how many, which ids, and that they will not come (the feed rebuilt the book without them). */
export function missing_row_text(first_trade_id: number, last_trade_id: number): string {
  const n = last_trade_id - first_trade_id + 1;
  const ids = n === 1 ? `id ${first_trade_id}` : `ids ${first_trade_id}–${last_trade_id}`;
  return `✕ ${format_count(n)} trade${n === 1 ? '' : 's'} missed · ${ids} · never reached the feed`;
}
