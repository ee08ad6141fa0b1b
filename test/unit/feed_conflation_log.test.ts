// ChangeLog (src/feed/change_log.ts) against a naive model: for every reader
// position, the prices changed after it, or "lost" exactly when more than
// levels_max distinct prices changed after it. Seeded fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Side } from '../../src/book/types.js';
import { ChangeLog } from '../../src/feed/change_log.js';

type Op =
  | { kind: 'update'; changes: { side: Side; price: number }[] }
  | { kind: 'drop'; back: number }
  | { kind: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('update' as const), changes: fc.array(fc.record({ side: fc.constantFrom(0 as const, 1 as const), price: fc.integer({ min: 90, max: 130 }) }), { maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), back: fc.integer({ min: 0, max: 30 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

describe('ChangeLog', () => {
  it('lists, for any reader seq, exactly the prices changed after it, or says it lost them past levels_max', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 120 }), (levels_max, ops) => {
      const log = new ChangeLog(levels_max);
      // Model: every change ever, with its seq; readers below `floor` are not asked (dropped or cleared).
      const history: { side: Side; price: number; seq: number }[] = [];
      let seq = 0;
      let floor = 0;
      for (const o of ops) {
        if (o.kind === 'update') {
          seq++;
          for (const c of o.changes) {
            log.record(c.side, c.price, seq);
            history.push({ ...c, seq });
          }
        } else if (o.kind === 'drop') {
          const through = Math.max(floor, seq - o.back);
          log.drop_through(through);
          floor = through;
        } else {
          log.clear(seq);
          floor = seq;
        }
        expect(log.live).toBeLessThanOrEqual(levels_max);
        expect(log.entries).toBeLessThanOrEqual(Math.max(64, 3 * levels_max + 6));
        for (let reader = floor; reader <= seq; reader++) {
          const want = new Set(history.filter((h) => h.seq > reader).map((h) => `${h.side}:${h.price}`));
          if (!log.complete_since(reader)) {
            expect(want.size, `reader ${reader} told lost`).toBeGreaterThan(levels_max);
            continue;
          }
          const got: string[] = [];
          log.changed_since(reader, (side, price) => got.push(`${side}:${price}`));
          expect(new Set(got).size).toBe(got.length); // each price once
          expect(new Set(got)).toEqual(want);
          expect(log.count_since(reader)).toBe(want.size);
        }
      }
    }), { seed: 4, numRuns: 300 });
  });

  it('costs a reader O(changes since it), found by binary search, however long the log', () => {
    const log = new ChangeLog(2000);
    for (let seq = 1; seq <= 1000; seq++) log.record(seq % 2 as Side, 1000 + (seq % 1500), seq);
    let visited = 0;
    log.changed_since(995, () => { visited++; });
    expect(visited).toBe(5);
    expect(log.complete_since(0)).toBe(true);
  });
});
