// Grouped views end to end (real engine, feed and sockets; the tests'
// independent client decodes with the flatc classes and checks ranges and the
// digest of every frame): with the engine paused, each grouped view is the
// engine's book grouped by the reference rule (bids floored, asks ceiled,
// sizes and orders summed, top `depth`); grouped and ungrouped views of one
// symbol stream side by side on one connection; Resync and Unsubscribe name
// the group; a bad group gets Error 13 and the connection goes on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { start_all, type AllInOne } from '../../src/app.js';
import { connect, type FeedClient, type WebSocketConstructor } from '../../src/client/index.js';
import type { L2Level, L2Snapshot } from '../../src/book/types.js';
import { error_code } from '../../src/wire/codes.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD'];

function grouped(levels: readonly L2Level[], group: number, bid: boolean, depth: number): [number, number, number][] {
  const buckets = new Map<number, [number, number, number]>();
  for (const l of levels) {
    const b = bid ? Math.floor(l.price / group) * group : Math.ceil(l.price / group) * group;
    const acc = buckets.get(b) ?? [b, 0, 0];
    acc[1] += l.size;
    acc[2] += l.orders;
    buckets.set(b, acc);
  }
  const sorted = [...buckets.values()].sort((x, y) => (bid ? y[0] - x[0] : x[0] - y[0]));
  return depth === 0 ? sorted : sorted.slice(0, depth);
}

describe('grouped views', () => {
  let all: AllInOne;
  let sdk: FeedClient | undefined;
  const clients: ProtocolClient[] = [];
  beforeAll(async () => {
    all = await start_all(test_config({ symbols, rate_orders_per_s: 3000 }));
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    sdk?.close();
    await all?.stop();
  });

  it('each grouped view is the engine book grouped by the reference rule, beside the ungrouped one', async () => {
    const c = await ProtocolClient.connect(all.feed_service.url);
    clients.push(c);
    const views = [[10, 25], [0, 100], [50, 7], [0, 1]] as const;
    for (const [depth, group] of views) c.subscribe(symbols, depth, 0, undefined, group);
    // The SDK too: a grouped and an ungrouped view of one symbol, verified frame by frame (digest, ranges).
    sdk = connect(all.feed_service.url, { WebSocket: WebSocket as unknown as WebSocketConstructor, heartbeat_interval_ms: 200 });
    const sdk_errors: string[] = [];
    sdk.on('error', (e) => sdk_errors.push(e.message));
    const sdk_grouped = sdk.subscribe('BTC-USD', { depth: 10, group: 25 });
    const sdk_plain = sdk.subscribe('BTC-USD', { depth: 10 });
    expect(sdk_grouped).not.toBe(sdk_plain);
    expect(() => sdk!.subscribe('BTC-USD', { group: 0 })).toThrow(/group must be an integer from 1 to 1000000/);
    // An interval subscriber of a grouped view: conflated Deltas, same book in the end.
    const slow = await ProtocolClient.connect(all.feed_service.url);
    clients.push(slow);
    slow.subscribe(symbols, 10, 100, undefined, 25);
    await sleep(1500);
    all.engine.pause(600_000);
    await sleep(300);
    const final: Record<string, L2Snapshot> = {};
    for (const s of symbols) final[s] = all.engine.snapshot(s);
    // The full book's view reaches the engine's book, not necessarily its seq (test/helpers/engine_book.ts).
    for (const s of symbols) await wait_for(`${s} full book equal to the engine's at ${final[s].seq}`, () => at_engine_book(c.book(s, 0), final[s])).catch((err: Error) => {
      const seqs: Record<string, unknown> = {};
      for (const sym of symbols) for (const [d, g] of views) seqs[`${sym}|${d}|${g}`] = c.book(sym, d, g)?.seq;
      seqs.engine_now = symbols.map((x) => all.engine.snapshot(x).seq);
      seqs.feed = (all.feed_service.feed as unknown as { slow_consumer_stats(): unknown }).slow_consumer_stats();
      seqs.health = all.feed_service.feed.health();
      throw new Error(`${err.message}; DIAG ${JSON.stringify(seqs)}`);
    });
    // Every other view's last frames, waited for (not a fixed pause: a loaded box delivers them late).
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    await wait_for('every grouped view at the engine\'s grouped book', () => symbols.every((s) => views.every(([depth, group]) => {
      const got = c.sorted(s, depth, group);
      return same(got.bids, grouped(final[s].bids, group, true, depth)) && same(got.asks, grouped(final[s].asks, group, false, depth));
    })));
    for (const s of symbols) {
      for (const [depth, group] of views) {
        const got = c.sorted(s, depth, group);
        expect(got.bids, `${s} depth ${depth} group ${group}`).toEqual(grouped(final[s].bids, group, true, depth));
        expect(got.asks, `${s} depth ${depth} group ${group}`).toEqual(grouped(final[s].asks, group, false, depth));
        expect(c.book(s, depth, group)!.frames.length).toBeGreaterThan(3);
      }
      // Grouping sums: the full grouped book holds every lot of the book.
      const lots = (rows: [number, number, number][]) => rows.reduce((n, r) => n + r[1], 0);
      expect(lots(c.sorted(s, 0, 100).bids)).toBe(final[s].bids.reduce((n, l) => n + l.size, 0));
    }
    expect(c.errors).toEqual([]);
    expect(c.violations).toEqual([]);
    for (const sym of symbols) {
      await wait_for(`interval subscriber of ${sym} at the grouped view's seq`, () => slow.book(sym, 10, 25)?.seq === c.book(sym, 10, 25)!.seq);
      expect(slow.sorted(sym, 10, 25)).toEqual(c.sorted(sym, 10, 25));
      expect(slow.book(sym, 10, 25)!.conflated).toBeGreaterThan(0);
    }
    expect(slow.violations).toEqual([]);
    await wait_for('SDK grouped view at the final seq', () => sdk_grouped.seq === c.book('BTC-USD', 10, 25)!.seq && sdk_grouped.state === 'synced');
    const sdk_levels = (side: readonly L2Level[]) => side.map((l) => [l.price, l.size, l.orders]);
    expect(sdk_levels(sdk_grouped.bids)).toEqual(grouped(final['BTC-USD'].bids, 25, true, 10));
    expect(sdk_levels(sdk_grouped.asks)).toEqual(grouped(final['BTC-USD'].asks, 25, false, 10));
    expect(sdk_grouped.group).toBe(25);
    expect(sdk.counters.resyncs, JSON.stringify(sdk_errors)).toBe(0);

    // Another connection offers the grouped view's position: the feed resumes that view (Status names depth and group).
    const held = c.book('BTC-USD', 10, 25)!;
    const other = await ProtocolClient.connect(all.feed_service.url);
    clients.push(other);
    other.subscribe(['BTC-USD'], 10, 0, { epochs: [held.epoch], seqs: [held.seq] }, 25);
    await wait_for('resume status', () => other.statuses.some((s) => s.resume_depth === 10));
    expect(other.statuses.find((s) => s.resume_depth === 10)).toMatchObject({ symbol: 'BTC-USD', resume: 1, resume_group: 25 });

    // Resync and Unsubscribe name the group.
    const snapshots_before = c.book('BTC-USD', 10, 25)!.snapshots;
    c.resync('BTC-USD', 10, 25);
    await wait_for('resync snapshot of the grouped view', () => c.book('BTC-USD', 10, 25)!.snapshots === snapshots_before + 1);
  });

  it('a bad group gets Error 13 (bad_group); the connection goes on', async () => {
    const c = await ProtocolClient.connect(all.feed_service.url);
    clients.push(c);
    c.subscribe(['BTC-USD'], 10, 0, undefined, 2_000_000);
    await wait_for('error', () => c.errors.length > 0);
    expect(c.errors[0].code).toBe(error_code.bad_group);
    expect(c.errors[0].message).toMatch(/group must be a price bucket of 1 to 1000000 ticks/);
    c.subscribe(['BTC-USD'], 10, 0, undefined, 5);
    await wait_for('grouped snapshot after the error', () => c.book('BTC-USD', 10, 5) !== undefined);
    expect(c.close_code).toBeNull();
  });
});
