// A view rebuilt within its epoch while its subscriber conflates (issue 24,
// docs/PROTOCOL.md §5.5): the conflating client's one catch-up (a Delta, or
// past conflation_levels_max a Snapshot with the appended missing fields)
// accounts for every trade id since its last frame: listed, folded, or named
// missing, and names missing exactly the trades the feed never had.
// - A batch really lost (a FaultBus in front of the feed drops, on the live
//   path only, the next batch carrying trades): the catch-up names exactly
//   that batch's trade ids, and so does the streaming client's Delta.
// - The upstream lost with no batch lost (upstream_lost()): nothing is named
//   missing; the trades of the batches buffered while rebuilding are listed.
// Real engine, feed and in-process bus (test/helpers/conflation_rig.ts); every
// frame checked by ViewMirror. Cost: about 1 s per case, in-process.
import { afterEach, describe, expect, it } from 'vitest';
import { Subjects } from '../../src/bus/subjects.js';
import { event_execute, new_book_event } from '../../src/book/types.js';
import type { TradeIdRange } from '../../src/wire/feed_types.js';
import { EventBatchReader } from '../../src/wire/engine_codec.js';
import { conflation_rig, stop_conflation_rigs } from '../helpers/conflation_rig.js';
import { FaultBus } from '../helpers/fault_bus.js';
import { wait_for } from '../helpers/service.js';

afterEach(() => stop_conflation_rigs());

const symbol = 'BTC-USD';
const catch_ups = [['a Delta', {}, 'delta'], ['a Snapshot past conflation_levels_max', { conflation_levels_max: 12 }, 'snapshot']] as const;
const cases = catch_ups.flatMap(([name, overrides, kind]) => [
  [name, 'a batch lost', overrides, kind, true],
  [name, 'no batch lost', overrides, kind, false],
] as const);

describe('a view rebuilt within its epoch while its subscriber conflates', () => {
  it.each(cases)('the catch-up is %s naming exactly what was lost (%s)', async (_name, _loss, overrides, kind, lose_batch) => {
    let fault: FaultBus | undefined;
    const r = await conflation_rig(overrides, (bus) => (fault = new FaultBus(bus)));
    const slow = r.connect();
    const fast = r.connect();
    for (const c of [slow, fast]) r.subscribe(c.session, [symbol], 0);
    // Trades seen before it stops reading: the mirror checks their ids stay contiguous across the catch-up.
    await wait_for('trades received', () => (slow.t.mirror.view(symbol, 0)?.trades_listed ?? 0) > 0
      && fast.t.mirror.view(symbol, 0) !== undefined);
    slow.t.paused = true;
    await wait_for('conflating', () => slow.session.slow);
    const sub = [...slow.session.subs.values()][0];
    await wait_for('trades accumulated', () => sub.held_trades + sub.folded_trades > 0);
    const seq_before = slow.t.mirror.view(symbol, 0)!.seq;
    const f = r.feed.symbols.get(symbol)!;
    const epoch = f.epoch;

    const lost_trade_ids: number[] = [];
    if (lose_batch) {
      // The next batch carrying a trade never reaches the feed: the batch after it shows the gap, and with one path and
      // no stream the feed rebuilds the book from the engine's snapshot of the same epoch.
      const events = new Subjects(r.config.subject_prefix).events(symbol);
      const reader = new EventBatchReader();
      const event = new_book_event();
      fault!.decide = (subject, _i, data) => {
        if (lost_trade_ids.length > 0 || subject !== events) return 'deliver';
        reader.read(data);
        for (let k = 0; k < reader.count; k++) if (reader.event(k, event).kind === event_execute) lost_trade_ids.push(event.trade_id);
        return lost_trade_ids.length > 0 ? 'drop' : 'deliver';
      };
    } else {
      // The feed loses its upstream, but no batch: the book is rebuilt from the engine's snapshot all the same.
      f.upstream_lost();
      expect(f.state).toBe('recovering');
    }
    await wait_for('rebuilt and live again', () => f.stats.rebuilds_continued === 1 && f.state === 'live');
    expect(f.epoch).toBe(epoch);
    expect(f.stats.recoveries).toBe(1);
    expect(sub.held_trades + sub.folded_trades).toBeGreaterThan(0); // what it held is kept: the same view continues
    if (kind === 'snapshot') await wait_for('the catch-up overflows into a Snapshot', () => sub.overflowed);
    slow.t.resume();
    r.feed.on_drain(slow.session);
    await r.quiesce();

    const want: TradeIdRange | null = lose_batch ? { first_trade_id: Math.min(...lost_trade_ids), last_trade_id: Math.max(...lost_trade_ids) } : null;
    const v = slow.t.mirror.view(symbol, 0)!;
    const catch_up = v.frames.find((fr) => fr.seq > seq_before)!;
    expect({ kind: catch_up.kind, conflated: catch_up.kind === 'delta' ? catch_up.conflated : true, missing: catch_up.missing })
      .toEqual({ kind, conflated: true, missing: want });
    expect(v.count((fr) => fr.kind === 'snapshot')).toBe(kind === 'snapshot' ? 2 : 1);
    expect(v.frames.filter((fr) => fr.missing !== null).length).toBe(lose_batch ? 1 : 0);
    expect(v.trades_missing).toBe(lost_trade_ids.length);
    // Every trade id is accounted for once: listed, folded, or named missing (the mirror checks the order frame by frame).
    expect(v.last_trade_id - v.first_trade_id + 1).toBe(v.trades_listed + v.trades_folded + v.trades_missing);
    expect(slow.t.mirror.violations).toEqual([]);
    // The streaming client got the same range in its one continuing Delta, and the same trades otherwise.
    const fv = fast.t.mirror.view(symbol, 0)!;
    expect(fv.frames.filter((fr) => fr.missing !== null).map((fr) => fr.missing)).toEqual(want === null ? [] : [want]);
    expect(fv.snapshots).toBe(1);
    expect(fv.last_trade_id).toBe(v.last_trade_id);
    expect(fast.t.mirror.violations).toEqual([]);
  });
});
