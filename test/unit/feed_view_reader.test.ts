// Feed.read_views (src/feed/view_reader.ts): the levels of full-depth views
// read in process at an interval, with the real engine, bus and feed. The
// reader's whole books and changes, applied to a mirror, must give the feed's
// own book at the end; changes are contiguous within an epoch (seq_first is
// the mirror's seq + 1); a change log that lost track (more prices changed in
// one interval than --conflation-levels-max) gives the whole book in the same
// epoch, an engine restart a whole book in a new epoch; no frame is encoded
// or sent for it (the feed's outbound counts stay at zero).
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../src/bus/memory_bus.js';
import type { Config } from '../../src/config.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { Feed } from '../../src/feed/feed.js';
import type { ViewLevelsListener } from '../../src/feed/view_reader.js';
import { side_ask, side_bid } from '../../src/book/types.js';
import type { L2Level } from '../../src/book/types.js';
import { stop_feed_rigs } from '../helpers/feed_rig.js';
import { test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD'];

interface Mirror { epoch: number; seq: number; bids: Map<number, number>; asks: Map<number, number>; books: number; changes: number; epochs: Set<number> }

/** A listener that keeps a mirror per symbol and the breaks of contiguity it saw. */
function mirror_listener(): { listener: ViewLevelsListener; mirrors: Map<string, Mirror>; breaks: string[] } {
  const mirrors = new Map(symbols.map((s) => [s, { epoch: -1, seq: -1, bids: new Map(), asks: new Map(), books: 0, changes: 0, epochs: new Set<number>() } as Mirror]));
  const breaks: string[] = [];
  const put = (side: Map<number, number>, levels: readonly L2Level[], count: number) => {
    for (let i = 0; i < count; i++) {
      if (levels[i].size === 0) side.delete(levels[i].price);
      else side.set(levels[i].price, levels[i].size);
    }
  };
  const listener: ViewLevelsListener = {
    on_book(symbol, instrument, epoch, seq, book) {
      const m = mirrors.get(symbol)!;
      expect(instrument.symbol).toBe(symbol);
      if (m.epoch === epoch && seq < m.seq) breaks.push(`${symbol}: a whole book behind the mirror in its epoch`);
      m.bids.clear();
      m.asks.clear();
      put(m.bids, book.bids, book.bid_count);
      put(m.asks, book.asks, book.ask_count);
      m.epoch = epoch;
      m.seq = seq;
      m.books++;
      m.epochs.add(epoch);
    },
    on_changes(symbol, epoch, seq_first, seq, changes) {
      const m = mirrors.get(symbol)!;
      if (epoch !== m.epoch || seq_first !== m.seq + 1 || seq < seq_first) breaks.push(`${symbol}: ${epoch}/${seq_first}..${seq} after ${m.epoch}/${m.seq}`);
      put(m.bids, changes.bids, changes.bid_count);
      put(m.asks, changes.asks, changes.ask_count);
      m.seq = seq;
      m.changes++;
    },
    on_live() {},
  };
  return { listener, mirrors, breaks };
}

interface Rig { config: Readonly<Config>; bus: MemoryBus; engine: EngineHandle; feed: Feed }
const rigs: Rig[] = [];

afterEach(() => stop_feed_rigs(rigs));

async function rig(overrides: Partial<Config> = {}): Promise<Rig> {
  const config = test_config({ symbols, rate_orders_per_s: 20_000, ...overrides });
  const bus = new MemoryBus();
  const engine = await start_engine(config, bus);
  const feed = new Feed(config, bus);
  feed.start();
  await wait_for('feed live', () => feed.health().ready);
  const r = { config, bus, engine, feed };
  rigs.push(r);
  return r;
}

/**
 * The engine stopped: each mirror comes to equal the feed's book, in its
 * epoch, at a seq no later than the feed's. Not "at the feed's committed
 * seq": a version that changes nothing in the view moves no view (PROTOCOL
 * §5.2), so the view's seq may stay below the feed's for good.
 */
async function expect_mirrors_equal_books(r: Rig, mirrors: Map<string, Mirror>): Promise<void> {
  await r.engine.stop();
  for (const s of symbols) {
    const f = r.feed.symbols.get(s)!;
    const side = (which: typeof side_bid | typeof side_ask) => {
      const out: L2Level[] = [];
      const n = f.book.top(which, f.book.level_count(which), out);
      return new Map(out.slice(0, n).map((l) => [l.price, l.size]));
    };
    const m = mirrors.get(s)!;
    const equal = (a: Map<number, number>, b: Map<number, number>) => a.size === b.size && [...a].every(([p, q]) => b.get(p) === q);
    await wait_for(`${s} read up to the feed's book`, () => m.epoch === f.epoch && equal(m.bids, side(side_bid)) && equal(m.asks, side(side_ask)), 20_000)
      .catch((err: Error) => { throw new Error(`${err.message} (mirror ${m.epoch}/${m.seq}, feed ${f.epoch}/${f.committed_seq})`); });
    expect(m.seq).toBeLessThanOrEqual(f.committed_seq);
    expect(m.bids).toEqual(side(side_bid));
    expect(m.asks).toEqual(side(side_ask));
  }
}

describe('Feed.read_views', () => {
  it('hands over a whole book, then contiguous changes that rebuild the feed\'s book; nothing encoded or sent', async () => {
    const r = await rig();
    const { listener, mirrors, breaks } = mirror_listener();
    const reader = r.feed.read_views(symbols, 50, listener);
    await wait_for('changes', () => symbols.every((s) => mirrors.get(s)!.changes >= 10));
    await expect_mirrors_equal_books(r, mirrors);
    reader.stop();
    expect(breaks).toEqual([]);
    for (const s of symbols) expect(mirrors.get(s)!.books).toBe(1);
    expect(r.feed.counters.deltas_out_total).toBe(0);
    expect(r.feed.counters.snapshots_out_total).toBe(0); // a reader's start encodes no Snapshot
    expect(r.feed.counters.bytes_out_total).toBe(0);
    expect(() => r.feed.read_views(['DOGE-USD'], 50, listener)).toThrow(/no symbol DOGE-USD/);
  });

  it('a change log that lost track gives the whole book in the same epoch; an engine restart one in a new epoch', async () => {
    const r = await rig({ conflation_levels_max: 10 });
    const { listener, mirrors, breaks } = mirror_listener();
    const reader = r.feed.read_views(symbols, 200, listener);
    // More than 10 prices change in 200 ms at this rate: whole books, same epoch.
    await wait_for('whole books mid-stream', () => symbols.every((s) => mirrors.get(s)!.books >= 3), 20_000);
    for (const s of symbols) expect(mirrors.get(s)!.epochs.size).toBe(1);
    await r.engine.stop();
    r.engine = await start_engine(r.config, r.bus);
    await wait_for('a new epoch read', () => symbols.every((s) => mirrors.get(s)!.epochs.size === 2), 20_000);
    await expect_mirrors_equal_books(r, mirrors);
    reader.stop();
    expect(breaks).toEqual([]);
  });
});
