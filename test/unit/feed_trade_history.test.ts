// TradeHistory (src/feed/trade_history.ts): for any sequence of trades and any
// range, between() lists exactly the remembered trades of the range in order,
// or null when a trade of the range (or before it) has been forgotten;
// forget_through() starts over from a snapshot's seq.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { side_ask, side_bid } from '../../src/book/types.js';
import { recent_trades_max, TradeHistory } from '../../src/feed/trade_history.js';

describe('trade history', () => {
  it('lists exactly the trades of a range while they are remembered, else null', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 3 * recent_trades_max }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 16 }),
      fc.nat(), fc.nat(),
      (start_seq, seq_steps, a, b) => {
        const h = new TradeHistory();
        h.forget_through(start_seq);
        const all: { seq: number; trade_id: number }[] = [];
        const n = recent_trades_max + 500;
        let seq = start_seq;
        for (let i = 0; i < n; i++) {
          seq += seq_steps[i % seq_steps.length];
          all.push({ seq, trade_id: i + 1 });
          h.remember(seq, i + 1, 100 + (i % 7), 1 + (i % 3), 1e18 + i, i % 2 === 0 ? side_bid : side_ask);
        }
        const after = start_seq + (a % (seq - start_seq + 1));
        const through = after + (b % (seq - after + 1));
        const got = h.between(after, through);
        const oldest_kept = all[n - recent_trades_max].seq;
        if (after < all[n - recent_trades_max - 1].seq) {
          expect(got).toBeNull(); // the trade at or before `after`'s range start may be forgotten
          return;
        }
        const want = all.filter((t) => t.seq > after && t.seq <= through);
        expect(got?.map((t) => t.trade_id)).toEqual(want.map((t) => t.trade_id));
        expect(want.every((t) => t.seq >= oldest_kept)).toBe(true);
      },
    ), { numRuns: 50 });
  });

  it('keeps every field of a trade, and forgets everything before a snapshot', () => {
    const h = new TradeHistory();
    h.remember(5, 77, 101.25, 0.5, 1.7e18, side_ask);
    expect(h.between(4, 5)).toEqual([{ trade_id: 77, price: 101.25, size: 0.5, ts_engine_ns: 1.7e18, aggressor: side_ask }]);
    h.forget_through(10);
    expect(h.between(4, 12)).toBeNull();
    expect(h.between(10, 12)).toEqual([]);
  });
});
