// BookView: for random books and random change streams, a client that starts
// from the view's snapshot and applies every diff (size 0 removes) holds exactly
// the book's top N, and the incrementally kept digest equals one recomputed
// from scratch. Also pins the digest to the test vectors in docs/PROTOCOL.md.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digest_add, digest_of, digest_sub, level_hash } from '../../src/book/digest.js';
import { L2Book } from '../../src/book/l2_book.js';
import { event_add, event_execute, event_reduce, new_book_event, side_ask, side_bid, type L2Level, type Side } from '../../src/book/types.js';
import { BookView, ViewLevels } from '../../src/book/view.js';

class Client {
  sides = [new Map<number, L2Level>(), new Map<number, L2Level>()];

  load(v: ViewLevels): void {
    for (const m of this.sides) m.clear();
    for (let k = 0; k < v.bid_count; k++) this.sides[0].set(v.bids[k].price, { ...v.bids[k] });
    for (let k = 0; k < v.ask_count; k++) this.sides[1].set(v.asks[k].price, { ...v.asks[k] });
  }

  apply(v: ViewLevels): void {
    this.apply_side(0, v.bids, v.bid_count);
    this.apply_side(1, v.asks, v.ask_count);
  }

  private apply_side(side: Side, levels: L2Level[], count: number): void {
    const m = this.sides[side];
    const seen = new Set<number>();
    for (let k = 0; k < count; k++) {
      const l = levels[k];
      // A diff lists each price once and only with a value the client does not already show.
      expect(seen.has(l.price)).toBe(false);
      seen.add(l.price);
      const shown = m.get(l.price);
      expect(shown === undefined ? l.size === 0 : shown.size === l.size && shown.orders === l.orders).toBe(false);
      if (l.size === 0) m.delete(l.price);
      else m.set(l.price, { ...l });
    }
  }

  sorted(side: Side): L2Level[] {
    return [...this.sides[side].values()].sort((a, b) => (side === side_bid ? b.price - a.price : a.price - b.price));
  }
}

const step_arb = fc.record({
  what: fc.integer({ min: 0, max: 99 }),
  side: fc.integer({ min: 0, max: 1 }),
  price_offset: fc.integer({ min: 0, max: 30 }),
  qty: fc.integer({ min: 1, max: 9 }),
  pick: fc.nat(),
  frame_end: fc.boolean(),
});

const depths = [1, 2, 3, 10, 50, 0];

describe('BookView', () => {
  it('diffs bring a client exactly to the top N and the digest stays equal to a recomputed one', () => {
    fc.assert(
      fc.property(fc.array(step_arb, { maxLength: 300 }), (steps) => {
        const book = new L2Book();
        const views = depths.map((d) => new BookView(d));
        const clients = depths.map(() => new Client());
        const out = new ViewLevels();
        views.forEach((v, i) => {
          v.reset_from(book);
          v.snapshot(out);
          clients[i].load(out);
        });
        const ev = new_book_event();
        const tmp: L2Level[] = [];
        for (const step of steps) {
          const side = step.side as Side;
          const count = book.level_count(side);
          if (step.what < 3) {
            // A snapshot replaces the book mid-stream (recovery in the same epoch).
            const base = 1000 + (step.pick % 7);
            const bids = Array.from({ length: step.qty }, (_, r) => ({ price: base - 2 * r, size: r + 1, orders: 1 + (r % 3) }));
            const asks = Array.from({ length: step.price_offset % 12 }, (_, r) => ({ price: base + 1 + r, size: 2, orders: 1 }));
            book.load(bids, asks);
          } else if (step.what < 50 || count === 0) {
            const price = side === side_bid ? 1010 - step.price_offset : 1000 + step.price_offset;
            Object.assign(ev, { kind: event_add, side, price, qty: step.qty, remaining: step.qty });
            book.apply(ev);
          } else {
            const r = step.pick % count;
            book.top(side, 0, tmp);
            const l = tmp[r];
            const last_order = l.orders === 1;
            const qty = last_order ? l.size : Math.min(l.size - 1, step.qty);
            if (qty === 0) continue; // several orders but one lot left: nothing valid to reduce here
            Object.assign(ev, { kind: step.what % 2 ? event_reduce : event_execute, side, price: l.price, qty, remaining: last_order ? 0 : 1 });
            book.apply(ev);
          }
          if (!step.frame_end) continue;
          const changes = book.take_changes();
          views.forEach((view, i) => {
            const n = view.update(book, changes.bids, changes.asks, out);
            expect(n).toBe(out.bid_count + out.ask_count);
            clients[i].apply(out);
            const want_bids: L2Level[] = [];
            const want_asks: L2Level[] = [];
            book.top(side_bid, view.depth, want_bids);
            book.top(side_ask, view.depth, want_asks);
            expect(clients[i].sorted(0)).toEqual(want_bids);
            expect(clients[i].sorted(1)).toEqual(want_asks);
            expect(out.digest).toBe(digest_of(want_bids, want_asks));
            expect(view.digest).toBe(out.digest);
            view.check(book);
          });
        }
      }),
      { seed: 3201, numRuns: 200 },
    );
  });

  it('snapshot gives the window best first; reset_from and update agree', () => {
    const book = new L2Book();
    book.load(
      Array.from({ length: 60 }, (_, r) => ({ price: 1000 - r, size: 10 + r, orders: 1 })),
      Array.from({ length: 5 }, (_, r) => ({ price: 1001 + r, size: 3, orders: 2 })),
    );
    const by_update = new BookView(50);
    const by_reset = new BookView(50);
    const out = new ViewLevels();
    const changes = book.take_changes();
    expect(by_update.update(book, changes.bids, changes.asks, out)).toBe(55);
    by_reset.reset_from(book);
    const a = new ViewLevels();
    const b = new ViewLevels();
    by_update.snapshot(a);
    by_reset.snapshot(b);
    expect(a.bid_count).toBe(50);
    expect(a.bids.slice(0, 3).map((l) => l.price)).toEqual([1000, 999, 998]);
    expect(a.asks.slice(0, a.ask_count).map((l) => l.price)).toEqual([1001, 1002, 1003, 1004, 1005]);
    expect(b).toEqual(a);
    // A change beyond a full window is invisible to it.
    const ev = new_book_event();
    Object.assign(ev, { kind: event_add, side: side_bid, price: 900, qty: 1, remaining: 1 });
    book.apply(ev);
    const far = book.take_changes();
    expect(by_update.update(book, far.bids, far.asks, out)).toBe(0);
    expect(out.digest).toBe(a.digest);
  });

  it('check() notices a view that missed a change', () => {
    const book = new L2Book();
    const view = new BookView(10);
    const ev = new_book_event();
    Object.assign(ev, { kind: event_add, side: side_ask, price: 1005, qty: 2, remaining: 2 });
    book.apply(ev);
    book.take_changes(); // the view never sees these changes
    view.reset_from(new L2Book());
    expect(() => view.check(book)).toThrow(/out of step/);
  });
});

describe('digest', () => {
  it('matches the test vectors published in docs/PROTOCOL.md', () => {
    const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| *(\d) *\| *(-?\d+) *\| *(\d+) *\| *(\d+) *\| *(\d+) *\| *0x([0-9a-f]{8}) *\|$/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const [, side, price, size, orders, dec, hex] of rows) {
      const h = level_hash(Number(side) as Side, Number(price), Number(size), Number(orders));
      expect(h).toBe(Number(dec));
      expect(h).toBe(parseInt(hex, 16));
    }
    const book_vector = /digest of this book is `(\d+)`\s+\(0x([0-9a-f]{8})\)/.exec(doc);
    expect(book_vector).not.toBeNull();
    expect(Number(book_vector![1])).toBe(parseInt(book_vector![2], 16));
    const bids = [{ price: 100, size: 5, orders: 1 }, { price: 99, size: 12, orders: 3 }];
    const asks = [{ price: 101, size: 7, orders: 2 }, { price: 103, size: 1, orders: 1 }];
    expect(digest_of(bids, asks)).toBe(Number(book_vector![1]));
  });

  it('is order independent and add/sub are inverses mod 2^32', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ price: fc.integer({ min: -1e6, max: 1e12 }), size: fc.integer({ min: 1, max: 2 ** 40 }), orders: fc.integer({ min: 1, max: 1e5 }) }), { maxLength: 30 }), (levels) => {
        const d = digest_of(levels, []);
        expect(digest_of([...levels].reverse(), [])).toBe(d);
        let e = d;
        for (const l of levels) e = digest_sub(e, level_hash(side_bid, l.price, l.size, l.orders));
        expect(e).toBe(0);
        for (const l of levels) e = digest_add(e, level_hash(side_bid, l.price, l.size, l.orders));
        expect(e).toBe(d);
      }),
      { seed: 3202, numRuns: 200 },
    );
    expect(level_hash(side_bid, 100, 5, 1)).not.toBe(level_hash(side_ask, 100, 5, 1));
  });
});
