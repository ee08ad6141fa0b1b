// L2Book against a naive reference model (Map per side, sorted on demand) on
// random event streams that a real engine could produce (built from an
// order-level simulation), with impossible events mixed in: both must agree on
// every level, on which events are refused, and refusals leave the book as it was.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BookError, L2Book } from '../../src/book/l2_book.js';
import { event_add, event_execute, event_reduce, new_book_event, side_ask, side_bid, type BookEvent, type EventKind, type L2Level, type Side } from '../../src/book/types.js';

class NaiveBook {
  sides = [new Map<number, { size: number; orders: number }>(), new Map<number, { size: number; orders: number }>()];

  apply(ev: BookEvent): void {
    const m = this.sides[ev.side];
    const l = m.get(ev.price);
    if (!(ev.qty > 0)) throw new Error('qty');
    if (ev.kind === event_add) {
      m.set(ev.price, { size: (l?.size ?? 0) + ev.qty, orders: (l?.orders ?? 0) + 1 });
      return;
    }
    if (!l) throw new Error('unknown level');
    const size = l.size - ev.qty;
    const orders = l.orders - (ev.remaining === 0 ? 1 : 0);
    if (size < 0 || (size === 0) !== (orders === 0)) throw new Error('impossible');
    if (size === 0) m.delete(ev.price);
    else m.set(ev.price, { size, orders });
  }

  top(side: Side): L2Level[] {
    const levels = [...this.sides[side]].map(([price, l]) => ({ price, size: l.size, orders: l.orders }));
    return levels.sort((a, b) => (side === side_bid ? b.price - a.price : a.price - b.price));
  }
}

interface Order { id: number; side: Side; price: number; remaining: number }

/** Op seeds interpreted against live orders, so most events are valid. */
const op_arb = fc.record({
  what: fc.integer({ min: 0, max: 99 }),
  side: fc.integer({ min: 0, max: 1 }),
  price_offset: fc.integer({ min: 0, max: 40 }),
  qty: fc.integer({ min: 1, max: 50 }),
  pick: fc.nat(),
});

type Op = typeof op_arb extends fc.Arbitrary<infer T> ? T : never;

function events_from(ops: Op[]): BookEvent[] {
  const live: Order[] = [];
  const out: BookEvent[] = [];
  let seq = 0;
  let next_id = 1;
  for (const op of ops) {
    const ev = new_book_event();
    ev.seq = ++seq;
    const side = op.side as Side;
    if (op.what < 45 || live.length === 0) {
      // Bids around 1000 and below, asks around 1010 and above; they overlap at times.
      const price = side === side_bid ? 1005 - op.price_offset : 1000 + op.price_offset;
      const o = { id: next_id++, side, price, remaining: op.qty };
      live.push(o);
      Object.assign(ev, { kind: event_add, side, price, qty: op.qty, remaining: op.qty, order_id: o.id });
    } else if (op.what < 95) {
      const i = op.pick % live.length;
      const o = live[i];
      const qty = op.what < 70 ? o.remaining : 1 + (op.qty % o.remaining);
      o.remaining -= qty;
      if (o.remaining === 0) live.splice(i, 1);
      const kind: EventKind = op.what % 2 === 0 ? event_reduce : event_execute;
      Object.assign(ev, { kind, side: o.side, price: o.price, qty, remaining: o.remaining, order_id: o.id });
    } else {
      // Impossible: an unknown level, an oversized reduce, a bad qty or kind.
      const variant = op.what - 95;
      const o = live[op.pick % live.length];
      if (variant === 0) Object.assign(ev, { kind: event_reduce, side, price: 5000 + op.price_offset, qty: 1, remaining: 0 });
      else if (variant === 1) Object.assign(ev, { kind: event_execute, side: o.side, price: o.price, qty: 1_000_000, remaining: 0 });
      else if (variant === 2) Object.assign(ev, { kind: event_add, side, price: 1000, qty: op.what % 2 === 0 ? 0 : -3, remaining: 0 });
      else if (variant === 3) Object.assign(ev, { kind: 7 as EventKind, side, price: o.price, qty: 1, remaining: 0 });
      else Object.assign(ev, { kind: event_add, side, price: 1000.5, qty: 1, remaining: 1 });
    }
    out.push(ev);
  }
  return out;
}

function snapshot_of(book: L2Book): [L2Level[], L2Level[]] {
  const bids: L2Level[] = [];
  const asks: L2Level[] = [];
  book.top(side_bid, 0, bids);
  book.top(side_ask, 0, asks);
  return [bids, asks];
}

describe('L2Book', () => {
  it('agrees with a naive model on random event streams, refusing the same impossible events', () => {
    fc.assert(
      fc.property(fc.array(op_arb, { maxLength: 400 }), (ops) => {
        const book = new L2Book();
        const naive = new NaiveBook();
        let refused = 0;
        for (const ev of events_from(ops)) {
          let naive_error = (ev.kind !== event_add && ev.kind !== event_reduce && ev.kind !== event_execute) || !Number.isInteger(ev.price);
          if (!naive_error) {
            try {
              naive.apply(ev);
            } catch {
              naive_error = true;
            }
          }
          const before = snapshot_of(book);
          if (naive_error) {
            expect(() => book.apply(ev)).toThrow(BookError);
            expect(snapshot_of(book)).toEqual(before);
            refused++;
          } else {
            book.apply(ev);
          }
          for (const side of [side_bid, side_ask]) {
            const want = naive.top(side);
            const got: L2Level[] = [];
            expect(book.top(side, 0, got)).toBe(want.length);
            expect(got).toEqual(want);
            expect(book.level_count(side)).toBe(want.length);
            expect(book.best(side)).toBe(want[0]?.price);
            const top3: L2Level[] = [];
            expect(book.top(side, 3, top3)).toBe(Math.min(3, want.length));
            expect(top3).toEqual(want.slice(0, 3));
          }
          const bid = naive.top(side_bid)[0]?.price;
          const ask = naive.top(side_ask)[0]?.price;
          expect(book.is_crossed()).toBe(bid !== undefined && ask !== undefined && bid >= ask);
        }
        expect(refused).toBeLessThanOrEqual(ops.length);
      }),
      { seed: 3101, numRuns: 150 },
    );
  });

  it('take_changes lists every price whose level changed, and only touched prices', () => {
    fc.assert(
      fc.property(fc.array(op_arb, { maxLength: 300 }), fc.integer({ min: 1, max: 20 }), (ops, batch) => {
        const book = new L2Book();
        const events = events_from(ops);
        let before = snapshot_of(book);
        let touched = [new Set<number>(), new Set<number>()];
        for (let k = 0; k < events.length; k++) {
          try {
            book.apply(events[k]);
            touched[events[k].side].add(events[k].price);
          } catch (e) {
            expect(e).toBeInstanceOf(BookError);
          }
          if (k % batch !== batch - 1 && k !== events.length - 1) continue;
          const changes = book.take_changes();
          const after = snapshot_of(book);
          for (const side of [side_bid, side_ask]) {
            const list = side === side_bid ? changes.bids : changes.asks;
            const listed = new Set(Array.from(list.prices.subarray(0, list.count)));
            const old = new Map(before[side].map((l) => [l.price, `${l.size}/${l.orders}`]));
            const now = new Map(after[side].map((l) => [l.price, `${l.size}/${l.orders}`]));
            for (const p of new Set([...old.keys(), ...now.keys()])) {
              if (old.get(p) !== now.get(p)) expect(listed.has(p)).toBe(true);
            }
            for (const p of listed) expect(touched[side].has(p)).toBe(true);
          }
          before = after;
          touched = [new Set<number>(), new Set<number>()];
        }
      }),
      { seed: 3102, numRuns: 150 },
    );
  });

  it('load replaces the content, records old and new prices, and refuses bad snapshots', () => {
    const book = new L2Book();
    const ev = new_book_event();
    Object.assign(ev, { kind: event_add, side: side_bid, price: 90, qty: 4, remaining: 4 });
    book.apply(ev);
    book.take_changes();
    book.load([{ price: 100, size: 5, orders: 1 }, { price: 99, size: 2, orders: 2 }], [{ price: 101, size: 3, orders: 1 }]);
    expect(snapshot_of(book)).toEqual([[{ price: 100, size: 5, orders: 1 }, { price: 99, size: 2, orders: 2 }], [{ price: 101, size: 3, orders: 1 }]]);
    const changes = book.take_changes();
    expect(new Set(changes.bids.prices.subarray(0, changes.bids.count))).toEqual(new Set([90, 100, 99]));
    expect(Array.from(changes.asks.prices.subarray(0, changes.asks.count))).toEqual([101]);

    const bad: [L2Level[], L2Level[]][] = [
      [[{ price: 99, size: 1, orders: 1 }, { price: 100, size: 1, orders: 1 }], []], // bids ascending
      [[], [{ price: 101, size: 1, orders: 1 }, { price: 101, size: 1, orders: 1 }]], // duplicate ask
      [[{ price: 99, size: 0, orders: 1 }], []],
      [[{ price: 99, size: 1, orders: 0 }], []],
      [[{ price: 99.5, size: 1, orders: 1 }], []],
    ];
    for (const [bids, asks] of bad) {
      expect(() => book.load(bids, asks)).toThrow(BookError);
      expect(snapshot_of(book)[0]).toHaveLength(2);
    }
    book.clear();
    expect(book.level_count(side_bid) + book.level_count(side_ask)).toBe(0);
    expect(book.best(side_bid)).toBeUndefined();
    const cleared = book.take_changes();
    expect(cleared.bids.count + cleared.asks.count).toBe(3);
  });

  it('keeps a deep book sorted when levels come and go far from the touch', () => {
    const book = new L2Book();
    const ev = new_book_event();
    const prices: number[] = [];
    for (let i = 0; i < 500; i++) prices.push(((i * 7919) % 1000) + 1);
    for (const price of prices) {
      Object.assign(ev, { kind: event_add, side: side_ask, price, qty: 1, remaining: 1 });
      book.apply(ev);
    }
    for (const price of prices.slice(0, 250)) {
      Object.assign(ev, { kind: event_execute, side: side_ask, price, qty: 1, remaining: 0 });
      book.apply(ev);
    }
    const asks: L2Level[] = [];
    book.top(side_ask, 0, asks);
    expect(asks.map((l) => l.price)).toEqual(prices.slice(250).sort((a, b) => a - b));
    expect(book.level(side_ask, asks[0].price)).toEqual({ price: asks[0].price, size: 1, orders: 1 });
    expect(book.level(side_ask, prices[0])).toBeNull();
  });
});
