// The page's pure parts, without a browser: the draw scheduler's promise (one
// draw per animation frame, nothing while hidden, one catch-up draw), the
// bounded trade tape, and the text formats (a mid on half a tick, latencies).
import { describe, expect, it } from 'vitest';
import { DecimalFormat } from '../../src/client/index.js';
import { DrawScheduler, type FrameHost } from '../../src/ui/draw_scheduler.js';
import { format_clock_time, format_latency_us, half_of_decimal, MidFormat } from '../../src/ui/format.js';
import { new_tape_row, trade_kind, TradeTape } from '../../src/ui/trade_tape.js';
import { missing_row_text } from '../../src/ui/panel_tape.js';

/** A browser stand-in: frames run when the test says, visibility is a flag. */
class FakeHost implements FrameHost {
  hidden = false;
  queued: ((frame_ms: number) => void)[] = [];
  private listeners: (() => void)[] = [];
  request_frame(callback: (frame_ms: number) => void): void {
    this.queued.push(callback);
  }
  on_visibility_change(listener: () => void): void {
    this.listeners.push(listener);
  }
  set_hidden(hidden: boolean): void {
    this.hidden = hidden;
    for (const l of this.listeners) l();
  }
  /** Runs the frame callbacks queued so far, like one animation frame. */
  run_frame(frame_ms: number): void {
    const callbacks = this.queued;
    this.queued = [];
    for (const cb of callbacks) cb(frame_ms);
  }
}

describe('DrawScheduler', () => {
  it('draws once per animation frame however many updates arrive', () => {
    const host = new FakeHost();
    const drawn: number[] = [];
    const scheduler = new DrawScheduler(host, (t) => drawn.push(t));
    for (let i = 0; i < 1000; i++) scheduler.request();
    expect(host.queued.length).toBe(1);
    host.run_frame(16);
    expect(drawn).toEqual([16]);
    expect(scheduler.is_pending).toBe(false);
    host.run_frame(32);
    expect(drawn).toEqual([16]); // nothing changed, nothing drawn
    scheduler.request();
    host.run_frame(48);
    expect(drawn).toEqual([16, 48]);
  });

  it('asks for no frame while hidden, and one draw catches up when shown', () => {
    const host = new FakeHost();
    let draws = 0;
    const scheduler = new DrawScheduler(host, () => { draws++; });
    host.set_hidden(true);
    for (let i = 0; i < 500; i++) scheduler.request();
    expect(host.queued.length).toBe(0);
    expect(scheduler.hidden_requests).toBe(500);
    host.set_hidden(false);
    expect(host.queued.length).toBe(1);
    host.run_frame(100);
    expect(draws).toBe(1);
  });

  it('skips a frame that runs after the page went hidden, and draws again on return', () => {
    const host = new FakeHost();
    let draws = 0;
    const scheduler = new DrawScheduler(host, () => { draws++; });
    scheduler.request();
    host.hidden = true; // hidden without the event yet: the frame must not draw
    host.run_frame(16);
    expect(draws).toBe(0);
    expect(scheduler.hidden_frames_skipped).toBe(1);
    host.set_hidden(false);
    host.run_frame(32);
    expect(draws).toBe(1);
  });
});

describe('TradeTape', () => {
  it('keeps the newest trades up to its capacity, newest first', () => {
    const tape = new TradeTape(4);
    for (let i = 1; i <= 10; i++) tape.push_trade({ trade_id: i, price: 100 + i, size: i, ts_engine_ns: i * 1e6, aggressor: i % 2 === 0 ? 0 : 1 });
    expect(tape.length).toBe(4);
    expect(tape.trades_seen).toBe(10);
    const row = new_tape_row();
    const prices: number[] = [];
    for (let age = 0; tape.read(age, row); age++) prices.push(row.price);
    expect(prices).toEqual([110, 109, 108, 107]);
    expect(tape.read(4, row)).toBe(false);
  });

  it('keeps aggregates as one row that counts every folded trade', () => {
    const tape = new TradeTape(8);
    tape.push_aggregate({ count: 37, first_trade_id: 1, last_trade_id: 37, volume: 500, vwap: 101.5, high: 103, low: 100, last: 102, buy_volume: 100 });
    const row = new_tape_row();
    expect(tape.read(0, row)).toBe(true);
    expect(row.kind).toBe(trade_kind.aggregate);
    expect(row.folded).toBe(37);
    expect(row.price).toBe(102);
    expect(row.aggressor).toBe(1); // most volume sold
    expect(tape.trades_seen).toBe(37);
    tape.clear();
    expect(tape.length).toBe(0);
    expect(() => new TradeTape(0)).toThrow(RangeError);
  });

  it('keeps trades the feed never had as one row where the hole is, counted apart from trades seen', () => {
    const tape = new TradeTape(8);
    tape.push_trade({ trade_id: 34, price: 100, size: 1, ts_engine_ns: 1, aggressor: 0 });
    tape.push_missing({ first_trade_id: 35, last_trade_id: 54 });
    tape.push_trade({ trade_id: 55, price: 101, size: 2, ts_engine_ns: 2, aggressor: 1 });
    const row = new_tape_row();
    const kinds: string[] = [];
    for (let age = 0; tape.read(age, row); age++) kinds.push(row.kind === trade_kind.missing ? `missing ${row.first_trade_id}-${row.last_trade_id}` : `trade ${row.price}`);
    expect(kinds).toEqual(['trade 101', 'missing 35-54', 'trade 100']);
    expect([tape.trades_seen, tape.trades_missing]).toEqual([2, 20]);
    expect(missing_row_text(35, 54)).toBe('✕ 20 trades missed · ids 35–54 · never reached the feed');
    expect(missing_row_text(7, 7)).toBe('✕ 1 trade missed · id 7 · never reached the feed');
    tape.clear();
    expect([tape.length, tape.trades_missing]).toEqual([0, 0]);
  });
});

describe('page formats', () => {
  it('halves decimal steps exactly', () => {
    expect(half_of_decimal('0.01')).toBe('0.005');
    expect(half_of_decimal('1')).toBe('0.5');
    expect(half_of_decimal('0.25')).toBe('0.125');
    expect(half_of_decimal('0.0001')).toBe('0.00005');
    expect(half_of_decimal('5')).toBe('2.5');
  });

  it('shows a mid on a tick with the instrument decimals, and between ticks with one more', () => {
    const instrument = { tick_size: '0.01', lot_size: '0.0001', price_decimals: 2, size_decimals: 4 };
    const price = new DecimalFormat('0.01', 2);
    const mid = new MidFormat();
    const fmt = (t: number) => price.format(t);
    expect(mid.format(6_500_028, instrument, fmt)).toBe('65000.28');
    expect(mid.format(6_500_028.5, instrument, fmt)).toBe('65000.285');
    const xrp = { tick_size: '0.0001', lot_size: '1', price_decimals: 4, size_decimals: 0 };
    expect(mid.format(5_499.5, xrp, (t) => new DecimalFormat('0.0001', 4).format(t))).toBe('0.54995');
  });

  it('formats latencies and clock times', () => {
    expect(format_latency_us(Number.NaN)).toBe('—');
    expect(format_latency_us(412)).toBe('412 µs');
    expect(format_latency_us(3780)).toBe('3.78 ms');
    expect(format_latency_us(17_500)).toBe('17.5 ms');
    expect(format_latency_us(2_500_000)).toBe('2.50 s');
    expect(format_clock_time(0)).toBe('--:--:--.---');
    expect(format_clock_time(Date.UTC(2025, 0, 1, 12, 34, 56, 789) * 1e6)).toMatch(/^\d\d:\d\d:56\.789$/);
  });
});
