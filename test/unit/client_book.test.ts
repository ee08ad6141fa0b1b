import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ClientBook } from '../../src/client/book.js';
import { DecimalFormat } from '../../src/client/decimal_format.js';
import { digest_of } from '../../src/book/digest.js';
import { side_ask, side_bid, type L2Level } from '../../src/book/types.js';

function snapshot(bids: L2Level[], asks: L2Level[], over: Partial<{ epoch: number; seq: number; digest: number }> = {}) {
  return {
    epoch: 1, seq: 10, digest: digest_of(bids, asks), tick_size: '0.01', lot_size: '0.001', price_decimals: 2, size_decimals: 3,
    bids, asks, ...over,
  };
}

const lv = (price: number, size: number, orders = 1): L2Level => ({ price, size, orders });

describe('ClientBook', () => {
  it('loads a snapshot best first and answers best, mid, spread', () => {
    const b = new ClientBook('BTC-USD', 10);
    expect(b.load_snapshot(snapshot([lv(100, 5), lv(99, 7, 2)], [lv(102, 1), lv(105, 3)]))).toBe('ok');
    expect(b.bids).toEqual([lv(100, 5), lv(99, 7, 2)]);
    expect(b.asks).toEqual([lv(102, 1), lv(105, 3)]);
    expect([b.best_bid_price(), b.best_ask_price(), b.mid(), b.spread()]).toEqual([100, 102, 101, 2]);
    expect(b.best_ask()).toEqual(lv(102, 1));
    expect(b.format_price(12345)).toBe('123.45');
    expect(b.format_size(1500)).toBe('1.500');
  });

  it('applies deltas with an incrementally kept digest equal to a from-scratch one (random streams)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ side: fc.constantFrom(side_bid, side_ask), price: fc.integer({ min: 1, max: 40 }), size: fc.integer({ min: 0, max: 5 }) }), { maxLength: 200 }),
      (changes) => {
        const b = new ClientBook('X', 0);
        const model = [new Map<number, number>(), new Map<number, number>()];
        expect(b.load_snapshot(snapshot([], []))).toBe('ok');
        let seq = 10;
        for (const ch of changes) {
          // Keep the model uncrossed: bids at or below 20, asks above 20.
          const price = ch.side === side_bid ? ch.price % 20 + 1 : 21 + (ch.price % 20);
          if (ch.size === 0) model[ch.side].delete(price); else model[ch.side].set(price, ch.size);
          const levels = (side: number) => [...model[side]].map(([p, s]) => lv(p, s));
          const digest = digest_of(levels(0), levels(1));
          const l = [lv(price, ch.size, ch.size === 0 ? 0 : 1)];
          seq++;
          const v = b.apply_delta({ epoch: 1, seq_first: seq, seq, digest, bids: ch.side === side_bid ? l : [], asks: ch.side === side_ask ? l : [] });
          expect(v).toBe('ok');
          expect(b.digest_from_scratch()).toBe(b.digest);
        }
        const sorted = (side: number, dir: number) => [...model[side]].sort((x, y) => dir * (x[0] - y[0])).map(([p, s]) => lv(p, s));
        expect(b.bids).toEqual(sorted(0, -1));
        expect(b.asks).toEqual(sorted(1, 1));
      }), { seed: 7, numRuns: 60 });
  });

  it('tells duplicates, range breaks, epoch changes, digest mismatches and crossed books apart', () => {
    const b = new ClientBook('X', 10);
    b.load_snapshot(snapshot([lv(100, 5)], [lv(102, 1)]));
    const next = (over: object) => ({ epoch: 1, seq_first: 11, seq: 11, digest: digest_of([lv(100, 6)], [lv(102, 1)]), bids: [lv(100, 6)], asks: [], ...over });
    expect(b.apply_delta(next({ seq_first: 9, seq: 10 }))).toBe('duplicate');
    expect(b.has_snapshot).toBe(true);
    expect(b.apply_delta(next({ epoch: 2 }))).toBe('epoch_change');
    b.load_snapshot(snapshot([lv(100, 5)], [lv(102, 1)]));
    expect(b.apply_delta(next({ seq_first: 12, seq: 12 }))).toBe('range_break');
    b.load_snapshot(snapshot([lv(100, 5)], [lv(102, 1)]));
    expect(b.apply_delta(next({ seq_first: 10, seq: 11 }))).toBe('range_break'); // overlap
    b.load_snapshot(snapshot([lv(100, 5)], [lv(102, 1)]));
    expect(b.apply_delta(next({ digest: 1 }))).toBe('digest_mismatch');
    expect(b.last_problem).toMatch(/digest/);
    b.load_snapshot(snapshot([lv(100, 5)], [lv(102, 1)]));
    expect(b.apply_delta(next({}))).toBe('ok');
    const crossing = [lv(103, 1)];
    expect(b.apply_delta({ epoch: 1, seq_first: 12, seq: 12, digest: digest_of([lv(103, 1), lv(100, 6)], [lv(102, 1)]), bids: crossing, asks: [] })).toBe('crossed');
    expect(b.has_snapshot).toBe(false);
    expect(b.apply_delta(next({ seq_first: 13, seq: 13 }))).toBe('range_break'); // nothing applies until a snapshot
  });

  it('a snapshot replaces the content, never merges, and is itself verified', () => {
    const b = new ClientBook('X', 2);
    b.load_snapshot(snapshot([lv(100, 5), lv(99, 1)], [lv(102, 1)]));
    expect(b.load_snapshot(snapshot([lv(90, 1)], [lv(95, 2)], { epoch: 2, seq: 1 }))).toBe('ok');
    expect(b.bids).toEqual([lv(90, 1)]);
    expect(b.asks).toEqual([lv(95, 2)]);
    expect([b.epoch, b.seq]).toEqual([2, 1]);
    expect(b.load_snapshot(snapshot([lv(99, 1), lv(100, 1)], []))).toBe('invalid');       // not best first
    expect(b.load_snapshot(snapshot([lv(100, 1), lv(99, 1), lv(98, 1)], []))).toBe('invalid'); // deeper than 2
    expect(b.load_snapshot(snapshot([lv(100, 1)], [lv(100, 1)]))).toBe('crossed');
    expect(b.load_snapshot(snapshot([lv(100, 1)], [], { digest: 12345 }))).toBe('digest_mismatch');
    expect(b.bids).toEqual([]); // a failed snapshot is not shown as a book
    expect(b.has_snapshot).toBe(false);
  });

  it('counts removals of levels it never held, and refuses a view deeper than its depth', () => {
    const b = new ClientBook('X', 1);
    b.load_snapshot(snapshot([lv(100, 5)], [lv(102, 1)]));
    expect(b.apply_delta({ epoch: 1, seq_first: 11, seq: 11, digest: digest_of([lv(100, 5)], [lv(102, 1)]), bids: [lv(97, 0, 0)], asks: [] })).toBe('ok');
    expect(b.unknown_level_removals).toBe(1);
    expect(b.apply_delta({ epoch: 1, seq_first: 12, seq: 12, digest: 0, bids: [lv(99, 1)], asks: [] })).toBe('invalid');
  });
});

describe('DecimalFormat', () => {
  it('multiplies exactly and shows the given decimals', () => {
    expect(new DecimalFormat('0.01', 2).format(12345)).toBe('123.45');
    expect(new DecimalFormat('0.1', 2).format(3)).toBe('0.30');
    expect(new DecimalFormat('0.5', 1).format(3)).toBe('1.5');
    expect(new DecimalFormat('25', 0).format(4)).toBe('100');
    expect(new DecimalFormat('0.001', 2).format(1235)).toBe('1.24');
    expect(new DecimalFormat('0.01', 2).format(-5)).toBe('-0.05');
    expect(new DecimalFormat('garbage', 0).format(7)).toBe('7');
  });
});
