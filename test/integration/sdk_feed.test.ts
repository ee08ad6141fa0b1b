// The SDK (src/client) against the real feed: engine + embedded bus + uWS feed
// in-process, SDK clients over real sockets. Every view the SDK keeps must end
// equal to the engine's book, synced, with no verification failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { start_all, type AllInOne } from '../../src/app.js';
import { connect, type FeedClient, type WebSocketConstructor } from '../../src/client/index.js';
import { client_latency } from '../../src/client/latency.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { test_config, wait_for, sleep } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD'];

describe('SDK against the real feed', () => {
  let all: AllInOne;
  let client: FeedClient;

  beforeAll(async () => {
    all = await start_all(test_config({ symbols, rate_orders_per_s: 3000 }));
    await wait_for('feed live', () => all.feed_service.feed.health().ready);
  });

  afterAll(async () => {
    client?.close();
    await all?.stop();
  });

  it('keeps every view exact and synced, records latency, and equals the engine at the end', async () => {
    const hops = client_latency();
    client = connect(all.feed_service.url, { WebSocket: WebSocket as unknown as WebSocketConstructor, heartbeat_interval_ms: 200, hops });
    const books = symbols.flatMap((s) => [10, 50, 0].map((depth) => client.subscribe(s, { depth })));
    await wait_for('all views synced', () => books.every((b) => b.state === 'synced'));
    await sleep(1000);
    await all.engine.stop();
    const final = Object.fromEntries(symbols.map((s) => [s, all.engine.snapshot(s)]));
    // Every view, each at its depth: a fixed pause after the full views would race the others' last frames on a loaded box.
    await wait_for('every view at the final books', () => books.every((b) => at_engine_book(b, final[b.symbol], b.depth)));
    for (const b of books) {
      const want = final[b.symbol];
      const n = b.depth === 0 ? Infinity : b.depth;
      expect(b.bids.map((l) => [l.price, l.size, l.orders]), `${b.symbol}/${b.depth} bids`).toEqual(want.bids.slice(0, n).map((l) => [l.price, l.size, l.orders]));
      expect(b.asks.map((l) => [l.price, l.size, l.orders]), `${b.symbol}/${b.depth} asks`).toEqual(want.asks.slice(0, n).map((l) => [l.price, l.size, l.orders]));
      expect(b.state).toBe('synced');
    }
    const c = client.counters;
    expect(c.digest_mismatches).toBe(0);
    expect(c.range_breaks).toBe(0);
    expect(c.crossed_books).toBe(0);
    expect(c.resyncs).toBe(0);
    expect(c.deltas).toBeGreaterThan(0);
    expect(c.trades).toBeGreaterThan(0);
    expect(hops.percentiles('engine_to_receive').count).toBeGreaterThan(0);
    const rtt_ns = await client.ping();
    expect(rtt_ns).toBeGreaterThan(0);
  });
});
