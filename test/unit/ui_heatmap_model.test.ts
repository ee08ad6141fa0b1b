// The heatmap's model (src/ui/heatmap_model.ts), pure: a column is the book
// bucketed by price; the layout holds while the mid stays in the middle half
// and re-centres by whole rows (kept columns shifted with it) when it leaves;
// the ring keeps the newest `columns`; trades beyond the per-column cap keep
// the largest; the colour scale is monotone and empty is not a colour of it.
import { describe, expect, it } from 'vitest';
import type { L2Level, Side } from '../../src/book/types.js';
import { scale_index, scale_steps } from '../../src/ui/canvas/colour_scale.js';
import { HeatmapModel, trades_per_column_max, type LevelSource } from '../../src/ui/heatmap_model.js';

function book(bids: [number, number][], asks: [number, number][], version = 1): LevelSource {
  const sides = [bids, asks];
  return {
    version,
    level_count: (side: Side) => sides[side].length,
    level_at: (side: Side, rank: number, out: L2Level) => {
      const l = sides[side][rank];
      if (l === undefined) return null;
      out.price = l[0];
      out.size = l[1];
      out.orders = 1;
      return out;
    },
  };
}

describe('heatmap model', () => {
  it('buckets the book; keeps the layout near the mid, re-centres by whole rows away from it', () => {
    const m = new HeatmapModel(4, 20);
    m.sample(book([[99, 5], [98, 7], [95, 1]], [[101, 3], [104, 2]]), 1000);
    expect(m.ticks_per_row).toBe(1);
    const s0 = m.slot(0);
    expect(m.cell(s0, m.row_of(99))).toBe(5);
    expect(m.cell(s0, m.row_of(104))).toBe(2);
    expect(m.best_bid[s0]).toBe(99);
    expect(m.best_ask[s0]).toBe(101);
    const lo = m.price_lo;
    const layout = m.layout_version;
    m.sample(book([[100, 1]], [[102, 1]]), 1100); // mid 101: still in the middle half
    expect([m.price_lo, m.layout_version]).toEqual([lo, layout]);
    m.sample(book([[120, 4]], [[122, 4]]), 1200); // mid 121: far out
    expect(m.layout_version).toBe(layout + 1);
    expect(m.price_lo).toBeGreaterThan(lo);
    // The first column moved with the range: 99 is still where 99's size is, or gone if off the range.
    const first = m.slot(2);
    const r99 = m.row_of(99);
    expect(r99 >= 0 ? m.cell(first, r99) : 0).toBe(r99 >= 0 ? 5 : 0);
    expect(m.cell(m.slot(0), m.row_of(120))).toBe(4);
  });

  it('keeps the newest columns, and an empty column for a book not synced', () => {
    const m = new HeatmapModel(3, 10);
    for (let i = 0; i < 5; i++) m.sample(book([[99, i + 1]], [[101, 1]]), i);
    expect(m.count).toBe(5);
    expect(m.time_ms[m.slot(0)]).toBe(4);
    expect(m.time_ms[m.slot(2)]).toBe(2);
    expect(m.slot(3)).toBe(-1);
    m.sample(null, 9);
    expect(Array.from({ length: 10 }, (_, r) => m.cell(m.slot(0), r))).toEqual(new Array(10).fill(0));
  });

  it('caps trades per column, keeping the largest', () => {
    const m = new HeatmapModel(2, 10);
    for (let i = 1; i <= trades_per_column_max + 5; i++) m.add_trade(100, i, 0);
    m.sample(book([[99, 1]], [[101, 1]]), 0);
    const s = m.slot(0);
    expect(m.trade_counts[s]).toBe(trades_per_column_max);
    const sizes = Array.from({ length: trades_per_column_max }, (_, i) => m.trades[s * trades_per_column_max * 3 + i * 3 + 1]).sort((a, b) => a - b);
    expect(sizes[0]).toBe(6);
  });

  it('colour scale: empty is index 0 only, sizes map monotonically, the top and above are the last colour', () => {
    expect(scale_index(0, 100)).toBe(0);
    expect(scale_index(1, 1000)).toBeGreaterThanOrEqual(1);
    let last = 0;
    for (let s = 1; s <= 1000; s *= 2) {
      const i = scale_index(s, 1000);
      expect(i).toBeGreaterThanOrEqual(last);
      last = i;
    }
    expect(scale_index(1000, 1000)).toBe(scale_steps - 1);
    expect(scale_index(5000, 1000)).toBe(scale_steps - 1);
  });
});
