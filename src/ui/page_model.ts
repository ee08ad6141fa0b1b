// What the page shows, kept up to date by SDK events at O(1) per event and
// read by the renderer once per animation frame. The SDK keeps the books;
// this keeps only what the SDK does not: the trade tape of the shown symbol,
// the last trade per symbol, the conflation marker, and rates per second.
import { side_ask, side_bid, type BookHandle, type FeedClient, type Side, type TradeAggregateRec, type TradeIdRange, type TradeRec, type UpdateInfo } from 'depthcast/client';
import type { HopHistograms } from 'depthcast/client/latency';
import { HeatmapModel } from './heatmap_model.js';
import { TradeTape } from './trade_tape.js';

export interface PageSelection {
  symbol: string;
  /** 10, 50 or 0 (full book). */
  depth: number;
  /** 0 streams every update; more asks the feed for conflated updates at most once per interval. */
  interval_ms: number;
  /** Price bucket in ticks: 1 = the book as it is, more = levels grouped (docs/PROTOCOL.md §3). */
  group: number;
}

/** A symbol in the markets list: its ticker view (null while it is the shown one) and its last trade. */
export interface MarketRow {
  symbol: string;
  ticker: BookHandle | null;
  last_price: number;       // ticks; NaN before the first trade
  last_aggressor: Side;     // side_bid: a buy, side_ask: a sell
}

/** How long the conflation marker stays up after the last conflated frame. */
export const conflation_marker_ms = 1500;
/** Seconds of latency history the sparkline shows. */
export const latency_history_windows = 60;
export const trade_tape_capacity = 256;
/** Symbols whose tops are streamed for the markets list (each is a depth-10 view). */
export const market_tickers_max = 24;
const ticker_depth = 10;
/** The liquidity heatmap: columns kept (its time axis) and price buckets (240 × 64 = 15,360 cells). */
export const heatmap_columns = 240;
export const heatmap_rows = 64;

export class PageModel {
  readonly tape = new TradeTape(trade_tape_capacity);
  /** The shown symbol's liquidity over time: sampled by the page's timer (sample_heatmap), reset with the selection. */
  readonly heatmap = new HeatmapModel(heatmap_columns, heatmap_rows);
  readonly markets: MarketRow[];
  readonly stats: LiveStats;
  selection: PageSelection;
  view: BookHandle;
  /** performance.now() of the last conflated frame of the shown view (-Infinity: none yet). */
  conflated_at_ms = Number.NEGATIVE_INFINITY;
  /** updates_merged of that frame. */
  conflated_merged = 0;
  /** Conflated frames of the shown view since it was selected. */
  conflated_frames = 0;
  /** Frames of the shown view since it was selected. */
  view_frames = 0;
  /** The last error the SDK reported (shown in the feed panel), and when (performance.now()). */
  last_error = '';
  last_error_at_ms = Number.NEGATIVE_INFINITY;
  /** Round trip from the last Ping (ns), NaN before one. */
  rtt_ns = Number.NaN;

  private readonly market_by_symbol = new Map<string, MarketRow>();

  /** `hops`: the histograms the client was connected with (options.hops), for the latency panel. */
  constructor(readonly client: FeedClient, hops: HopHistograms, readonly symbols: readonly string[], selection: PageSelection, private readonly changed: () => void) {
    this.stats = new LiveStats(client, hops);
    this.markets = symbols.slice(0, market_tickers_max).map((symbol) => ({ symbol, ticker: null, last_price: Number.NaN, last_aggressor: side_bid }));
    for (const row of this.markets) this.market_by_symbol.set(row.symbol, row);
    client.on('update', this.changed);
    client.on('state', this.changed);
    client.on('book_state', this.changed);
    client.on('error', (err) => {
      this.last_error = err.message;
      this.last_error_at_ms = performance.now();
      this.changed();
    });
    this.selection = { ...selection };
    this.view = this.open_view(this.selection);
    for (const row of this.markets) if (row.symbol !== selection.symbol) this.open_ticker(row);
  }

  /** Shows another symbol, depth, update interval or grouping; the old view is unsubscribed, never reused. */
  select(next: PageSelection): void {
    const previous = this.selection;
    if (next.symbol === previous.symbol && next.depth === previous.depth && next.interval_ms === previous.interval_ms && next.group === previous.group) return;
    this.close_view(this.view);
    const previous_row = this.market_by_symbol.get(previous.symbol);
    if (previous_row && previous.symbol !== next.symbol) this.open_ticker(previous_row);
    const next_row = this.market_by_symbol.get(next.symbol);
    // The shown view streams the same top of book: one view of the symbol is enough.
    if (next_row) this.close_ticker(next_row);
    this.selection = { ...next };
    this.view = this.open_view(this.selection);
    this.changed();
  }

  /** The market row of a symbol, if it is in the list. */
  market(symbol: string): MarketRow | undefined {
    return this.market_by_symbol.get(symbol);
  }

  /** One heatmap column: the shown view now (an empty column while it is not synced), the trades since the last. */
  sample_heatmap(now_ms: number): void {
    this.heatmap.sample(this.view.state === 'synced' ? this.view : null, now_ms);
  }

  /** True while the conflation marker should show. */
  conflation_marker_on(now_ms: number): boolean {
    return now_ms - this.conflated_at_ms < conflation_marker_ms;
  }

  private open_view(sel: PageSelection): BookHandle {
    const view = this.client.subscribe(sel.symbol, { depth: sel.depth, interval_ms: sel.interval_ms, group: sel.group });
    this.tape.clear();
    this.heatmap.reset();
    this.conflated_at_ms = Number.NEGATIVE_INFINITY;
    this.conflated_merged = 0;
    this.conflated_frames = 0;
    this.view_frames = 0;
    view.on('update', this.on_view_update);
    view.on('trade', this.on_view_trade);
    view.on('trade_aggregate', this.on_view_aggregate);
    view.on('trades_missing', this.on_view_missing);
    return view;
  }

  private close_view(view: BookHandle): void {
    view.off('update', this.on_view_update);
    view.off('trade', this.on_view_trade);
    view.off('trade_aggregate', this.on_view_aggregate);
    view.off('trades_missing', this.on_view_missing);
    this.client.unsubscribe(view);
  }

  private open_ticker(row: MarketRow): void {
    if (row.ticker !== null) return;
    const ticker = this.client.subscribe(row.symbol, { depth: ticker_depth, interval_ms: 0 });
    ticker.on('trade', (t: TradeRec) => {
      row.last_price = t.price;
      row.last_aggressor = t.aggressor;
    });
    ticker.on('trade_aggregate', (a: TradeAggregateRec) => {
      row.last_price = a.last;
    });
    row.ticker = ticker;
  }

  private close_ticker(row: MarketRow): void {
    if (row.ticker === null) return;
    this.client.unsubscribe(row.ticker);
    row.ticker = null;
  }

  // Per-frame listeners: constant work, no allocation; nothing waits for a paint.
  private readonly on_view_update = (info: UpdateInfo): void => {
    this.view_frames++;
    if (info.conflated) {
      this.conflated_frames++;
      this.conflated_merged = info.updates_merged;
      this.conflated_at_ms = performance.now();
    }
  };

  private readonly on_view_trade = (t: TradeRec): void => {
    this.tape.push_trade(t);
    this.heatmap.add_trade(t.price, t.size, t.aggressor);
    const row = this.market_by_symbol.get(this.selection.symbol);
    if (row) {
      row.last_price = t.price;
      row.last_aggressor = t.aggressor;
    }
  };

  private readonly on_view_aggregate = (a: TradeAggregateRec): void => {
    this.tape.push_aggregate(a);
    // Folded trades: one mark at the last price, the whole volume, the majority's side.
    this.heatmap.add_trade(a.last, a.volume, 2 * a.buy_volume >= a.volume ? side_bid : side_ask);
    const row = this.market_by_symbol.get(this.selection.symbol);
    if (row) row.last_price = a.last;
  };

  /** The feed rebuilt the book and never had these trades: the tape says so where they would have been. */
  private readonly on_view_missing = (range: TradeIdRange): void => {
    this.tape.push_missing(range);
  };
}

/**
 * Rates and latency percentiles over one-second windows, rolled by the
 * renderer (so a hidden page rolls nothing; the first window after it shows
 * again spans the hidden time). Latency is the SDK's engine→receive hop.
 */
export class LiveStats {
  static readonly window_ms = 1000;
  frames_per_s = Number.NaN;
  bytes_per_s = Number.NaN;
  updates_per_s = Number.NaN;
  trades_per_s = Number.NaN;
  /** Percentiles of the last window, µs; NaN when it had no samples. */
  p50_us = Number.NaN;
  p99_us = Number.NaN;
  p99_9_us = Number.NaN;
  samples = 0;
  /** Since the page loaded, µs. */
  total_p99_9_us = Number.NaN;
  total_max_us = Number.NaN;
  /** Per-window history for the sparkline: ring of latency_history_windows entries. */
  readonly history_p50 = new Float64Array(latency_history_windows).fill(Number.NaN);
  readonly history_p99 = new Float64Array(latency_history_windows).fill(Number.NaN);
  readonly history_p99_9 = new Float64Array(latency_history_windows).fill(Number.NaN);
  /** Index of the newest history entry. */
  history_head = latency_history_windows - 1;
  windows = 0;

  private window_start_ms = Number.NaN;
  private frames_at_start = 0;
  private bytes_at_start = 0;
  private updates_at_start = 0;
  private trades_at_start = 0;

  constructor(private readonly client: FeedClient, private readonly hops: HopHistograms) {}

  /** Closes the current window if it is a second old; true when it did. */
  roll_if_due(now_ms: number): boolean {
    const c = this.client.counters;
    if (Number.isNaN(this.window_start_ms)) {
      this.start_window(now_ms);
      this.hops.take_interval();
      return false;
    }
    const elapsed_ms = now_ms - this.window_start_ms;
    if (elapsed_ms < LiveStats.window_ms) return false;
    const per_s = 1000 / elapsed_ms;
    this.frames_per_s = (c.frames - this.frames_at_start) * per_s;
    this.bytes_per_s = (c.bytes - this.bytes_at_start) * per_s;
    this.updates_per_s = (c.updates_merged - this.updates_at_start) * per_s;
    this.trades_per_s = (c.trades + c.trades_folded - this.trades_at_start) * per_s;
    const window = this.hops.take_interval().percentiles('engine_to_receive');
    this.samples = window.count;
    const some = window.count > 0;
    this.p50_us = some ? window.p50 : Number.NaN;
    this.p99_us = some ? window.p99 : Number.NaN;
    this.p99_9_us = some ? window.p99_9 : Number.NaN;
    const total = this.hops.percentiles('engine_to_receive');
    this.total_p99_9_us = total.count > 0 ? total.p99_9 : Number.NaN;
    this.total_max_us = total.count > 0 ? total.max : Number.NaN;
    this.history_head = (this.history_head + 1) % latency_history_windows;
    this.history_p50[this.history_head] = this.p50_us;
    this.history_p99[this.history_head] = this.p99_us;
    this.history_p99_9[this.history_head] = this.p99_9_us;
    this.windows++;
    this.start_window(now_ms);
    return true;
  }

  private start_window(now_ms: number): void {
    const c = this.client.counters;
    this.window_start_ms = now_ms;
    this.frames_at_start = c.frames;
    this.bytes_at_start = c.bytes;
    this.updates_at_start = c.updates_merged;
    this.trades_at_start = c.trades + c.trades_folded;
  }
}
