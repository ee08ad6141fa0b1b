// Engine → real nats-server → feed → real uWS sockets → an independent
// protocol client (test/helpers/protocol_client.ts). The client rebuilds every
// view from the frames alone and must equal the engine's final book.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsBus } from '../../src/bus/nats_bus.js';
import { FaultBus } from '../helpers/fault_bus.js';
import { start_engine, type EngineHandle } from '../../src/engine/engine.js';
import { start_feed_service, type FeedService } from '../../src/app.js';
import { error_code } from '../../src/wire/codes.js';
import { start_nats_server, type NatsServerHandle } from '../helpers/nats_server.js';
import { at_engine_book } from '../helpers/engine_book.js';
import { ProtocolClient } from '../helpers/protocol_client.js';
import { sleep, test_config, wait_for } from '../helpers/service.js';

const symbols = ['BTC-USD', 'ETH-USD', 'SOL-USD'];
const depths = [10, 50, 0];

function top(levels: { price: number; size: number; orders: number }[], depth: number): [number, number, number][] {
  const list = levels.map((l) => [l.price, l.size, l.orders] as [number, number, number]);
  return depth === 0 ? list : list.slice(0, depth);
}

describe('feed over a real nats-server', () => {
  let nats: NatsServerHandle;
  let engine_bus: NatsBus;
  let feed_bus: NatsBus;
  let feed2_bus: NatsBus;
  let fault_bus: FaultBus;
  let engine: EngineHandle;
  let feed: FeedService;
  let feed2: FeedService;
  const config = test_config({ symbols, rate_orders_per_s: 4000 });

  beforeAll(async () => {
    nats = await start_nats_server();
    const nats_config = test_config({ ...config, nats_url: nats.url });
    engine_bus = await NatsBus.connect({ url: nats.url, name: 'engine', reconnect_wait_ms: 100 });
    feed_bus = await NatsBus.connect({ url: nats.url, name: 'feed', reconnect_wait_ms: 100 });
    feed2_bus = await NatsBus.connect({ url: nats.url, name: 'feed2', reconnect_wait_ms: 100 });
    fault_bus = new FaultBus(feed2_bus);
    engine = await start_engine(nats_config, engine_bus);
    feed = await start_feed_service(nats_config, feed_bus);
    feed2 = await start_feed_service(nats_config, fault_bus);
  });

  afterAll(async () => {
    await feed?.stop();
    await feed2?.stop();
    await engine?.stop();
    await engine_bus?.close();
    await feed_bus?.close();
    await feed2_bus?.close();
    await nats?.stop();
  });

  it('serves every view exactly: contiguous ranges, digest on every frame, equal to the engine at the end', async () => {
    await wait_for('feed live', () => feed.feed.health().ready);
    const client = await ProtocolClient.connect(feed.url);
    for (const depth of depths) client.subscribe(symbols, depth);
    // A second client that joins later, mid-stream: its snapshot must fit the stream too.
    await sleep(400);
    const late = await ProtocolClient.connect(feed.url);
    late.subscribe(symbols, 0);
    // A third on the second feed process (which suffers a dropped batch below).
    const other = await ProtocolClient.connect(feed2.url);
    other.subscribe(symbols, 0);
    // The drop below must come after the subscription's snapshot, or (on a loaded machine) the recovery snapshot is the first one.
    await wait_for('other subscribed', () => symbols.every((s) => other.book(s, 0) !== undefined));

    // Drop exactly one batch of ETH-USD on the second feed's bus: that symbol alone recovers.
    let dropped = false;
    fault_bus.decide = (subject) => {
      if (!dropped && subject.endsWith('.ETH-USD')) {
        dropped = true;
        return 'drop';
      }
      return 'deliver';
    };
    await sleep(1500);
    await engine.stop();
    const final: Record<string, ReturnType<EngineHandle['snapshot']>> = {};
    for (const s of symbols) final[s] = engine.snapshot(s);
    // The full views reach the engine's book, not necessarily its seq (test/helpers/engine_book.ts); every depth is compared below.
    await wait_for('clients reach the engine final books', () => symbols.every((s) => [client, late, other].every((c) => at_engine_book(c.book(s, 0), final[s]))));

    expect(client.violations).toEqual([]);
    expect(late.violations).toEqual([]);
    expect(other.violations).toEqual([]);
    for (const s of symbols) {
      for (const d of depths) {
        const got = client.sorted(s, d);
        expect(got.bids, `${s} depth ${d} bids`).toEqual(top(final[s].bids, d));
        expect(got.asks, `${s} depth ${d} asks`).toEqual(top(final[s].asks, d));
        expect(client.book(s, d)!.deltas).toBeGreaterThan(0);
      }
      expect(late.sorted(s, 0)).toEqual(client.sorted(s, 0));
      // Two feed processes on one NATS serve identical books.
      expect(other.sorted(s, 0)).toEqual(client.sorted(s, 0));
    }
    expect(client.book('BTC-USD', 0)!.trades_listed).toBeGreaterThan(0);
    // The drop made ETH-USD (and only it) recover on the second feed.
    expect(dropped).toBe(true);
    const st = feed2.feed.stats() as { symbols: Record<string, { recoveries: number; gaps: number; rebuilds_continued: number }> };
    expect(st.symbols['ETH-USD'].gaps).toBe(1);
    expect(st.symbols['ETH-USD'].recoveries).toBe(1);
    expect(st.symbols['BTC-USD'].recoveries).toBe(0);
    expect(st.symbols['SOL-USD'].recoveries).toBe(0);
    // Rebuilt within the epoch: the view continued with one Delta, the difference (PROTOCOL.md §5.5), no second Snapshot.
    expect(st.symbols['ETH-USD'].rebuilds_continued).toBe(1);
    expect(other.book('ETH-USD', 0)!.snapshots).toBe(1);
    expect(other.book('BTC-USD', 0)!.snapshots).toBe(1);
    for (const c of [client, late, other]) c.close();
  });

  it('answers malformed, oversized, text and absurd frames with Error frames and keeps serving', async () => {
    const c = await ProtocolClient.connect(feed.url);
    c.send_raw(new Uint8Array([1, 2, 3]));
    c.send_raw(new Uint8Array(config.inbound_frame_bytes_max + 10));
    c.send_raw('hello');
    c.subscribe(['NOPE'], 10);
    c.subscribe(['BTC-USD'], 7);
    c.resync('SOL-USD', 10);
    await wait_for('6 errors', () => c.errors.length >= 6);
    const codes = c.errors.map((e) => e.code).sort((a, b) => a - b);
    expect(codes).toEqual([error_code.bad_frame, error_code.frame_too_large, error_code.unknown_symbol, error_code.bad_depth,
      error_code.not_subscribed, error_code.text_frame].sort((a, b) => a - b));
    // still serving: a valid subscribe gets its snapshot
    c.subscribe(['BTC-USD'], 10);
    await wait_for('snapshot after errors', () => c.book('BTC-USD', 10) !== undefined);
    expect(c.close_code).toBeNull();
    c.close();
  });

  it('exposes health, stats and Prometheus metrics', async () => {
    const base = `http://127.0.0.1:${feed.server.port}`;
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const stats = await (await fetch(`${base}/stats`)).json() as {
      symbols: Record<string, { state: string }>;
      latency_us: Record<'since_start' | 'last_10s' | 'last_1m', { hops: Record<string, { count: number }> }>;
    };
    expect(Object.keys(stats.symbols).sort()).toEqual([...symbols].sort());
    expect(stats.latency_us.since_start.hops.engine_to_send.count).toBeGreaterThan(0);
    expect(Object.keys(stats.latency_us.last_1m.hops)).toContain('engine_to_send');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/depthcast_latency_seconds_bucket\{hop="engine_to_send",le="0.025"\} [1-9]/);
    expect(metrics).toMatch(/depthcast_connections_opened_total \d+/);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
