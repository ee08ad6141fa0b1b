// The matcher against a naive reference model (arrays, sort on every match)
// on random order streams, plus focused cases of price-time priority.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BookEvent, type Side, event_add, event_execute, event_reduce, flag_end_of_engine_event, side_ask, side_bid,
} from '../../src/book/types.js';
import { instrument_spec } from '../../src/engine/instruments.js';
import {
  Matcher, type OrderCommand, type OrderType, order_cancel, order_ioc, order_limit, order_market, order_replace, outcome,
} from '../../src/engine/matcher.js';

interface Fill { price: number; qty: number; maker: number; taker: number }
interface RestingOrder { order_id: number; price: number; qty: number }

/** Price-time priority in the most obvious way: filter, sort, take the first. */
class ReferenceBook {
  private orders: (RestingOrder & { side: Side; time: number })[] = [];
  private time = 0;
  private last_id = 0;
  fills: Fill[] = [];

  apply(cmd: OrderCommand): number {
    if (cmd.type === order_cancel) {
      const i = this.orders.findIndex((o) => o.order_id === cmd.order_id);
      if (i < 0) return outcome.unknown_order;
      this.orders.splice(i, 1);
      return outcome.ok;
    }
    if (cmd.type === order_replace) {
      const o = this.orders.find((x) => x.order_id === cmd.order_id);
      if (o === undefined) return outcome.unknown_order;
      const bad = validate(cmd.price, cmd.qty);
      if (bad !== outcome.ok) return bad;
      if (cmd.price === o.price && cmd.qty < o.qty) o.qty = cmd.qty;
      else if (cmd.price !== o.price || cmd.qty !== o.qty) {
        this.orders.splice(this.orders.indexOf(o), 1);
        this.enter(o.order_id, o.side, cmd.price, cmd.qty, true);
      }
      return outcome.ok;
    }
    const bad = validate(cmd.type === order_market ? 1 : cmd.price, cmd.qty);
    if (bad !== outcome.ok) return bad;
    const id = ++this.last_id;
    if (cmd.type === order_market) this.enter(id, cmd.side, cmd.side === side_bid ? Infinity : -Infinity, cmd.qty, false);
    else this.enter(id, cmd.side, cmd.price, cmd.qty, cmd.type === order_limit);
    return outcome.ok;
  }

  private enter(id: number, side: Side, price: number, qty: number, rest: boolean): void {
    while (qty > 0) {
      const makers = this.orders
        .filter((o) => o.side !== side && (side === side_bid ? o.price <= price : o.price >= price))
        .sort((a, b) => (side === side_bid ? a.price - b.price : b.price - a.price) || a.time - b.time);
      if (makers.length === 0) break;
      const maker = makers[0];
      const fill = Math.min(qty, maker.qty);
      this.fills.push({ price: maker.price, qty: fill, maker: maker.order_id, taker: id });
      maker.qty -= fill;
      qty -= fill;
      if (maker.qty === 0) this.orders.splice(this.orders.indexOf(maker), 1);
    }
    if (qty > 0 && rest) this.orders.push({ order_id: id, side, price, qty, time: ++this.time });
  }

  book(side: Side): RestingOrder[] {
    return this.orders
      .filter((o) => o.side === side)
      .sort((a, b) => (side === side_bid ? b.price - a.price : a.price - b.price) || a.time - b.time)
      .map(({ order_id, price, qty }) => ({ order_id, price, qty }));
  }
}

function validate(price: number, qty: number): number {
  if (!(price >= 1) || !Number.isInteger(price)) return outcome.bad_price;
  if (!(qty >= 1) || !Number.isInteger(qty)) return outcome.bad_qty;
  return outcome.ok;
}

/** A matcher whose events are copied into an array. */
function recorded_matcher(): { matcher: Matcher; events: BookEvent[] } {
  const events: BookEvent[] = [];
  const matcher = new Matcher({ instrument: instrument_spec('TEST').instrument, epoch: 1, sink: (ev) => events.push({ ...ev }), orders_capacity: 16 });
  return { matcher, events };
}

const command_arb = fc.record({
  type: fc.constantFrom<OrderType>(order_limit, order_limit, order_limit, order_ioc, order_market, order_cancel, order_replace, order_replace),
  side: fc.constantFrom<Side>(side_bid, side_ask),
  price: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 95, max: 105 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 100.5) }),
  qty: fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1, max: 12 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -3, 2.5) }),
  pick: fc.nat(),
});

describe('matcher vs reference model', () => {
  it('gives the same outcomes, fills and resting book, and a well-formed event stream', () => {
    fc.assert(
      fc.property(fc.array(command_arb, { minLength: 1, maxLength: 150 }), (commands) => {
        const { matcher, events } = recorded_matcher();
        const reference = new ReferenceBook();
        // The L3 book rebuilt from events alone: order id → what rests.
        const from_events = new Map<number, { side: Side; price: number; qty: number }>();
        let seq = 0;
        let trade_id = 0;
        for (const c of commands) {
          const cmd: OrderCommand = { type: c.type, side: c.side, price: c.price, qty: c.qty, order_id: 0 };
          // Cancel/replace target: a real id most of the time, sometimes one never issued.
          cmd.order_id = 1 + (c.pick % (matcher.last_order_id + 2));
          const first_event = events.length;
          const fills_before = reference.fills.length;
          expect(matcher.apply(cmd, 1000 + seq)).toBe(reference.apply(cmd));
          const produced = events.slice(first_event);
          const fills = produced.filter((e) => e.kind === event_execute)
            .map((e) => ({ price: e.price, qty: e.qty, maker: e.order_id, taker: e.taker_order_id }));
          expect(fills).toEqual(reference.fills.slice(fills_before));
          produced.forEach((e, i) => {
            expect(e.seq).toBe(++seq);
            expect(e.flags === flag_end_of_engine_event).toBe(i === produced.length - 1);
            if (e.kind === event_execute) {
              expect(e.trade_id).toBe(++trade_id);
              expect(e.aggressor).not.toBe(e.side);
            }
            const o = from_events.get(e.order_id);
            if (e.kind === event_add) {
              expect(o).toBeUndefined();
              expect(e.remaining).toBe(e.qty);
              from_events.set(e.order_id, { side: e.side, price: e.price, qty: e.qty });
            } else {
              expect(o).toBeDefined();
              expect(o!.price).toBe(e.price);
              expect(o!.qty - e.qty).toBe(e.remaining);
              if (e.remaining === 0) from_events.delete(e.order_id); else o!.qty = e.remaining;
            }
          });
          matcher.check_invariants();
        }
        for (const side of [side_bid, side_ask] as const) {
          const expected = reference.book(side);
          expect(matcher.orders_in_priority(side)).toEqual(expected);
          const rebuilt = [...from_events].filter(([, o]) => o.side === side).map(([order_id, o]) => ({ order_id, price: o.price, qty: o.qty }));
          expect(rebuilt.sort((a, b) => a.order_id - b.order_id)).toEqual([...expected].sort((a, b) => a.order_id - b.order_id));
        }
        const snapshot = matcher.l2_snapshot();
        expect(snapshot.seq).toBe(seq);
        expect(snapshot.last_trade_id).toBe(trade_id);
        expect(snapshot.bids).toEqual(aggregate(reference.book(side_bid)));
        expect(snapshot.asks).toEqual(aggregate(reference.book(side_ask)));
      }),
      { seed: 20240601, numRuns: 300 },
    );
  });
});

function aggregate(orders: RestingOrder[]): { price: number; size: number; orders: number }[] {
  const out: { price: number; size: number; orders: number }[] = [];
  for (const o of orders) {
    const last = out[out.length - 1];
    if (last !== undefined && last.price === o.price) { last.size += o.qty; last.orders++; } else out.push({ price: o.price, size: o.qty, orders: 1 });
  }
  return out;
}

describe('matcher: focused cases', () => {
  it('keeps queue priority on a size reduction, loses it on a size increase', () => {
    const { matcher, events } = recorded_matcher();
    matcher.limit(side_bid, 100, 5, 1); // id 1
    matcher.limit(side_bid, 100, 5, 2); // id 2
    expect(matcher.replace(1, 100, 3, 3)).toBe(outcome.ok);
    expect(events.at(-1)).toMatchObject({ kind: event_reduce, order_id: 1, qty: 2, remaining: 3, flags: flag_end_of_engine_event });
    expect(matcher.orders_in_priority(side_bid).map((o) => o.order_id)).toEqual([1, 2]);

    expect(matcher.replace(1, 100, 4, 4)).toBe(outcome.ok);
    expect(events.slice(-2)).toMatchObject([
      { kind: event_reduce, order_id: 1, qty: 3, remaining: 0, flags: 0 },
      { kind: event_add, order_id: 1, price: 100, qty: 4, remaining: 4, flags: flag_end_of_engine_event },
    ]);
    expect(matcher.orders_in_priority(side_bid).map((o) => o.order_id)).toEqual([2, 1]);

    matcher.market(side_ask, 6, 5);
    const fills = events.filter((e) => e.kind === event_execute).map((e) => [e.order_id, e.qty, e.remaining]);
    expect(fills).toEqual([[2, 5, 0], [1, 1, 3]]);
  });

  it('moves an order to a new price at the back of that level, and lets it trade if it crosses', () => {
    const { matcher, events } = recorded_matcher();
    matcher.limit(side_bid, 99, 2, 1); // 1
    matcher.limit(side_bid, 100, 2, 1); // 2
    matcher.limit(side_ask, 102, 3, 1); // 3
    matcher.replace(1, 100, 2, 2);
    expect(matcher.orders_in_priority(side_bid).map((o) => o.order_id)).toEqual([2, 1]);
    events.length = 0;
    matcher.replace(1, 102, 5, 3);
    expect(events).toMatchObject([
      { kind: event_reduce, order_id: 1, price: 100, qty: 2, remaining: 0 },
      { kind: event_execute, order_id: 3, taker_order_id: 1, price: 102, qty: 3, remaining: 0, side: side_ask, aggressor: side_bid },
      { kind: event_add, order_id: 1, side: side_bid, price: 102, qty: 2, remaining: 2, flags: flag_end_of_engine_event },
    ]);
    expect(matcher.depth(side_ask)).toBe(0);
  });

  it('sweeps several levels in price then time order, and rests the remainder of a limit', () => {
    const { matcher, events } = recorded_matcher();
    matcher.limit(side_ask, 101, 2, 1); // 1
    matcher.limit(side_ask, 103, 4, 1); // 2
    matcher.limit(side_ask, 101, 3, 1); // 3
    matcher.limit(side_ask, 102, 1, 1); // 4
    matcher.limit(side_ask, 104, 9, 1); // 5
    events.length = 0;
    matcher.limit(side_bid, 103, 12, 7); // 6
    expect(events.map((e) => [e.kind, e.order_id, e.price, e.qty, e.remaining, e.trade_id, e.flags])).toEqual([
      [event_execute, 1, 101, 2, 0, 1, 0],
      [event_execute, 3, 101, 3, 0, 2, 0],
      [event_execute, 4, 102, 1, 0, 3, 0],
      [event_execute, 2, 103, 4, 0, 4, 0],
      [event_add, 6, 103, 2, 2, 0, flag_end_of_engine_event],
    ]);
    expect(events.every((e) => e.ts_engine_ns === 7)).toBe(true);
    const snapshot = matcher.l2_snapshot();
    expect(snapshot.bids).toEqual([{ price: 103, size: 2, orders: 1 }]);
    expect(snapshot.asks).toEqual([{ price: 104, size: 9, orders: 1 }]);
  });

  it('drops the unfilled rest of an IOC and of a market order', () => {
    const { matcher, events } = recorded_matcher();
    matcher.limit(side_ask, 101, 2, 1);
    matcher.limit(side_ask, 105, 2, 1);
    events.length = 0;
    matcher.ioc(side_bid, 102, 10, 2);
    expect(events.map((e) => e.kind)).toEqual([event_execute]);
    expect(matcher.depth(side_bid)).toBe(0);
    matcher.market(side_bid, 10, 3);
    expect(events.map((e) => [e.kind, e.price])).toEqual([[event_execute, 101], [event_execute, 105]]);
    expect(matcher.resting_orders).toBe(0);
  });

  it('does nothing for a market order on an empty side, an unknown id or bad input', () => {
    const { matcher, events } = recorded_matcher();
    expect(matcher.market(side_bid, 5, 1)).toBe(outcome.ok);
    expect(matcher.ioc(side_ask, 100, 5, 1)).toBe(outcome.ok);
    expect(matcher.cancel(99, 1)).toBe(outcome.unknown_order);
    expect(matcher.replace(99, 100, 1, 1)).toBe(outcome.unknown_order);
    expect(matcher.limit(side_bid, 0, 1, 1)).toBe(outcome.bad_price);
    expect(matcher.limit(side_bid, 100.5, 1, 1)).toBe(outcome.bad_price);
    expect(matcher.limit(side_bid, 100, 0, 1)).toBe(outcome.bad_qty);
    expect(matcher.limit(side_bid, 100, 2 ** 60, 1)).toBe(outcome.bad_qty);
    expect(matcher.limit(2 as Side, 100, 1, 1)).toBe(outcome.bad_side);
    expect(matcher.apply({ type: 9 as OrderType, side: side_bid, price: 1, qty: 1, order_id: 0 }, 1)).toBe(outcome.bad_type);
    expect(events).toEqual([]);
    expect(matcher.seq).toBe(0);
    // Orders that were accepted got ids even though they did not trade.
    expect(matcher.last_order_id).toBe(2);
  });

  it('grows its order pool without losing orders', () => {
    const { matcher } = recorded_matcher();
    for (let i = 0; i < 1000; i++) matcher.limit(i % 2 === 0 ? side_bid : side_ask, i % 2 === 0 ? 1000 - (i % 50) : 1100 + (i % 50), 1 + (i % 7), i);
    matcher.check_invariants();
    expect(matcher.resting_orders).toBe(1000);
    for (let id = 1; id <= 1000; id += 3) matcher.cancel(id, 2000);
    matcher.check_invariants();
    expect(matcher.resting_orders).toBe(666);
  });
});
