// The markets panel of the trading page: one row per instrument with its
// view state, best bid, best ask and last trade; the selected symbol reads the
// shown view, the others their depth-10 ticker view.
//
// Cost: `rows` rows of a fixed number of canvas calls; best prices are read in
// place from the SDK's books (no level arrays).
import { side_bid } from 'depthcast/client';
import type { PageModel } from './page_model.js';
import { dot, panel, table_header, title } from './canvas/kit.js';
import { mono_font, state_colors, theme } from './canvas/theme.js';

/** Height of the panel with `rows` rows. */
export function markets_panel_h(rows: number): number {
  return 62 + rows * 22;
}

export function draw_markets_panel(ctx: CanvasRenderingContext2D, model: PageModel, x: number, y: number, w: number, h: number, rows: number): void {
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
      ctx.fillStyle = theme.selected_row;
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
    ctx.fillStyle = Number.isNaN(row.last_price) ? theme.faint : row.last_aggressor === side_bid ? theme.bid_text : theme.ask_text;
    ctx.fillText(Number.isNaN(row.last_price) ? '—' : book.format_price(row.last_price), cols[4], cy);
  }
}
