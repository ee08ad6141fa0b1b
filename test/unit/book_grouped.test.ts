// Grouped books (src/book/grouped_book.ts) against a reference grouping of the
// full book, property-based (fast-check): the engine's own order flow (random
// seed, so the touch moves, levels come and go), random group and depth; after
// every batch the grouped view equals the reference's top levels, is never
// crossed, and its digest is the digest recomputed from the grouped levels.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digest_of } from '../../src/book/digest.js';
import { GroupedBook, is_valid_group } from '../../src/book/grouped_book.js';
import { L2Book } from '../../src/book/l2_book.js';
import { new_book_event, side_ask, side_bid, type L2Level } from '../../src/book/types.js';
import { BookView, ViewLevels } from '../../src/book/view.js';
import { generate_event_batches } from '../../src/engine/engine.js';
import { EventBatchReader } from '../../src/wire/engine_codec.js';
import { test_config } from '../helpers/service.js';

/** The reference: every level of the full book put in its bucket (bids floor, asks ceil), summed, best first. */
function reference(book: L2Book, group: number, depth: number): { bids: L2Level[]; asks: L2Level[] } {
  const out = { bids: [] as L2Level[], asks: [] as L2Level[] };
  for (const side of [side_bid, side_ask]) {
    const all: L2Level[] = [];
    book.top(side, 0, all);
    const buckets = new Map<number, L2Level>();
    for (const l of all) {
      const b = side === side_bid ? Math.floor(l.price / group) * group : Math.ceil(l.price / group) * group;
      const acc = buckets.get(b) ?? { price: b, size: 0, orders: 0 };
      acc.size += l.size;
      acc.orders += l.orders;
      buckets.set(b, acc);
    }
    const sorted = [...buckets.values()].sort((a, b) => (side === side_bid ? b.price - a.price : a.price - b.price));
    (side === side_bid ? out.bids : out.asks).push(...(depth === 0 ? sorted : sorted.slice(0, depth)));
  }
  return out;
}

function shown(view: BookView): { bids: L2Level[]; asks: L2Level[]; digest: number } {
  const levels = new ViewLevels();
  view.snapshot(levels);
  const take = (arr: L2Level[], n: number) => arr.slice(0, n).map((l) => ({ price: l.price, size: l.size, orders: l.orders }));
  return { bids: take(levels.bids, levels.bid_count), asks: take(levels.asks, levels.ask_count), digest: levels.digest };
}

describe('grouped books', () => {
  it('equal a reference grouping of the full book after every batch: never crossed, digest from the grouped levels', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 1, max: 60 }), fc.constantFrom(0, 10, 50), fc.constantFrom(true, false),
      (seed, group, depth, from_reset) => {
        const batches = generate_event_batches(test_config({ symbols: ['BTC-USD'], seed }), { orders: 400, epoch: 1 });
        const raw = new L2Book();
        const grouped = new GroupedBook(group);
        const view = new BookView(depth);
        const changes = new ViewLevels();
        const reader = new EventBatchReader();
        const ev = new_book_event();
        let checked = 0;
        for (const [i, b] of batches.entries()) {
          reader.read(b.bytes);
          for (let k = 0; k < reader.count; k++) raw.apply(reader.event(k, ev));
          const raw_changes = raw.take_changes();
          // Half the runs start the grouped book late, from a reset (a new epoch, a recovery).
          if (from_reset && i === Math.floor(batches.length / 2)) {
            grouped.reset_from(raw);
            view.reset_from(grouped.book);
            grouped.book.take_changes();
          } else {
            grouped.update(raw, raw_changes);
            const g = grouped.book.take_changes();
            view.update(grouped.book, g.bids, g.asks, changes);
            // The view's incremental digest is the one it reports after the update.
            expect(changes.digest).toBe(view.digest);
          }
          const want = reference(raw, group, depth);
          const got = shown(view);
          expect(got.bids).toEqual(want.bids);
          expect(got.asks).toEqual(want.asks);
          expect(got.digest).toBe(digest_of(want.bids, want.asks));
          if (got.bids.length > 0 && got.asks.length > 0) expect(got.bids[0].price).toBeLessThan(got.asks[0].price);
          for (const l of [...got.bids, ...got.asks]) expect(l.price % group).toBe(0);
          checked++;
        }
        expect(checked).toBeGreaterThan(10);
      },
    ), { numRuns: 40, seed: 14 });
  });

  it('group 1 is the book itself; bad groups are refused', () => {
    const batches = generate_event_batches(test_config({ symbols: ['ETH-USD'], seed: 5 }), { orders: 300, epoch: 1 });
    const raw = new L2Book();
    const reader = new EventBatchReader();
    const ev = new_book_event();
    for (const b of batches) {
      reader.read(b.bytes);
      for (let k = 0; k < reader.count; k++) raw.apply(reader.event(k, ev));
    }
    const one = new GroupedBook(1);
    one.reset_from(raw);
    for (const side of [side_bid, side_ask]) {
      const a: L2Level[] = [];
      const b: L2Level[] = [];
      raw.top(side, 0, a);
      one.book.top(side, 0, b);
      expect(b).toEqual(a);
    }
    for (const bad of [0, -5, 1.5, 2_000_000, Number.NaN]) {
      expect(is_valid_group(bad)).toBe(false);
      expect(() => new GroupedBook(bad)).toThrow(/group must be an integer from 1 to 1000000/);
    }
  });
});
